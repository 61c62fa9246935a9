"""The text data: vocabularies, the procedural corpora re-parsed word by word against the lexicon
(attributes, counterparts, nouns, tags, translations), Brunner et al.'s prototypes against a
regular expression per template, the plain-text loaders, splits and jit-able sampling."""
import re

import jax
import numpy as np
import pytest

from disentax.data import registry
from disentax.data.text import (
    EMPTY_LABEL,
    PROTOTYPES,
    MultitaskText,
    SentimentText,
    Vocabulary,
    grammar,
    load_text_corpus,
    prototype_regex,
    syntax_prototypes,
)
from disentax.data.text.corpus import CORPUS_SEED, multitask_splits, sentiment_splits
from disentax.data.text.vocab import BOS, EOS, PAD, UNK, join_words, tokenize


@pytest.fixture(scope="module")
def sent():
    return SentimentText()


@pytest.fixture(scope="module")
def multi():
    return MultitaskText()


# Word lists written out from the grammar's tables, independent of the lexicon's id arrays.
POSITIVE, NEGATIVE, OPPOSITE = set(), set(), {}
for _pairs in [grammar.GENERIC_ADJECTIVES, grammar.POLAR_ADVERBS, *grammar.TOPIC_ADJECTIVES.values(),
               [(p[0], n[0]) for p, n in grammar.POLAR_VERBS], [(p[1], n[1]) for p, n in grammar.POLAR_VERBS]]:
    for _p, _n in _pairs:
        POSITIVE.add(_p)
        NEGATIVE.add(_n)
        OPPOSITE[_p], OPPOSITE[_n] = _n, _p
NOUN_TOPIC = {n: k for k, t in enumerate(grammar.TOPICS) for n in grammar.TOPIC_NOUNS[t]}
PRESENT = {"is", "are"} | {p[0] for pair in grammar.POLAR_VERBS for p in pair} | {
    v[0] for vs in grammar.NEUTRAL_VERBS.values() for v in vs}
PAST = {"was", "were"} | {p[1] for pair in grammar.POLAR_VERBS for p in pair} | {
    v[1] for vs in grammar.NEUTRAL_VERBS.values() for v in vs}
TOPIC_WORDS = [set(grammar.TOPIC_NOUNS[t]) | {w for p in grammar.TOPIC_ADJECTIVES[t] for w in p}
               | {w for v in grammar.NEUTRAL_VERBS[t] for w in v} for t in grammar.TOPICS]


def _template_regex(template: str) -> re.Pattern:
    alt = lambda ws: "(?:" + "|".join(sorted(ws, key=len, reverse=True)) + ")"
    slots = {"N": alt(NOUN_TOPIC), "A": alt(POSITIVE | NEGATIVE), "J": alt(grammar.NEUTRAL_ADJECTIVES),
             "V": alt(p for pair in grammar.POLAR_VERBS for f in pair for p in f),
             "U": alt(w for vs in grammar.NEUTRAL_VERBS.values() for v in vs for w in v),
             "D": alt(w for p in grammar.POLAR_ADVERBS for w in p), "I": alt(grammar.INTENSIFIERS),
             "P": alt(grammar.PRONOUNS), "B": "(?:is|was)", "R": "(?:are|were)"}
    return re.compile(" ".join(slots.get(w, re.escape(w)) for w in template.split()) + r"\Z")


TEMPLATE_RE = [_template_regex(t) for t in grammar.SENTIMENT_TEMPLATES]


# ----------------------------------------------------------------------------- vocabulary


