"""Brunner et al. (2018)'s syntax prototypes: 13 sentence templates plus the empty sentence.

Brunner, Wang, Wattenhofer & Weigelt (2018), Sec. 4.1: each prototype is "randomly populated by
common English words 100 times"; K-means with K = 14 on the sentences' representations, and the
clustering error of the best of 100 runs measures how well representations separate syntax.
Placeholders: +N a singular noun, +Ns a plural noun, +V a base verb, +Vs a 3rd-person -s verb,
+Ving an -ing verb, +A an adjective, +D an adverb. Here they are filled from the multitask lexicon
(`disentax.data.text.grammar`), the words `MultitaskText` is trained on.
"""
from __future__ import annotations

import re

import numpy as np

from disentax.data.text import grammar

__all__ = ["PROTOTYPES", "NUM_PROTOTYPE_CLASSES", "EMPTY_LABEL", "syntax_prototypes", "prototype_regex",
           "fill_prototype"]

PROTOTYPES = (
    "The +N is +A.",
    "The +N +Vs.",
    "The +N has a +N.",
    "The +N +Vs a +N.",
    "The +N +Vs +D.",
    "No +N ever +Vs.",
    "Are +Ns +A?",
    "The +Ns of +N +D +V the +A +N, but some +Ns still +V their +N.",
    "In the +N of a +A +N, the +N will +V the +N of +Ving the +N.",
    "+Ns +V the +A +N of +Ns +Ving on the +N.",
    "In the +N of +N, +Ns would rather +V without +N than +V any +A +Ns.",
    "+N +Vs in order to +V on a +N.",
    "+A +Ns often +V like +Ns.",
)
NUM_PROTOTYPE_CLASSES = len(PROTOTYPES) + 1
EMPTY_LABEL = len(PROTOTYPES)
_SLOT = re.compile(r"\+(Ving|Ns|Vs|N|V|A|D)")
_MAX_CHARS = 95  # MultitaskText.max_chars without the EOS


def _classes():
    lex = grammar.multitask_lexicon()
    return {"N": lex.noun, "Ns": lex.nouns, "V": lex.verb, "Vs": lex.verbs, "Ving": lex.ving,
            "A": lex.adjective, "D": lex.adverb}


def fill_prototype(template: str, rng: np.random.Generator) -> str:
    """`template` with every placeholder replaced by a uniform word of its class, the first letter
    capitalised (a sentence-initial "+Ns" becomes "Dogs")."""
    classes = _classes()
    s = _SLOT.sub(lambda m: classes[m.group(1)][int(rng.integers(len(classes[m.group(1)])))], template)
    return s[:1].upper() + s[1:]


def prototype_regex(template: str) -> re.Pattern:
    """A regular expression matching exactly the fillings of `template` (`fill_prototype`'s
    outputs): each placeholder an alternation of its class's words, a sentence-initial one
    capitalised."""
    classes = _classes()
    parts, last = [], 0
    for m in _SLOT.finditer(template):
        parts.append(re.escape(template[last:m.start()]))
        words = classes[m.group(1)]
        if m.start() == 0:
            words = [w[:1].upper() + w[1:] for w in words]
        parts.append("(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")")
        last = m.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts) + r"\Z")


def syntax_prototypes(seed: int = 0, per_template: int = 100) -> tuple[list[str], np.ndarray]:
    """(sentences, labels [14 * per_template] int32): `per_template` random fillings of each of
    Brunner et al. (2018)'s 13 prototypes (label = its index in `PROTOTYPES`), then `per_template`
    empty sentences "" (label 13), in label order. Fillings longer than MultitaskText's 95
    characters are redrawn (so all encode with `MultitaskText.encode_sentences`); fillings may
    repeat, as with random words in the paper."""
    rng = np.random.default_rng(seed)
    sentences, labels = [], []
    for label, template in enumerate(PROTOTYPES):
        for _ in range(per_template):
            while True:
                s = fill_prototype(template, rng)
                if len(s) <= _MAX_CHARS:
                    break
            sentences.append(s)
            labels.append(label)
    sentences += [""] * per_template
    labels += [EMPTY_LABEL] * per_template
    return sentences, np.asarray(labels, np.int32)
