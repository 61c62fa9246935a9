"""A user's plain-text corpus as the arrays of the text datasets.

`load_text_corpus(path)` reads one sentence per line, or `label<TAB>sentence` lines, and encodes
them at the word level (tokens of `vocab.tokenize`: words and punctuation marks) or the character
level into `tokens` [N, L] (symbols, EOS, PAD) and `length` [N] (with the EOS), the layout of
`SentimentText` / `MultitaskText`.
"""
from __future__ import annotations

import collections
import os

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.text.vocab import Vocabulary, tokenize

__all__ = ["TextCorpus", "load_text_corpus", "read_lines"]


def read_lines(path, labelled: bool | None = None) -> tuple[list[str], list[str] | None]:
    """(sentences, labels or None) of a text file, blank lines skipped. `labelled=None` decides
    from the file: labelled when every non-blank line has a TAB (the label is what precedes the
    first TAB). `labelled=True` with a line without a TAB raises ValueError."""
    with open(os.fspath(path), encoding="utf-8") as f:
        lines = [ln.rstrip("\r\n") for ln in f]
    lines = [ln for ln in lines if ln.strip()]
    if labelled is None:
        labelled = bool(lines) and all("\t" in ln for ln in lines)
    if not labelled:
        return [ln.strip() for ln in lines], None
    sentences, labels = [], []
    for n, ln in enumerate(lines):
        if "\t" not in ln:
            raise ValueError(f"{path}: line {n + 1} has no TAB between a label and a sentence: {ln!r}")
        label, sentence = ln.split("\t", 1)
        labels.append(label.strip())
        sentences.append(sentence.strip())
    return sentences, labels


class TextCorpus:
    """An encoded plain-text corpus: `vocab`, `max_length`, `sentences` (kept ones), `labels`
    (int32 [N] or None) with `label_names` (label i is `label_names[i]`), `dropped` (sentences
    longer than `max_length - 1` symbols, left out), and `arrays` {"tokens", "length"[, "label"]}
    of numpy arrays. `sample(key, n)` draws rows on device like the procedural datasets."""

    on_host = False

    def __init__(self, sentences, labels, label_names, vocab: Vocabulary, max_length: int, dropped: int,
                 level: str, lowercase: bool):
        self.sentences = sentences
        self.label_names = label_names
        self.vocab = vocab
        self.max_length = max_length
        self.dropped = dropped
        self.level = level
        self.lowercase = lowercase
        tokens, length = vocab.encode_batch([self._symbols(s) for s in sentences], max_length)
        self.arrays = {"tokens": tokens, "length": length}
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        if self.labels is not None:
            self.arrays["label"] = self.labels
        self._device = None

    def __repr__(self) -> str:
        return (f"TextCorpus({len(self.sentences)} sentences, {self.level} level, vocab={self.vocab.size}, "
                f"max_length={self.max_length})")

    def _symbols(self, sentence: str) -> list[str]:
        if self.lowercase:
            sentence = sentence.lower()
        return list(sentence) if self.level == "char" else tokenize(sentence)

    @property
    def num_examples(self) -> int:
        return len(self.sentences)

    def split_arrays(self, split: str = "train") -> dict:
        """The corpus's arrays (a user's file is one split; `split` is accepted for symmetry)."""
        return self.arrays

    def encode(self, sentences) -> tuple[np.ndarray, np.ndarray]:
        """(tokens [N, max_length], lengths [N]) of other sentences with this corpus's vocabulary."""
        return self.vocab.encode_batch([self._symbols(s) for s in sentences], self.max_length)

    def sample(self, key, n: int) -> dict:
        """n rows uniform with replacement, on device (jit-able; `n` static)."""
        if self._device is None:
            self._device = {k: jnp.asarray(v) for k, v in self.arrays.items()}
        idx = jax.random.randint(key, (int(n),), 0, self.num_examples, dtype=jnp.int32)
        return {k: v[idx] for k, v in self._device.items()}


def load_text_corpus(path, vocab: Vocabulary | None = None, *, level: str = "word", max_length: int | None = None,
                     lowercase: bool = True, min_count: int = 1, labelled: bool | None = None,
                     max_vocab: int | None = None) -> TextCorpus:
    """A plain-text corpus file as a `TextCorpus`.

    One sentence per line, or `label<TAB>sentence` per line (`labelled=None`: detected when every
    non-blank line has a TAB). Word level splits sentences with `vocab.tokenize`, char level into
    characters; `lowercase` lower-cases first. The vocabulary is `vocab` when given (other symbols
    become UNK), else built from the file's kept sentences: symbols seen at least `min_count` times, most frequent
    first (ties in order of first appearance), at most `max_vocab` of them. `max_length` (with the
    EOS) defaults to the longest sentence + 1; longer sentences are dropped and counted in
    `dropped`. Labels that are all integers keep their values (`label_names` = their strings in
    numeric order, label i meaning `label_names[i]` only when they are 0..K-1); other labels are
    numbered in sorted order.
    """
    if level not in ("word", "char"):
        raise ValueError(f"level must be 'word' or 'char', got {level!r}")
    sentences, raw_labels = read_lines(path, labelled)

    def symbols(s):
        s = s.lower() if lowercase else s
        return list(s) if level == "char" else tokenize(s)

    split = [symbols(s) for s in sentences]
    if max_length is None:
        max_length = max((len(ws) for ws in split), default=0) + 1
    keep = [i for i, ws in enumerate(split) if len(ws) + 1 <= max_length]
    if vocab is None:  # from the kept sentences only
        kept_split = [split[i] for i in keep]
        counts = collections.Counter(w for ws in kept_split for w in ws)
        first: dict[str, int] = {}
        for ws in kept_split:
            for w in ws:
                first.setdefault(w, len(first))
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], first[w]))
        if max_vocab is not None:
            kept = kept[:max_vocab]
        vocab = Vocabulary(kept, level=level)
    labels = names = None
    if raw_labels is not None:
        raw = [raw_labels[i] for i in keep]
        try:
            values = [int(x) for x in raw]
            labels = values
            names = [str(v) for v in sorted(set(values))]
        except ValueError:
            names = sorted(set(raw))
            index = {n: i for i, n in enumerate(names)}
            labels = [index[x] for x in raw]
    return TextCorpus([sentences[i] for i in keep], labels, names, vocab, int(max_length),
                      len(sentences) - len(keep), level, lowercase)
