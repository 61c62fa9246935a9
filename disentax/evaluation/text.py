"""Automatic evaluation of sentence attribute transfer: judges, BLEU, content, perplexities.

The text-transfer papers score a transfer function x ↦ x̂ (change one attribute of a sentence, keep
the rest) with four automatic measures (Zhao et al. (2018), Sec. 4 and Table 1; Melnyk et al.
(2018), Sec. 4 and Table 1):

* transfer accuracy: the fraction of outputs that a held-out attribute classifier assigns the
  target value (Zhao et al. use fastText, Melnyk et al. a pre-trained CNN with 97.4 % accuracy on
  Yelp). Here a Kim (2014) CNN (`CNNClassifier`) trained on the corpus's `"judge"` split, which no
  method sees. On the procedural corpus the attribute of an output is also known exactly from the
  polar lexicon (`dataset.sentiment_of`): `exact_transfer` reports it next to the judge;
* BLEU of the outputs against their sources (Zhao et al.: how much of the sentence survives), and
  here also against the exact counterparts the corpus knows (the same sentence, polarity flipped),
  with sacrebleu (Post, 2018);
* content: the fraction of outputs that keep at least one noun of their source (Melnyk et al.
  (2018), Sec. 4), exact here because the corpus marks its content nouns;
* perplexity of the outputs under a language model trained on real sentences (fluency; Melnyk et
  al.'s LM has perplexity 23.5 on real Yelp text), and reverse perplexity: an LM trained on the
  outputs, evaluated on real sentences (Zhao et al. (2018), footnote 1: how well the outputs cover
  the real distribution).

The judges are trained once per process and cached (`attribute_judge`, `language_model`); the
report carries their own quality on the real test split so a reader can tell a weak judge from a
weak method. Training follows `disentax.evaluation.classifiers`: Adam on fresh minibatches drawn
from a key, so a judge is a pure function of the corpus and its seed.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from disentax.metrics.chunked import apply_in_chunks
from disentax.models.sequence import CNNClassifier, LanguageModel, teacher_inputs
from disentax.objectives.text import EOS, length_mask, sequence_nll, token_nll

__all__ = [
    "TextJudge",
    "TrainedLM",
    "attribute_judge",
    "bleu",
    "content_preservation",
    "language_model",
    "reverse_perplexity",
    "train_language_model",
    "transfer_report",
]

# Defaults sized for a CPU. Measured on `sentiment_text` (2 shared cores): the sentiment judge
# reaches 100 % test accuracy in 1,500 steps (13 s; already at 100 steps), the LM a real-test
# perplexity of 5.58 in 2,000 steps (45 s; 6.45 at 500, 5.96 at 1,000, still falling).
JUDGE_STEPS = 1500
LM_STEPS = 2000
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
# The transfer function is called on at most this many sentences at a time (memory of a decoder).
MAX_CHUNK = 500
# Melnyk et al. (2018), Table 1 caption: their judges' quality on real Yelp text.
PAPER_JUDGE_ACCURACY = 0.974
PAPER_LM_PERPLEXITY = 23.5


# ----------------------------------------------------------------------------- BLEU and content


def bleu(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], *,
         tokenize: str = "13a") -> float:
    """Corpus BLEU (0–100) of `hypotheses` against `references` (Papineni et al. (2002); sacrebleu, Post (2018)).

        BLEU = 100 · BP · exp((1/4) Σ_{n=1..4} log p_n),   BP = min(1, exp(1 − r/c))

    where p_n is the clipped n-gram precision pooled over the corpus (matches of each hypothesis
    n-gram counted at most as often as it occurs in the reference), c the total hypothesis length
    and r the total reference length, after sacrebleu's "13a" tokenisation (mixed case, sacrebleu's
    default "exp" smoothing, which only acts when some p_n has no match). `references` is one
    string per hypothesis, or a list of reference streams (sacrebleu's layout: each stream one
    string per hypothesis) for several references each. Pooled over the corpus, a set of short
    sentences still has 4-grams to match; a single sentence of fewer than 4 words scores 0.
    """
    import sacrebleu

    hypotheses = [str(h) for h in hypotheses]
    if not hypotheses:
        raise ValueError("bleu: hypotheses must be a non-empty list of strings")
    if isinstance(references, str) or not len(references):
        raise ValueError("bleu: references must be a non-empty list of strings (or of reference streams)")
    streams = [list(references)] if isinstance(references[0], str) else [list(s) for s in references]
    for s in streams:
        if len(s) != len(hypotheses):
            raise ValueError(f"bleu: every reference stream needs one string per hypothesis ({len(hypotheses)}), "
                             f"got {len(s)}")
    return float(sacrebleu.metrics.BLEU(tokenize=tokenize).corpus_score(hypotheses, streams).score)


def _cut_at_eos(tokens: np.ndarray) -> np.ndarray:
    """Tokens with everything from the first EOS on replaced by -1 (never a word id)."""
    after = np.cumsum(tokens == EOS, axis=1) > 0
    return np.where(after, -1, tokens)


def content_preservation(source: Any, output: Any, noun_mask: Any) -> dict:
    """How many of each source sentence's content nouns its transfer keeps (Melnyk et al. (2018), Sec. 4).

    With S_i the set of noun ids at the marked positions of source i and O_i the set of token ids of
    output i before its first EOS:

        nouns_kept    = Σ_i |S_i ∩ O_i| / Σ_i |S_i|
        any_noun_kept = (1/|I|) Σ_{i ∈ I} [|S_i ∩ O_i| ≥ 1],   I = {i : S_i ≠ ∅}

    `any_noun_kept` is Melnyk et al.'s "content": the fraction of transferred sentences containing
    at least one noun of the original. Choices: a noun counts once per sentence however often it
    occurs, anywhere in the output (word order is BLEU's business); `nouns_kept` pools the nouns of
    all sentences (a sentence with more nouns weighs more); sentences without nouns are left out of
    both (they have nothing to keep) and counted in `sentences_without_nouns`. NaN if no sentence
    has a noun.

    Args:
      source: int [N, L] source tokens.
      output: int [N, L'] transferred tokens (any L').
      noun_mask: bool [N, L] the positions of content nouns in `source`.
    """
    source, output, noun_mask = np.asarray(source), np.asarray(output), np.asarray(noun_mask, dtype=bool)
    if source.ndim != 2 or noun_mask.shape != source.shape:
        raise ValueError(f"content_preservation: source and noun_mask must both be [N, L], got {source.shape} "
                         f"and {noun_mask.shape}")
    if output.ndim != 2 or output.shape[0] != source.shape[0]:
        raise ValueError(f"content_preservation: output must be [N = {source.shape[0]}, L'], got {output.shape}")
    out = _cut_at_eos(output)
    kept_total = nouns_total = sentences = with_any = 0
    for src, mask, o in zip(source, noun_mask, out):
        nouns = set(src[mask].tolist())
        if not nouns:
            continue
        kept = len(nouns & set(o.tolist()))
        kept_total += kept
        nouns_total += len(nouns)
        sentences += 1
        with_any += kept > 0
    return {"nouns_kept": kept_total / nouns_total if nouns_total else float("nan"),
            "any_noun_kept": with_any / sentences if sentences else float("nan"),
            "sentences_without_nouns": int(source.shape[0] - sentences)}


# ----------------------------------------------------------------------------- training the judges


def _lengths_np(tokens: np.ndarray) -> np.ndarray:
    """First EOS + 1, or L without an EOS (the convention of `disentax.objectives.text.lengths_of`)."""
    is_eos = tokens == EOS
    return np.where(is_eos.any(axis=1), is_eos.argmax(axis=1) + 1, tokens.shape[1]).astype(np.int32)


def _check_tokens(tokens, lengths, what: str) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"{what}: tokens must be an integer array [N, L], got {tokens.dtype} {tokens.shape}")
    lengths = _lengths_np(tokens) if lengths is None else np.asarray(lengths)
    if lengths.shape != (tokens.shape[0],):
        raise ValueError(f"{what}: lengths must be [N] = [{tokens.shape[0]}], got {lengths.shape}")
    return tokens.astype(np.int32), np.clip(lengths, 1, tokens.shape[1]).astype(np.int32)


def _fit(loss_fn: Callable, params, arrays: dict, key, steps: int, batch_size: int, learning_rate: float):
    """Adam on `steps` minibatches of rows of `arrays`, drawn uniformly with replacement from `key`.

    `loss_fn(params, batch, key)` gets a fresh key per step (dropout). The rows are gathered on the
    host and the jitted step sees fixed shapes, so one compilation serves every corpus of the same
    sentence length (the judge split, generated sentences).
    """
    steps, batch_size = int(steps), int(batch_size)
    if steps < 1 or batch_size < 1:
        raise ValueError(f"training a judge needs steps >= 1 and batch_size >= 1, got {steps} and {batch_size}")
    tx = optax.adam(learning_rate)

    @jax.jit
    def step(p, o, batch, k):
        loss, g = jax.value_and_grad(loss_fn)(p, batch, k)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss

    n = next(iter(arrays.values())).shape[0]
    k_rows, k_steps = jax.random.split(key)
    rows = np.asarray(jax.random.randint(k_rows, (steps, batch_size), 0, n))
    opt_state, losses = tx.init(params), []
    # A Python loop over one jitted step (as disentax.evaluation.classifiers): convolutions ran far
    # slower inside a lax.scan's while loop on XLA:CPU.
    for idx, k in zip(rows, jax.random.split(k_steps, steps)):
        params, opt_state, loss = step(params, opt_state, {name: v[idx] for name, v in arrays.items()}, k)
        losses.append(loss)
    final = float(jnp.mean(jnp.stack(losses[-max(1, steps // 10):])))
    return params, final


@dataclasses.dataclass(frozen=True, eq=False)
class TextJudge:
    """A trained attribute classifier of sentences: `predict(tokens, lengths)` the most probable value.

    `accuracy_on(split)` is its accuracy on one of the dataset's splits (its quality as a judge);
    `final_loss` the mean training loss of the last tenth of the steps; `train_seconds` its
    training time (wall clock, compilation included).
    """

    model: CNNClassifier
    params: Any
    dataset: Any
    attribute: str
    steps: int
    seed: int
    final_loss: float
    train_seconds: float
    chunk: int = 1024

    def __post_init__(self):
        object.__setattr__(self, "_apply", jax.jit(lambda p, x, n: jax.nn.softmax(self.model.apply({"params": p}, x, n))))

    def probabilities(self, tokens, lengths=None) -> np.ndarray:
        """Softmax over the attribute's values, [N, num_classes] (lengths default to first EOS + 1)."""
        tokens, lengths = _check_tokens(tokens, lengths, "TextJudge")
        return apply_in_chunks(functools.partial(self._apply, self.params), tokens, lengths, chunk=self.chunk,
                               host=True)

    def predict(self, tokens, lengths=None) -> np.ndarray:
        """The judged attribute value of each sentence, int [N]."""
        return self.probabilities(tokens, lengths).argmax(-1).astype(np.int32)

    def accuracy_on(self, split: str = "test") -> float:
        """Fraction of the dataset's `split` sentences judged with their true attribute value."""
        a = self.dataset.split_arrays(split)
        return float(np.mean(self.predict(a["tokens"], a["length"]) == np.asarray(a[self.attribute])))


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedLM:
    """A trained word-level language model: `perplexity(tokens, lengths)` and per-sentence NLLs."""

    model: LanguageModel
    params: Any
    steps: int
    seed: int
    final_loss: float
    train_seconds: float
    chunk: int = 1024

    def __post_init__(self):
        def nll(p, tokens, lengths):
            token = token_nll(self.model.apply({"params": p}, teacher_inputs(tokens)), tokens)
            return jnp.where(length_mask(lengths, tokens.shape[1]), token, 0.0).sum(axis=1)

        object.__setattr__(self, "_nll", jax.jit(nll))

    def sentence_nll(self, tokens, lengths=None) -> np.ndarray:
        """−log p(x) of each sentence in nats, summed over its `length` real tokens (EOS included), [N]."""
        tokens, lengths = _check_tokens(tokens, lengths, "TrainedLM")
        nll = apply_in_chunks(functools.partial(self._nll, self.params), tokens, lengths, chunk=self.chunk, host=True)
        return nll.astype(np.float64)

    def perplexity(self, tokens, lengths=None) -> float:
        """Per-token perplexity exp(Σ_i −log p(x_i) / Σ_i |x_i|), the EOS counted as a token.

        Pooled over all tokens of the corpus (the usual corpus perplexity of language models), not
        a mean of per-sentence perplexities. Lengths default to first EOS + 1.
        """
        tokens, lengths = _check_tokens(tokens, lengths, "TrainedLM")
        return float(np.exp(self.sentence_nll(tokens, lengths).sum() / lengths.sum()))


def train_language_model(key, tokens, lengths, vocab_size: int, *, steps: int = LM_STEPS,
                         batch_size: int = BATCH_SIZE, learning_rate: float = LEARNING_RATE, seed: int = 0,
                         embed_dim: int = 128, hidden: int = 256) -> TrainedLM:
    """A `LanguageModel` fitted to sentences by maximum likelihood (teacher forcing, Adam).

        min_θ E_x [ −Σ_{t ≤ |x|} log p_θ(x_t | x_<t) ]   (`disentax.objectives.text.sequence_nll`)

    on `steps` minibatches of `batch_size` rows drawn with replacement from `tokens` [N, L]
    (`lengths` [N]). `seed` is only recorded.
    """
    tokens, lengths = _check_tokens(tokens, lengths, "train_language_model")
    model = LanguageModel(int(vocab_size), embed_dim=int(embed_dim), hidden=int(hidden))
    k_init, k_data = jax.random.split(key)
    params = model.init(k_init, teacher_inputs(jnp.asarray(tokens[:1])))["params"]

    def loss_fn(p, batch, _):
        logits = model.apply({"params": p}, teacher_inputs(batch["tokens"]))
        return sequence_nll(logits, batch["tokens"], batch["length"])[0]

    start = time.perf_counter()
    params, final = _fit(loss_fn, params, {"tokens": tokens, "length": lengths}, k_data, steps, batch_size,
                         learning_rate)
    return TrainedLM(model=model, params=params, steps=int(steps), seed=int(seed), final_loss=final,
                     train_seconds=time.perf_counter() - start)


class _Corpus:
    """A dataset as a cache key: equal when the split it is trained on holds the same sentences.

    Datasets need not be hashable, and two instances of the same corpus should share one judge; the
    fingerprint (the type and a digest of the split's arrays) says exactly what a judge depends on.
    """

    def __init__(self, dataset, split: str, keys: Sequence[str]):
        self.dataset = dataset
        arrays = dataset.split_arrays(split)
        digest = hashlib.sha256()
        for k in keys:
            a = np.ascontiguousarray(arrays[k])
            digest.update(f"{k}{a.dtype}{a.shape}".encode())
            digest.update(a.tobytes())
        self.key = (type(dataset).__module__, type(dataset).__qualname__, split, digest.hexdigest())

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Corpus) and self.key == other.key


