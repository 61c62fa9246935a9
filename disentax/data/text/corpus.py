"""The procedural text datasets: `SentimentText` (word level, attributes) and `MultitaskText`
(character level, with toy translations and part-of-speech tags).

Both corpora are generated from a corpus seed (a numpy Generator, independent of the run seed) on
first use and cached per process; the training split is held as device arrays and `sample(key, n)`
draws rows uniformly with replacement (jit-able, `n` static). Held-out splits are disjoint from the
training split as strings: no test sentence occurs in "train" (nor in "judge").
"""
from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.text import grammar
from disentax.data.text.vocab import EOS, PAD, Vocabulary, tokenize

__all__ = ["CORPUS_SEED", "SENTIMENT_SIZES", "MULTITASK_SIZES", "SentimentText", "MultitaskText",
           "char_vocabulary", "before_eos"]

CORPUS_SEED = 2018
SENTIMENT_SIZES = {"train": 40_000, "judge": 10_000, "test": 2_000}
MULTITASK_SIZES = {"train": 40_000, "test": 2_000}
# The test split is drawn first and the other splits reject its sentences.
_HELD_OUT_FIRST = ("test",)
_DISTINCT = frozenset("NA")  # slots whose repeats in a template draw distinct words
_CHARS = " ,.?!;:'-" + "abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "0123456789"


def _count(n) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive python int (static under jit), got {n!r}")
    return int(n)


def before_eos(tokens) -> np.ndarray:
    """bool [N, L]: the positions before each row's first EOS (the whole row if it has none)."""
    tokens = np.asarray(tokens)
    return np.cumsum(tokens == EOS, axis=-1) == 0


def _split_order(sizes: dict) -> list[str]:
    return [s for s in _HELD_OUT_FIRST if s in sizes] + [s for s in sizes if s not in _HELD_OUT_FIRST]


def _check_split(split, sizes):
    if split not in sizes:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(sizes)}")


# ============================================================================ SentimentText


def _sentiment_rows(lex: grammar.SentimentLexicon, rng: np.random.Generator, template, sentiment, topic,
                    tense) -> np.ndarray:
    """tokens [n, 16] (words, EOS, PAD) of sentences with the given template, sentiment, topic and
    tense ids [n].

    Each slot's word is a uniform draw from its class for the row's topic, sentiment and tense; the
    k-th noun or polar adjective of a template draws among the words of its class not used yet
    (a uniform index among the m - k left, stepped over the ones taken), so "the pizza and the
    pizza" never occurs.
    """
    n = len(template)
    u = rng.random((n, SentimentText.max_length))
    tokens = np.zeros((n, SentimentText.max_length), np.int32)
    tables = _slot_tables(lex)
    for t in range(len(lex.templates)):
        rows = np.flatnonzero(template == t)
        k, s, te = topic[rows], sentiment[rows], tense[rows]
        taken: dict[str, list] = {}
        for j, (word, fixed) in enumerate(zip(lex.templates[t], lex.template_ids[t])):
            if fixed >= 0:
                tokens[rows, j] = fixed
                continue
            table = tables[word]
            prior = taken.setdefault(word, []) if word in _DISTINCT else []
            c = (u[rows, j] * (table.shape[-1] - len(prior))).astype(np.int64)
            for p in (np.sort(np.stack(prior), axis=0) if prior else ()):
                c += c >= p
            prior.append(c)
            tokens[rows, j] = table[k, s, te, c]
        tokens[rows, len(lex.templates[t])] = EOS
    return tokens


@functools.lru_cache(maxsize=None)
def _slot_tables(lex) -> dict:
    # forms[slot][topic][sentiment][tense] as int arrays [3, 2, 2, m] (every slot has the same
    # number of words in every topic, sentiment and tense).
    return {slot: np.array(f, np.int32) for slot, f in lex.forms.items()}


