"""Vocabularies: words (or characters, or part-of-speech tags) <-> integer ids.

Ids 0-3 are reserved in every vocabulary: `PAD = 0` (after the end of a sentence), `BOS = 1` (the
decoder's first input), `EOS = 2` (ends every encoded sentence), `UNK = 3` (a symbol the vocabulary
does not hold). A sentence array row is `ids(words) + [EOS] + [PAD] * ...`, and its length counts
the EOS, the convention of every text dataset and model in disentax.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

__all__ = ["Vocabulary", "PAD", "BOS", "EOS", "UNK", "SPECIALS", "tokenize", "join_words"]

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

# Words (with an inner apostrophe, "don't") and single punctuation marks are tokens.
_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")
_NO_SPACE_BEFORE = frozenset(",.?!;:")


def tokenize(sentence: str) -> list[str]:
    """Split a sentence into word and punctuation tokens ("The dog, too." -> The / dog / , / too / .)."""
    return _TOKEN.findall(sentence)


def join_words(words: Sequence[str]) -> str:
    """The inverse of `tokenize` for the corpora here: words joined by spaces, no space before ,.?!;:"""
    s = " ".join(words)
    for mark in _NO_SPACE_BEFORE:
        s = s.replace(" " + mark, mark)
    return s


class Vocabulary:
    """An ordered set of symbols with the four reserved ids first.

    `separator` joins decoded symbols: " " for words and tags, "" for characters (`level="char"`,
    where `encode` of a string splits it into characters rather than words).
    """

    PAD, BOS, EOS, UNK = PAD, BOS, EOS, UNK

    def __init__(self, symbols: Iterable[str], level: str = "word"):
        if level not in ("word", "char"):
            raise ValueError(f"level must be 'word' or 'char', got {level!r}")
        self.level = level
        self.separator = "" if level == "char" else " "
        words = list(SPECIALS)
        seen = set(words)
        for s in symbols:
            if s not in seen:
                seen.add(s)
                words.append(s)
        self.words: list[str] = words
        self._ids = {w: i for i, w in enumerate(words)}

    def __repr__(self) -> str:
        return f"Vocabulary({self.size} {self.level}s)"

    def __len__(self) -> int:
        return self.size

    def __contains__(self, word: str) -> bool:
        return word in self._ids

    @property
    def size(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        """The id of `word`, `UNK` if it is not in the vocabulary."""
        return self._ids.get(word, UNK)

    def encode(self, words, eos: bool = False) -> list[int]:
        """Ids of `words` (a list of symbols, or a string: split into words with `tokenize`, or into
        characters at the char level); `eos=True` appends the EOS."""
        if isinstance(words, str):
            words = list(words) if self.level == "char" else tokenize(words)
        ids = [self._ids.get(w, UNK) for w in words]
        return ids + [EOS] if eos else ids

    def decode(self, ids) -> str:
        """The text of `ids`: stops at the first EOS, skips PAD and BOS. Words are joined as
        `join_words` does (no space before punctuation), characters with nothing."""
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.words[i] if 0 <= i < self.size else SPECIALS[UNK])
        return "".join(out) if self.level == "char" else join_words(out)

    def decode_words(self, ids) -> list[str]:
        """The symbols of `ids` up to the first EOS, PAD and BOS skipped."""
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.words[i] if 0 <= i < self.size else SPECIALS[UNK])
        return out

    def encode_batch(self, sentences, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids [N, max_length] int32: symbols, EOS, PAD; lengths [N] int32 counting the EOS).
        A sentence with more than `max_length - 1` symbols raises ValueError."""
        rows = [self.encode(s, eos=True) for s in sentences]
        out = np.zeros((len(rows), max_length), np.int32)
        lengths = np.zeros(len(rows), np.int32)
        for n, r in enumerate(rows):
            if len(r) > max_length:
                raise ValueError(f"sentence {n} has {len(r)} symbols with its EOS, more than max_length "
                                 f"{max_length}: {sentences[n]!r}")
            out[n, :len(r)] = r
            lengths[n] = len(r)
        return out, lengths