@functools.lru_cache(maxsize=16)
def _judge(corpus: _Corpus, attribute: str, steps: int, seed: int, batch_size: int) -> TextJudge:
    dataset = corpus.dataset
    a = dataset.split_arrays("judge")
    tokens, lengths = _check_tokens(a["tokens"], a["length"], "attribute_judge")
    model = CNNClassifier(int(dataset.vocab.size), int(dataset.attributes[attribute]))
    k_init, k_data = jax.random.split(jax.random.PRNGKey(seed))
    params = model.init(k_init, jnp.asarray(tokens[:1]), jnp.asarray(lengths[:1]))["params"]

    def loss_fn(p, batch, k):
        logits = model.apply({"params": p}, batch["tokens"], batch["length"], train=True, rngs={"dropout": k})
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]))

    start = time.perf_counter()
    arrays = {"tokens": tokens, "length": lengths, "label": np.asarray(a[attribute], dtype=np.int32)}
    params, final = _fit(loss_fn, params, arrays, k_data, steps, batch_size, LEARNING_RATE)
    return TextJudge(model=model, params=params, dataset=dataset, attribute=attribute, steps=steps, seed=seed,
                     final_loss=final, train_seconds=time.perf_counter() - start)


def attribute_judge(dataset, attribute: str = "sentiment", steps: int = JUDGE_STEPS, seed: int = 0, *,
                    batch_size: int = BATCH_SIZE) -> TextJudge:
    """The held-out attribute classifier that judges transfers (Melnyk et al. (2018), Sec. 4; Zhao et al. (2018)).

    A Kim (2014) CNN sentence classifier (`disentax.models.sequence.CNNClassifier`) trained on the
    dataset's `"judge"` split, which no method trains on, by minimising the softmax cross-entropy

        min_θ E_{(x, y) ~ judge} [ −log softmax(f_θ(x))_y ]

    with Adam (learning rate 1e-3) on `steps` minibatches of `batch_size` sentences drawn with
    replacement from `jax.random.PRNGKey(seed)`, dropout 0.5 on the pooled features while training
    (Kim (2014), the classifier's default). Trained once per process for each (corpus,
    attribute, steps, seed, batch size) and cached: the ARAE row and the autoencoder row of one
    table are judged by the same network. Zhao et al. use fastText and Melnyk et al. a CNN; a CNN
    here keeps the judge inside JAX, and its test accuracy (`accuracy_on("test")`, reported by
    `transfer_report`) says how far it can be trusted.
    """
    attributes = dict(getattr(dataset, "attributes", {}))
    if attribute not in attributes:
        raise ValueError(f"attribute_judge: attribute must be one of {sorted(attributes)}, got {attribute!r}")
    corpus = _Corpus(dataset, "judge", ("tokens", "length", attribute))
    return _judge(corpus, attribute, int(steps), int(seed), int(batch_size))