@functools.lru_cache(maxsize=4)
def sentiment_splits(seed: int = CORPUS_SEED, sizes: tuple = tuple(SENTIMENT_SIZES.items())) -> dict:
    """{split: dict of numpy arrays} of the sentiment corpus (cached per process); see
    `SentimentText.split_arrays` for the keys."""
    lex = grammar.sentiment_lexicon()
    sizes = dict(sizes)
    rng = np.random.default_rng(seed)
    length = SentimentText.max_length
    held: set = set()
    out = {}
    for split in _split_order(sizes):
        n = sizes[split]
        template, sentiment, topic, tense = (rng.integers(m, size=n) for m in (len(lex.templates), 2, 3, 2))
        tokens = _sentiment_rows(lex, rng, template, sentiment, topic, tense)
        unique = split == "test"
        while True:
            # A test sentence in another split, or a repeat within the test split, is redrawn with
            # the same template and attributes, so they stay uniform and independent.
            seen, redo = set(), []
            for i, r in enumerate(tokens):
                key = r.tobytes()
                if key in held or (unique and key in seen):
                    redo.append(i)
                seen.add(key)
            if not redo:
                break
            tokens[redo] = _sentiment_rows(lex, rng, template[redo], sentiment[redo], topic[redo], tense[redo])
        if unique:
            held = seen
        template, sentiment, topic, tense = (a.astype(np.int32) for a in (template, sentiment, topic, tense))
        lengths = (np.argmax(tokens == EOS, axis=1) + 1).astype(np.int32)
        inside = before_eos(tokens)
        out[split] = {
            "tokens": tokens, "length": lengths, "sentiment": sentiment, "topic": topic, "tense": tense,
            "noun_mask": lex.is_noun[tokens] & inside,
            "pos": np.where(np.arange(length) < lengths[:, None], lex.pos[tokens], PAD).astype(np.int32),
            "counterpart": lex.opposite[tokens].astype(np.int32),
            "template": template,
        }
    for arrays in out.values():
        for a in arrays.values():
            a.flags.writeable = False  # shared by the cache
    return {s: out[s] for s in sizes}


@functools.lru_cache(maxsize=4)
def _device_train(name: str, seed: int, sizes: tuple, keys: tuple) -> dict:
    arrays = (sentiment_splits if name == "sentiment" else multitask_splits)(seed, sizes)["train"]
    # Concrete device arrays even when the first call is inside a trace (the loop's first batch is
    # drawn under jit): a cached tracer would leak into every later trace.
    with jax.ensure_compile_time_eval():
        return {k: jax.device_put(arrays[k]) for k in keys}