def test_vocabulary_round_trip_and_reserved_ids():
    v = Vocabulary(["the", "dog", "runs", "dog", ","])
    assert (v.PAD, v.BOS, v.EOS, v.UNK) == (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    assert v.size == 8 and v.words[4:] == ["the", "dog", "runs", ","]
    ids = v.encode("the dog, the dog runs")
    assert ids == [4, 5, 7, 4, 5, 6]
    assert v.decode(ids) == "the dog, the dog runs"
    assert v.decode([BOS, 4, PAD, 5, EOS, 6, 6]) == "the dog"  # BOS / PAD skipped, stops at EOS
    assert v.encode(["cat"], eos=True) == [UNK, EOS] and v.id("cat") == UNK
    tokens, lengths = v.encode_batch(["the dog", "runs"], 5)
    np.testing.assert_array_equal(tokens, [[4, 5, EOS, 0, 0], [6, EOS, 0, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 2])
    with pytest.raises(ValueError, match="more than max_length"):
        v.encode_batch(["the dog runs the dog"], 5)
    c = Vocabulary("abc ", level="char")
    assert c.decode(c.encode("cab a", eos=True)) == "cab a"
    assert tokenize("The dog, too.") == ["The", "dog", ",", "too", "."]
    assert join_words(tokenize("Is it red, or not?")) == "Is it red, or not?"


# ----------------------------------------------------------------------------- sentiment corpus


def test_sentiment_corpus_is_deterministic_and_splits_are_right(sent):
    sizes = tuple(sent.sizes.items())
    a, b = sentiment_splits.__wrapped__(CORPUS_SEED, sizes), sentiment_splits(CORPUS_SEED, sizes)
    for split in ("train", "judge", "test"):
        for k in a[split]:
            np.testing.assert_array_equal(a[split][k], b[split][k])
        assert len(a[split]["tokens"]) == {"train": 40_000, "judge": 10_000, "test": 2_000}[split]
    other = sentiment_splits.__wrapped__(CORPUS_SEED + 1, sizes)["test"]["tokens"]
    assert not np.array_equal(other, a["test"]["tokens"])
    train = set(sent.split_sentences("train"))
    judge = set(sent.split_sentences("judge"))
    test = sent.split_sentences("test")
    assert len(set(test)) == len(test) and not (set(test) & train) and not (set(test) & judge)
    with pytest.raises(ValueError, match="unknown split"):
        sent.split_arrays("valid")


def test_sentiment_attributes_re_parsed_from_the_strings(sent):
    checked = 0
    for split, rows in (("test", slice(None)), ("train", slice(0, 3000)), ("judge", slice(0, 1000))):
        arr = sent.split_arrays(split)
        for i, text in enumerate(sent.split_sentences(split)[rows]):
            words = text.split()
            assert len(words) + 1 == arr["length"][i] <= sent.max_length
            pos_words = [w for w in words if w in POSITIVE]
            neg_words = [w for w in words if w in NEGATIVE]
            assert (bool(pos_words), bool(neg_words)) == ((True, False) if arr["sentiment"][i] else (False, True))
            nouns = [w for w in words if w in NOUN_TOPIC]
            assert nouns and {NOUN_TOPIC[n] for n in nouns} == {arr["topic"][i]}
            assert len(set(nouns)) == len(nouns)  # a template's nouns are distinct
            for w in words:  # every topic word is of the sentence's topic
                assert not any(w in TOPIC_WORDS[k] for k in range(3) if k != arr["topic"][i])
            tensed = [w for w in words if w in PRESENT | PAST]
            assert tensed and all((w in PAST) == bool(arr["tense"][i]) for w in tensed)
            assert TEMPLATE_RE[arr["template"][i]].match(text), text
            checked += 1
    assert checked == 6000


def test_sentiment_attributes_are_balanced(sent):
    # uniform and independent draws: every count within 4.5 binomial standard deviations
    arr = sent.split_arrays("train")
    n = len(arr["tokens"])
    cells = arr["sentiment"] * 6 + arr["topic"] * 2 + arr["tense"]
    for values, k in ((arr["sentiment"], 2), (arr["topic"], 3), (arr["tense"], 2),
                      (arr["template"], len(grammar.SENTIMENT_TEMPLATES)), (cells, 12)):
        counts = np.bincount(values, minlength=k)
        assert len(counts) == k
        assert np.all(np.abs(counts - n / k) < 4.5 * np.sqrt(n / k * (1 - 1 / k))), counts


def test_counterpart_flips_exactly_the_polar_words(sent):
    arr = sent.split_arrays("test")
    np.testing.assert_array_equal(sent.counterpart(arr["tokens"]), arr["counterpart"])
    for i in range(len(arr["tokens"])):
        src = sent.vocab.decode(arr["tokens"][i]).split()
        dst = sent.vocab.decode(arr["counterpart"][i]).split()
        assert len(src) == len(dst)
        assert dst == [OPPOSITE.get(w, w) for w in src]
        assert TEMPLATE_RE[arr["template"][i]].match(" ".join(dst))
    np.testing.assert_array_equal(sent.sentiment_of(arr["counterpart"]), 1 - arr["sentiment"])
    np.testing.assert_array_equal(sent.sentiment_of(arr["tokens"]), arr["sentiment"])
    assert sent.nouns_of(arr["counterpart"]) == sent.nouns_of(arr["tokens"])
    np.testing.assert_array_equal(sent.counterpart(arr["counterpart"]), arr["tokens"])  # an involution


def test_sentiment_of_hand_written_sentences(sent):
    cases = {"the pizza was great": 1, "i hated the film": 0, "the phone was new": -1,
             "the soup was good but the bread was stale": -1, "we adore this sturdy phone": 1,
             "the battery is horribly slow": 0, "the zebra was marvellous": -1, "": -1}
    tokens, _ = sent.encode(list(cases))
    np.testing.assert_array_equal(sent.sentiment_of(tokens), list(cases.values()))
    # words after the EOS do not count; rows without an EOS are read whole
    row = np.array(sent.vocab.encode("the cake was bad", eos=True) + [sent.vocab.id("great")] * 3)
    assert sent.sentiment_of(row)[0] == 0
    assert sent.sentiment_of(np.array([sent.vocab.encode("the cake was great")]))[0] == 1
    assert sent.sentiment_of(np.array([[10_000, -5, EOS]]))[0] == -1  # out-of-vocabulary ids are neutral
    assert [sorted(sent.vocab.words[i] for i in s) for s in sent.nouns_of(tokens)][:4] == [
        ["pizza"], ["film"], ["phone"], ["bread", "soup"]]


def test_noun_mask_and_tags_against_the_lexicon(sent):
    arr = sent.split_arrays("judge")
    expected_tag = {**{w: "JJ" for w in POSITIVE | NEGATIVE if w not in PRESENT | PAST and not w.endswith("ly")},
                    **{w: "RB" for w in POSITIVE | NEGATIVE if w.endswith("ly")},
                    **{n: "NN" for n in NOUN_TOPIC}, "the": "DT", "this": "DT", "and": "CC", "but": "CC",
                    "is": "VBZ", "are": "VBP", "was": "VBD", "were": "VBD", "made": "VBN"}
    expected_tag.update({w: "VBP" for w in PRESENT - {"is", "are"}})
    expected_tag.update({w: "VBD" for w in PAST - {"was", "were"}})
    for i in range(2000):
        n = arr["length"][i]
        for j in range(sent.max_length):
            w = sent.vocab.words[arr["tokens"][i, j]]
            assert arr["noun_mask"][i, j] == (j < n - 1 and w in NOUN_TOPIC)
            tag = sent.tags.words[arr["pos"][i, j]]
            if j < n - 1:
                assert tag == expected_tag.get(w, tag) and tag not in ("<pad>", "<eos>")
            else:
                assert tag == ("<eos>" if j == n - 1 else "<pad>")
                assert arr["tokens"][i, j] == (EOS if j == n - 1 else PAD)
    np.testing.assert_array_equal(sent.noun_mask(arr["tokens"]), arr["noun_mask"])


# ----------------------------------------------------------------------------- multitask corpus


def test_multitask_corpus_is_deterministic_and_test_is_not_in_train(multi):
    small = (("train", 400), ("test", 100))
    a, b = multitask_splits.__wrapped__(7, small), multitask_splits.__wrapped__(7, small)
    for split in a:
        for k in a[split]:
            np.testing.assert_array_equal(a[split][k], b[split][k])
    assert not np.array_equal(multitask_splits.__wrapped__(8, small)["test"]["chars"], a["test"]["chars"])
    train, test = set(multi.split_sentences("train")), multi.split_sentences("test")
    assert len(multi.split_arrays("train")["chars"]) == 40_000 and len(test) == 2_000
    assert len(set(test)) == len(test) and not (set(test) & train)


def test_multitask_rows_re_parsed(multi):
    lex = multi.lexicon
    arr = multi.split_arrays("train")
    for i in range(1500):
        text = multi.chars.decode(arr["chars"][i])
        assert len(text) + 1 == arr["char_length"][i] <= multi.max_chars
        assert text[0].isupper() and text[-1] in ".?"
        words = [w.lower() for w in tokenize(text)]
        assert words == multi.words.decode_words(arr["words"][i])
        tags = multi.tags.decode_words(arr["pos"][i])
        assert len(tags) == len(words) == arr["pos_length"][i] - 1 < multi.max_words
        assert arr["pos"][i, len(tags)] == EOS and not arr["pos"][i, len(tags) + 1:].any()
        for w, t in zip(words, tags):
            assert t in lex.tags_of[w], (w, t)
        for lang in ("de", "fr"):
            expected = grammar.render(grammar.translate(words, tags, lang))
            assert multi.chars.decode(arr[lang][i]) == expected
            assert arr[f"{lang}_length"][i] == len(expected) + 1 <= multi.max_chars
    # agreement: a sentence-initial determiner + noun is followed by its verb form
    for i in range(1500):
        tags = multi.tags.decode_words(arr["pos"][i])
        if tags[:3] in (["DT", "NN", "VBZ"], ["DT", "NNS", "VBZ"]):
            assert tags[1] == "NN"


def test_multitask_grammar_covers_the_prototype_constructions(multi):
    text = " ".join(multi.split_sentences("train")[:20_000]).lower()
    for phrase in (" in order to ", " would rather ", " than ", " ever ", "?", ", but ", " of ", " often ",
                   " like ", " will ", " are ", " has ", "ing "):
        assert phrase in text, phrase
    tags = multi.split_arrays("train")["pos"][:5000]
    for tag in ("NN", "NNS", "VB", "VBP", "VBZ", "VBG", "JJ", "RB", "MD", "IN", "TO"):
        assert (tags == multi.tags.id(tag)).any(), tag


def test_toy_translations_follow_the_reordering_rules():
    m = {lang: grammar.word_map(lang) for lang in grammar.LANGUAGES}
    words = "the dog will see the red cat , but some big cats often watch birds .".split()
    tags = "DT NN MD VB DT JJ NN , CC DT JJ NNS RB VBP NNS .".split()
    de = grammar.translate(words, tags, "de")
    assert de == [m["de"][w] for w in
                  "the dog the red cat will see , but some big cats often birds watch .".split()]
    fr = grammar.translate(words, tags, "fr")
    assert fr == [m["fr"][w] for w in
                  "the dog will see the cat red , but some cats big often watch birds .".split()]
    # predicative adjectives stay; "than" is a clause boundary in de
    assert grammar.reorder("the cats are red .".split(), "DT NNS VBP JJ .".split(), "fr") == [0, 1, 2, 3, 4]
    w2, t2 = "we would rather see dogs than hold cats .".split(), "PRP MD RB VB NNS IN VB NNS .".split()
    assert [w2[i] for i in grammar.reorder(w2, t2, "de")] == "we rather dogs would see than cats hold .".split()
    for lang in grammar.LANGUAGES:  # the word maps are injective, invented and keep punctuation
        values = list(m[lang].values())
        assert len(set(values)) == len(values)
        assert m[lang]["."] == "." and m[lang]["?"] == "?" and m[lang]["dog"] != "dog"
    assert MultitaskText().translate("The dog will see the red cat.", "fr") == grammar.render(
        [m["fr"][w] for w in "the dog will see the cat red .".split()])


def test_translations_invert_exactly_with_their_order(multi):
    arr = multi.split_arrays("test")
    for i in range(500):
        words = multi.words.decode_words(arr["words"][i])
        tags = multi.tags.decode_words(arr["pos"][i])
        for lang in grammar.LANGUAGES:
            order = grammar.reorder(words, tags, lang)
            assert sorted(order) == list(range(len(words)))
            assert grammar.untranslate(grammar.translate(words, tags, lang), order, lang) == words


# ----------------------------------------------------------------------------- prototypes


def test_syntax_prototypes_match_their_templates(multi):
    sentences, labels = syntax_prototypes(3, per_template=20)
    assert len(sentences) == 14 * 20 and labels.shape == (280,) and labels.dtype == np.int32
    np.testing.assert_array_equal(labels, np.repeat(np.arange(14), 20))
    assert syntax_prototypes(3, per_template=20)[0] == sentences
    assert syntax_prototypes(4, per_template=20)[0] != sentences
    regexes = [prototype_regex(t) for t in PROTOTYPES]
    for s, label in zip(sentences, labels):
        if label == EMPTY_LABEL:
            assert s == ""
            continue
        assert [k for k, r in enumerate(regexes) if r.match(s)] == [label], s
        assert all(w.lower() in multi.lexicon.tags_of for w in tokenize(s))
    assert regexes[0].match("The dog is happy.") and not regexes[0].match("The dogs is happy.")
    assert regexes[12].match("Wild cats often pull like dogs.") and not regexes[12].match("wild cats often pull like dogs.")
    chars, lengths = multi.encode_sentences(sentences)
    assert chars.shape == (280, 96)
    for s, row, n in zip(sentences, chars, lengths):
        assert n == len(s) + 1 and row[n - 1] == EOS and multi.chars.decode(row) == s
    with pytest.raises(ValueError, match="characters"):
        multi.encode_sentences(["x" * 96])


# ----------------------------------------------------------------------------- loaders


def test_load_text_corpus(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("The cat sat.\n\nthe dog sat on the cat\n" + "a " * 30 + "\n")
    c = load_text_corpus(plain, max_length=10)
    assert c.dropped == 1 and c.labels is None and c.sentences == ["The cat sat.", "the dog sat on the cat"]
    assert c.vocab.words[4:7] == ["the", "cat", "sat"]  # most frequent first
    assert [c.vocab.decode(r) for r in c.arrays["tokens"]] == ["the cat sat.", "the dog sat on the cat"]
    np.testing.assert_array_equal(c.arrays["length"], [5, 7])
    assert c.arrays["tokens"].shape == (2, 10)
    labelled = tmp_path / "labelled.txt"
    labelled.write_text("pos\tGreat food!\nneg\tbad food\npos\tgreat\n")
    d = load_text_corpus(labelled, vocab=c.vocab)
    assert d.label_names == ["neg", "pos"] and d.labels.tolist() == [1, 0, 1]
    assert d.arrays["tokens"][0].tolist() == [UNK, UNK, UNK, EOS] and d.max_length == 4
    numeric = tmp_path / "numeric.txt"
    numeric.write_text("1\tab\n0\tb\n")
    e = load_text_corpus(numeric, level="char")
    assert e.labels.tolist() == [1, 0] and e.vocab.decode(e.arrays["tokens"][0]) == "ab"
    batch = e.sample(jax.random.PRNGKey(0), 4)
    assert set(batch) == {"tokens", "length", "label"} and batch["tokens"].shape == (4, 3)
    with pytest.raises(ValueError, match="no TAB"):
        load_text_corpus(plain, labelled=True)


# ----------------------------------------------------------------------------- sampling and registry


def test_sample_is_jitable_and_equals_eager(sent, multi):
    key = jax.random.PRNGKey(3)
    for ds, keys in ((sent, {"tokens", "length", "sentiment", "topic", "tense", "noun_mask", "pos"}),
                     (multi, {"chars", "char_length", "de", "de_length", "fr", "fr_length", "pos", "pos_length"})):
        eager = ds.sample(key, 16)
        jitted = jax.jit(lambda k, ds=ds: ds.sample(k, 16))(key)
        assert keys <= set(eager) and set(eager) == set(jitted)
        for k in eager:
            np.testing.assert_array_equal(np.asarray(eager[k]), np.asarray(jitted[k]))
            assert eager[k].dtype == (bool if k == "noun_mask" else np.int32)
        # the rows are rows of the training split
        train = ds.split_arrays("train")
        first = "tokens" if ds is sent else "chars"
        rows = {r.tobytes() for r in train[first]}
        assert all(np.asarray(r).tobytes() in rows for r in eager[first])
    with pytest.raises(ValueError, match="positive python int"):
        sent.sample(key, 0)


def test_registered():
    assert isinstance(registry.get_dataset("sentiment_text"), SentimentText)
    assert isinstance(registry.get_dataset("multitask_text"), MultitaskText)
    assert registry.describe("sentiment_text") and registry.describe("multitask_text")
    ds = registry.get_dataset("sentiment_text")
    assert ds.attributes == {"sentiment": 2, "topic": 3, "tense": 2} and ds.max_length == 16 and not ds.on_host