@functools.lru_cache(maxsize=8)
def _lm(corpus: _Corpus, steps: int, seed: int, batch_size: int) -> TrainedLM:
    a = corpus.dataset.split_arrays("judge")
    return train_language_model(jax.random.PRNGKey(seed), a["tokens"], a["length"], corpus.dataset.vocab.size,
                                steps=steps, batch_size=batch_size, seed=seed)


def language_model(dataset, steps: int = LM_STEPS, seed: int = 0, *, batch_size: int = BATCH_SIZE) -> TrainedLM:
    """The language model that scores the fluency of transfers (Zhao et al. (2018); Melnyk et al. (2018)).

    A GRU `LanguageModel` trained on the real sentences of the dataset's `"judge"` split by
    `train_language_model` (Adam 1e-3, `steps` minibatches of `batch_size`, key
    `jax.random.PRNGKey(seed)`); cached per process like `attribute_judge`. `perplexity(tokens,
    lengths)` of the real test split is its own quality (Melnyk et al.'s is 23.5 on Yelp).
    """
    corpus = _Corpus(dataset, "judge", ("tokens", "length"))
    return _lm(corpus, int(steps), int(seed), int(batch_size))


def reverse_perplexity(key, generated_tokens, generated_lengths, dataset, steps: int = LM_STEPS, *,
                       batch_size: int = BATCH_SIZE, split: str = "test", rows: Any = None) -> float:
    """Reverse perplexity (Zhao et al. (2018), Sec. 4, footnote 1): an LM trained on generated text, scored on real text.

        rPPL = exp( Σ_{x ∈ real} −log p_gen(x) / Σ_{x ∈ real} |x| ),   p_gen = LM fitted to the generated sentences

    Low when the generated sentences cover the real distribution (a model that repeats a few
    sentences gives an LM that finds the real ones unlikely). The LM is `train_language_model` on
    `generated_tokens` [N, L] / `generated_lengths` [N] (None: first EOS + 1) for `steps` steps from
    `key`, the real sentences the dataset's `split` (default `"test"`), or only its `rows` (indices)
    when given. Not cached: it depends on the generated sentences.

    The real sentences should be ones the generator did not start from: an LM trained on a copy of
    its sources finds those sources likely, so scoring on them rewards copying
    (`transfer_report` scores on the test sentences it did not transfer).
    """
    lm = train_language_model(key, generated_tokens, generated_lengths, dataset.vocab.size, steps=steps,
                              batch_size=batch_size)
    real = dataset.split_arrays(split)
    tokens, lengths = np.asarray(real["tokens"]), np.asarray(real["length"])
    if rows is not None:
        tokens, lengths = tokens[np.asarray(rows)], lengths[np.asarray(rows)]
    return lm.perplexity(tokens, lengths)