class SentimentText:
    """Procedural review sentences with exact sentiment, topic and tense (word level).

    A stand-in for the Yelp reviews of Zhao et al. (2018), Melnyk et al. (2018) and Larsson et al.
    (2018): 19 templates (`grammar.SENTIMENT_TEMPLATES`: declaratives, "i loved the X", "the X and
    the Y were Z", intensifiers and polar adverbs, "but" with a neutral clause, no negation) over
    three topics with 13 nouns each, polar adjectives / verbs / adverbs in exact (positive,
    negative) pairs, neutral adjectives and verbs, present and past forms. Template, sentiment,
    topic and tense are drawn uniformly and independently, so the attributes are balanced; every
    polar word of a sentence has the sentence's sentiment, every noun and topic adjective / verb
    its topic, every tensed verb its tense.

    Splits (`SENTIMENT_SIZES`): "train" (what the methods train on), "judge" (the evaluation's
    classifier and language model), "test" (what the evaluation transfers). Test sentences are
    unique, and no test sentence occurs in train or judge: a clash is redrawn with the same
    template and attributes, so template, sentiment, topic and tense stay uniform and independent
    in every split (train and judge may repeat sentences and share some).
    `max_length = 16` tokens including the EOS (the longest template has 11 words).
    """

    name = "sentiment_text"
    max_length = 16
    attributes = {"sentiment": 2, "topic": 3, "tense": 2}
    on_host = False
    _sample_keys = ("tokens", "length", "sentiment", "topic", "tense", "noun_mask", "pos")

    def __init__(self, seed: int = CORPUS_SEED, sizes: dict | None = None):
        self.seed = int(seed)
        self.sizes = dict(sizes or SENTIMENT_SIZES)
        self.lexicon = grammar.sentiment_lexicon()
        self.vocab: Vocabulary = self.lexicon.vocab
        self.tags: Vocabulary = grammar.tag_vocabulary()
        self.topics = grammar.TOPICS

    def __repr__(self) -> str:
        return (f"SentimentText(seed={self.seed}, vocab={self.vocab.size}, "
                f"splits={', '.join(f'{k}={v}' for k, v in self.sizes.items())})")

    def split_arrays(self, split: str = "train") -> dict:
        """numpy arrays of a split: "tokens" int32 [N, L] (words, EOS, PAD), "length" [N] (with
        the EOS), "sentiment" / "topic" / "tense" [N], "noun_mask" bool [N, L], "pos" [N, L] (tag
        ids of `tags`, the EOS position tagged EOS, PAD after), "counterpart" [N, L] (the same
        sentence with every polar word swapped for its opposite: same template, nouns and
        length, flipped sentiment) and "template" [N] (index into `grammar.SENTIMENT_TEMPLATES`).
        The arrays are shared by the cache and read-only."""
        _check_split(split, self.sizes)
        return sentiment_splits(self.seed, tuple(self.sizes.items()))[split]

    def split_sentences(self, split: str = "train") -> list[str]:
        """The split's sentences as text."""
        return [self.vocab.decode(r) for r in self.split_arrays(split)["tokens"]]

    @property
    def num_examples(self) -> int:
        return self.sizes["train"]

    def sample(self, key, n: int) -> dict:
        """n training sentences, uniform with replacement, on device (jit-able; `n` static):
        "tokens" int32 [n, L], "length", "sentiment", "topic", "tense" int32 [n], "noun_mask" bool
        [n, L], "pos" int32 [n, L]."""
        n = _count(n)
        arrays = _device_train("sentiment", self.seed, tuple(self.sizes.items()), self._sample_keys)
        idx = jax.random.randint(key, (n,), 0, self.sizes["train"], dtype=jnp.int32)
        return {k: v[idx] for k, v in arrays.items()}

    def sentiment_of(self, tokens) -> np.ndarray:
        """The exact sentiment of each row of `tokens` [N, L] read from the polar lexicon (up to
        the first EOS): 1 if it has positive and no negative words, 0 if negative and no positive
        ones, -1 if none or both. Ids outside the vocabulary count as neutral."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 1:
            tokens = tokens[None]
        inside = before_eos(tokens)
        valid = (tokens >= 0) & (tokens < self.vocab.size)
        pol = np.where(valid & inside, self.lexicon.polarity[np.clip(tokens, 0, self.vocab.size - 1)], 0)
        pos, neg = (pol > 0).any(axis=1), (pol < 0).any(axis=1)
        return np.where(pos & ~neg, 1, np.where(neg & ~pos, 0, -1)).astype(np.int32)

    def nouns_of(self, tokens) -> list[set[int]]:
        """The content-noun ids of each row of `tokens` [N, L] (up to the first EOS)."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 1:
            tokens = tokens[None]
        mask = self.noun_mask(tokens)
        return [set(int(t) for t in row[m]) for row, m in zip(tokens, mask)]

    def noun_mask(self, tokens) -> np.ndarray:
        """bool [N, L]: positions of content nouns before the first EOS."""
        tokens = np.asarray(tokens)
        valid = (tokens >= 0) & (tokens < self.vocab.size)
        return valid & self.lexicon.is_noun[np.clip(tokens, 0, self.vocab.size - 1)] & before_eos(tokens)

    def counterpart(self, tokens) -> np.ndarray:
        """Every polar word of `tokens` swapped for its opposite (the exact sentiment transfer)."""
        tokens = np.asarray(tokens)
        valid = (tokens >= 0) & (tokens < self.vocab.size)
        return np.where(valid, self.lexicon.opposite[np.clip(tokens, 0, self.vocab.size - 1)], tokens)

    def encode(self, sentences) -> tuple[np.ndarray, np.ndarray]:
        """(tokens [N, max_length], lengths [N]) of sentence strings (unknown words -> UNK)."""
        return self.vocab.encode_batch(list(sentences), self.max_length)