# ----------------------------------------------------------------------------- the report


def _call_transfer(transfer: Callable, tokens, lengths, target, chunk: int, max_length: int) -> np.ndarray:
    parts = []
    for i in range(0, tokens.shape[0], chunk):
        out = np.asarray(transfer(jnp.asarray(tokens[i:i + chunk]), jnp.asarray(lengths[i:i + chunk]),
                                  jnp.asarray(target[i:i + chunk])))
        if out.ndim != 2 or out.shape[0] != min(chunk, tokens.shape[0] - i) or not np.issubdtype(out.dtype,
                                                                                                 np.integer):
            raise ValueError(f"transfer_report: transfer must return integer tokens [n, L], got {out.dtype} "
                             f"{out.shape} for n = {min(chunk, tokens.shape[0] - i)}")
        parts.append(out.astype(np.int32))
    width = max(max_length, *(p.shape[1] for p in parts))
    return np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in parts], 0)


def transfer_report(key, transfer: Callable, dataset, *, target: str | int = "flip", num: int = 1000,
                    judge_steps: int = JUDGE_STEPS, lm_steps: int = LM_STEPS, reverse_steps: int | None = None,
                    seed: int = 0, chunk: int = MAX_CHUNK, examples: int = 5) -> dict:
    """The automatic Table-1 row of a sentiment transfer (Zhao et al. (2018), Table 1; Melnyk et al. (2018), Table 1).

    `transfer(tokens [n, L], lengths [n], target_sentiment [n]) -> tokens [n, L']` is called on `num`
    sentences of the dataset's `"test"` split (chosen without replacement from `key`), in chunks
    of at most `chunk` (≤ 500) sentences, with jax arrays; it may return any integer array [n, L']. `target="flip"` asks for the opposite sentiment of each
    source; 0 or 1 asks every sentence for that value. With ŷ the target and x̂ the outputs
    (their lengths: first EOS + 1):

    * `transfer_accuracy` = mean [judge(x̂) = ŷ] (the judge of `attribute_judge`, `judge_steps`);
    * `exact_transfer` = mean [sentiment_of(x̂) = ŷ] (the polar lexicon: exact on this corpus);
    * `bleu_source` = BLEU(x̂, x) and `bleu_reference` = BLEU(x̂, x*) with x* the exact counterpart
      (the source itself where ŷ is already its sentiment), on `dataset.vocab.decode` strings;
    * `nouns_kept`, `any_noun_kept`: `content_preservation` of the source nouns;
    * `perplexity`: the `language_model` (`lm_steps`) on x̂; `reverse_perplexity`: an LM trained on
      x̂ for `reverse_steps` (default `lm_steps`; 0 skips it and reports None), scored on the real
      test sentences that were not transferred (`reverse_real` says which and how many; with
      `num` the whole test split, the judge split, which never shares a sentence with it): scoring
      on the sources themselves would reward a copy;
    * the judges' own quality: `judge_accuracy` (the judge on the whole real test split) and
      `lm_perplexity_real` (the LM on it), next to Melnyk et al.'s (2018) 0.974 and 23.5
      (`paper_judge_accuracy`, `paper_lm_perplexity`), and their training times;
    * `examples`: the first `examples` (source, output) pairs as strings.

    Fractions are in [0, 1], BLEU in [0, 100]. Everything is JSON-able.
    """
    if target != "flip" and target not in (0, 1):
        raise ValueError(f"transfer_report: target must be 'flip', 0 or 1, got {target!r}")
    chunk = int(chunk)
    if not 1 <= chunk <= MAX_CHUNK:
        raise ValueError(f"transfer_report: chunk must be in [1, {MAX_CHUNK}], got {chunk}")
    test = dataset.split_arrays("test")
    total = int(np.asarray(test["tokens"]).shape[0])
    num = int(num)
    if not 1 <= num <= total:
        raise ValueError(f"transfer_report: num must be in [1, {total}] (the test split), got {num}")
    k_pick, k_reverse = jax.random.split(key)
    pick = np.sort(np.asarray(jax.random.choice(k_pick, total, (num,), replace=False)))
    src = np.asarray(test["tokens"])[pick].astype(np.int32)
    src_len = np.asarray(test["length"])[pick].astype(np.int32)
    sentiment = np.asarray(test["sentiment"])[pick].astype(np.int32)
    counterpart = np.asarray(test["counterpart"])[pick].astype(np.int32)
    noun_mask = np.asarray(test["noun_mask"])[pick]
    goal = 1 - sentiment if target == "flip" else np.full_like(sentiment, int(target))

    out = _call_transfer(transfer, src, src_len, goal, chunk, int(dataset.max_length))
    out_len = _lengths_np(out)
    judge = attribute_judge(dataset, "sentiment", judge_steps, seed)
    lm = language_model(dataset, lm_steps, seed)

    decode = dataset.vocab.decode
    hyp = [decode(row.tolist()) for row in out]
    source_text = [decode(row.tolist()) for row in src]
    reference = np.where((goal != sentiment)[:, None], counterpart, src)
    reference_text = [decode(row.tolist()) for row in reference]
    content = content_preservation(src, out, noun_mask)
    reverse_steps = lm_steps if reverse_steps is None else int(reverse_steps)
    rest = np.setdiff1d(np.arange(total), pick)
    reverse_split, reverse_rows = ("test", rest) if rest.size else ("judge", None)
    reverse = (reverse_perplexity(k_reverse, out, out_len, dataset, reverse_steps, split=reverse_split,
                                  rows=reverse_rows) if reverse_steps > 0 else None)
    reverse_real = (f"{rest.size} test sentences not transferred" if rest.size else
                    f"the judge split ({np.asarray(dataset.split_arrays('judge')['tokens']).shape[0]} sentences)")
    return {
        "num": num,
        "target": target,
        "transfer_accuracy": float(np.mean(judge.predict(out, out_len) == goal)),
        "exact_transfer": float(np.mean(np.asarray(dataset.sentiment_of(out)) == goal)),
        "bleu_source": bleu(hyp, source_text),
        "bleu_reference": bleu(hyp, reference_text),
        "nouns_kept": content["nouns_kept"],
        "any_noun_kept": content["any_noun_kept"],
        "perplexity": lm.perplexity(out, out_len),
        "reverse_perplexity": reverse,
        "reverse_real": reverse_real,
        "judge_accuracy": judge.accuracy_on("test"),
        "lm_perplexity_real": lm.perplexity(test["tokens"], test["length"]),
        "paper_judge_accuracy": PAPER_JUDGE_ACCURACY,
        "paper_lm_perplexity": PAPER_LM_PERPLEXITY,
        "judge_steps": judge.steps,
        "lm_steps": lm.steps,
        "reverse_steps": reverse_steps,
        "judge_train_seconds": judge.train_seconds,
        "lm_train_seconds": lm.train_seconds,
        "examples": [[source_text[i], hyp[i]] for i in range(min(int(examples), num))],
    }