# ============================================================================ MultitaskText


@functools.lru_cache(maxsize=None)
def char_vocabulary() -> Vocabulary:
    """Characters of the multitask corpus: space, punctuation, letters, digits."""
    return Vocabulary(_CHARS, level="char")


def _encode_chars(strings: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    vocab = char_vocabulary()
    table = np.full(256, 3, np.int32)  # UNK
    table[0] = PAD
    for c in _CHARS:
        table[ord(c)] = vocab.id(c)
    data = [s.encode("ascii", errors="replace") for s in strings]
    lengths = np.array([len(b) for b in data], np.int32)
    if len(data) and lengths.max() >= width:
        bad = int(np.argmax(lengths >= width))
        raise ValueError(f"sentence {bad} has {lengths[bad] + 1} characters with its EOS, more than "
                         f"{width}: {strings[bad]!r}")
    raw = np.array(data, dtype=f"S{width}").view(np.uint8).reshape(len(data), width)
    ids = table[raw]
    ids[np.arange(len(data)), lengths] = EOS
    return ids.astype(np.int32), lengths + 1


@functools.lru_cache(maxsize=4)
def multitask_splits(seed: int = CORPUS_SEED, sizes: tuple = tuple(MULTITASK_SIZES.items())) -> dict:
    """{split: dict of numpy arrays} of the multitask corpus (cached per process); see
    `MultitaskText.split_arrays` for the keys."""
    lex = grammar.multitask_lexicon()
    tags = grammar.tag_vocabulary()
    maps = {lang: grammar.word_map(lang) for lang in grammar.LANGUAGES}
    sizes = dict(sizes)
    rng = np.random.default_rng(seed)
    max_chars, max_words = MultitaskText.max_chars, MultitaskText.max_words
    draw = grammar.MultitaskGrammar(lex, rng)
    held: set = set()
    out = {}
    for split in _split_order(sizes):
        want = sizes[split]
        unique = split in _HELD_OUT_FIRST
        seen: set = set()
        rows = []
        while len(rows) < want:
            words, tg = draw()
            if len(words) >= max_words:
                continue
            english = grammar.render(words)
            if len(english) >= max_chars or english in held or (unique and english in seen):
                continue
            tr = [grammar.render([maps[lang][words[i]] for i in grammar.reorder(words, tg, lang)])
                  for lang in grammar.LANGUAGES]
            if max(len(t) for t in tr) >= max_chars:
                continue
            seen.add(english)
            rows.append((english, tr, words, tg))
        if unique:
            held |= seen
        n = len(rows)
        arrays = {}
        arrays["chars"], arrays["char_length"] = _encode_chars([r[0] for r in rows], max_chars)
        for j, lang in enumerate(grammar.LANGUAGES):
            arrays[lang], arrays[f"{lang}_length"] = _encode_chars([r[1][j] for r in rows], max_chars)
        word_ids = np.zeros((n, max_words), np.int32)
        pos = np.zeros((n, max_words), np.int32)
        wid, tid = lex.vocab._ids, tags._ids
        for i, (_, _, words, tg) in enumerate(rows):
            word_ids[i, :len(words)] = [wid[w] for w in words]
            pos[i, :len(tg)] = [tid[t] for t in tg]
        pos_length = np.array([len(r[2]) + 1 for r in rows], np.int32)
        word_ids[np.arange(n), pos_length - 1] = EOS
        pos[np.arange(n), pos_length - 1] = EOS
        arrays.update(pos=pos, pos_length=pos_length, words=word_ids)
        out[split] = arrays
    for arrays in out.values():
        for a in arrays.values():
            a.flags.writeable = False  # shared by the cache
    return {s: out[s] for s in sizes}


class MultitaskText:
    """English-like sentences with toy German / French translations and POS tags, character level.

    A stand-in for the Europarl data of Brunner et al. (2018), Sec. 3.3 (English, German and French
    sentences and NLTK tags): sentences of `grammar.generate_multitask_sentence` (varied syntax, not
    the 13 evaluation prototypes as such, over the lexicon that also fills them), "de" and "fr" the
    toy translations of `grammar.translate` (an invented word map plus one reordering rule each:
    de moves the verbs to the clause end, fr puts adjectives after their noun), "pos" one tag per
    word (punctuation marks are words). Sentences whose English or translations need more than
    `max_chars = 96` characters with the EOS, or more than `max_words = 20` words with the EOS,
    are dropped at generation. Splits (`MULTITASK_SIZES`): "train" and "test", no test sentence
    in train.
    """

    name = "multitask_text"
    max_chars = 96
    max_words = 20
    max_length = max_chars
    on_host = False
    _sample_keys = ("chars", "char_length", "de", "de_length", "fr", "fr_length", "pos", "pos_length",
                    "words")

    def __init__(self, seed: int = CORPUS_SEED, sizes: dict | None = None):
        self.seed = int(seed)
        self.sizes = dict(sizes or MULTITASK_SIZES)
        self.lexicon = grammar.multitask_lexicon()
        self.chars: Vocabulary = char_vocabulary()
        self.words: Vocabulary = self.lexicon.vocab
        self.tags: Vocabulary = grammar.tag_vocabulary()
        self.languages = grammar.LANGUAGES

    def __repr__(self) -> str:
        return (f"MultitaskText(seed={self.seed}, chars={self.chars.size}, words={self.words.size}, "
                f"splits={', '.join(f'{k}={v}' for k, v in self.sizes.items())})")

    @property
    def num_examples(self) -> int:
        return self.sizes["train"]

    def split_arrays(self, split: str = "train") -> dict:
        """numpy arrays of a split: "chars" int32 [N, 96] (EOS-terminated, PAD after) and
        "char_length" [N]; "de", "fr" [N, 96] with "de_length", "fr_length"; "pos" [N, 20] (tag
        ids of `tags`, EOS after the last word) with "pos_length" [N] (words + EOS); "words" [N, 20]
        (word ids of `words`, aligned with "pos"). Shared by the cache and read-only."""
        _check_split(split, self.sizes)
        return multitask_splits(self.seed, tuple(self.sizes.items()))[split]

    def split_sentences(self, split: str = "train", language: str = "chars") -> list[str]:
        """The split's sentences as text ("chars" the English, or "de" / "fr")."""
        return [self.chars.decode(r) for r in self.split_arrays(split)[language]]

    def sample(self, key, n: int) -> dict:
        """n training sentences, uniform with replacement, on device (jit-able; `n` static): the
        keys of `split_arrays`."""
        n = _count(n)
        arrays = _device_train("multitask", self.seed, tuple(self.sizes.items()), self._sample_keys)
        idx = jax.random.randint(key, (n,), 0, self.sizes["train"], dtype=jnp.int32)
        return {k: v[idx] for k, v in arrays.items()}

    def encode_sentences(self, sentences, max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(chars int32 [N, max_length], lengths [N] with the EOS) of any sentence texts; the
        default width is `max_chars`, and a longer sentence raises ValueError. Characters outside
        the vocabulary become UNK."""
        return _encode_chars(list(sentences), int(max_length or self.max_chars))

    def translate(self, sentence: str, language: str) -> str:
        """The toy translation of an English sentence of this grammar's words (tags as the grammar
        gives them; for a word with several, the first in `TAGS` order that the lexicon allows)."""
        words = [w.lower() for w in tokenize(sentence)]
        tags = [min(self.lexicon.tags_of[w], key=grammar.TAGS.index) for w in words]
        return grammar.render(grammar.translate(words, tags, language))
