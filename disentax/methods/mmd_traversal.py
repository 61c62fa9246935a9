"""Sentiment manipulation by MMD traversal (Larsson, Nilsson & Kågebäck (2018), "Disentangled
representations for manipulation of sentiment in text"; Eq. 1–2 and Sec. 3).

The model (Sec. 3.1, 3.3), one Flax module `SentimentAutoencoder`:

- a CNN sentence encoder (`CNNSentenceEncoder`): word embeddings of 300 dims, one convolution over
  time with filter heights 1, 2, 3, 4 × 75 filters each, ReLU and max-pooling over the sentence:
  z ∈ R^300, the code;
- a fully connected sentiment classifier on z (one Dense layer, 2 logits);
- a single-layer GRU decoder with state 300 (`RNNDecoder`): its initial state and every input
  step read z, it starts from BOS and, at evaluation, emits the most probable word until EOS
  (greedy decoding).

Training (Sec. 3.1, Fig. 1), both phases in one jitted step (`lax.cond` on the step counter, so a
run resumes exactly across the switch): for the first `autoencoder_steps` steps the encoder and
decoder train as an autoencoder (token cross-entropy of the reconstruction under teacher forcing;
the classifier gets a zero gradient, so Adam leaves it bit for bit as initialised); afterwards all
three train on the unweighted sum of the reconstruction and the classification cross-entropies.

The traversal (Sec. 3.2, after Gardner et al. (2015); `disentax.objectives.mmd`): with source codes
z^s (sentences sharing z's sentiment) and target codes z^t (the opposite sentiment), the witness
f*(z) = (1/m) Σ k(z^s_i, z) − (1/n) Σ k(z^t_i, z) (Eq. 2) with k(x, x') = exp(−|x − x'|²/(2σ)),
z* = z + Vδ, V = [z^t, z^s, z], δ = argmin f*(z + Vδ) + λ‖Vδ‖² by BFGS, λ = 7e-5, and 90 positive
plus 90 negative reference sentences (Sec. 4.1). z* is decoded greedily.

What the paper leaves open or what the corpus forces, chosen here:

- No word2vec offline: both the encoder's and the decoder's embeddings are learned (300 dims, as
  the word2vec rows they stand in for) and not tied to each other (the paper's decoder input
  weights *are* the word2vec table, which the encoder reads too).
- The reconstruction loss is the token cross-entropy summed over a sentence's real tokens (EOS
  included) and averaged over the batch (`objectives.text.sequence_nll`), the classification loss
  the mean cross-entropy; "unweighted sum" adds them as they are.
- Optimiser: Adam at 1e-3 (not stated); batch 64 (Sec. 4: "batches of 64 sentences").
  The paper pretrains on unlabelled IMDB reviews, then trains on labelled sentences; here both
  phases read the training split of `sentiment_text` (the first ignoring its labels), the switch
  after `autoencoder_steps` (a third of the default run).
- σ (not given): the median of the pairwise squared distances of the 180 reference codes
  (`objectives.mmd.median_heuristic`; `sigma` > 0 overrides it). BFGS from δ = 0 in runs of
  `bfgs_maxiter` = 30 iterations, restarted twice from where the last run stopped with a fresh
  inverse Hessian (`bfgs_restarts`): jax.scipy's line search gives up early on this badly
  conditioned basis (181 strongly correlated columns). Measured on a trained model (200 test
  sentences, λ = 7e-5): 3 × 30 iterations reach the mean objective of 3 × 200 to 1e-4 relative
  (−0.13990 vs −0.13990) in 25 s instead of 115 s; one run of 50 stops at −0.13955.
- λ = 7e-5 is the paper's, but a budget of change is tied to the scale of the codes (its
  penalty λ‖Vδ‖² against a witness in [−1, 1]); on this corpus's codes it lets z move by more than
  its own norm. `lam_sweep` evaluates larger budgets next to it on `sweep_sentences` sentences, so
  the trade-off between flipping the sentiment and keeping the content is measured rather than
  read off one point.
- The references: 90 positive and 90 negative sentences of the training split, as the paper's
  90 + 90; the paper balanced its two topics (phone, movie) within each set, here 30 of each of
  the corpus's three topics (food, film, phone). Drawn once per evaluation from its key.

Evaluation (`evaluations`). The paper reports no numbers (Table 1 shows example sentences, Fig. 2
a PCA plot), so its comparison is qualitative; on the procedural corpus the same question has
exact answers. `eval_sentences` test sentences, each traversed towards the opposite sentiment
(`evaluation.text.transfer_report`): the flip rate by a held-out judge (`transfer_accuracy`) and
by the exact polar lexicon (`exact_transfer`), the content nouns kept, BLEU to the source and to
the exact counterpart (the same sentence with its polarity flipped), perplexity under a language
model of real sentences; next to it the same measures of the sentences decoded from z itself (the
paper's "From z" rows: how well the autoencoder reconstructs, and the floor of the flip rate), the
classifier's accuracy on the codes of the whole test split, its verdict on z* (how often the traversed
code is classified as the target), the witness before and after, how far z moved, and the same
transfer row for each λ of `lam_sweep`.
`pictures`: `traversals.md` (source → from z → from z* → exact counterpart, as Table 1) and
`traversal_pca.png` (Fig. 2: the first two principal components of test codes by sentiment and
topic, with traversal paths z → z*).
"""
from __future__ import annotations

import functools
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from disentax.errors import ConfigError
from disentax.evaluation.text import transfer_report
from disentax.methods.contract import Check, Hyperparameter, Method, MethodSpec, at_least, positive_ints
from disentax.methods.registry import register
from disentax.models.sequence import CNNSentenceEncoder, RNNDecoder, teacher_inputs
from disentax.objectives import mmd
from disentax.objectives.text import sequence_nll
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

__all__ = ["MMD_TRAVERSAL", "SentimentAutoencoder", "mmd_traversal_evaluation", "reference_indices"]

NO_CODE = ("the method changes sentences (a traversal of its CNN codes decoded by a GRU), scored as sentiment "
           "transfer, not by the representation metrics; its evaluation (flip rate, content, BLEU, from z and "
           "from z*) is in evaluation.json")
_EVAL_CHUNK = 200  # sentences per traversal call: one compiled program for every chunk


class SentimentAutoencoder(nn.Module):
    """CNN encoder -> z -> (sentiment logits, GRU reconstruction) (Larsson et al. (2018), Sec. 3.1, 3.3)."""

    vocab_size: int
    embed_dim: int = 300
    heights: tuple = (1, 2, 3, 4)
    filters: int = 75
    hidden: int = 300

    def setup(self):
        self.encoder = CNNSentenceEncoder(self.vocab_size, self.embed_dim, tuple(self.heights), self.filters)
        self.classifier = nn.Dense(2)
        self.decoder = RNNDecoder(self.vocab_size, self.embed_dim, self.hidden, "gru")

    def encode(self, tokens, lengths):
        """z [B, len(heights)·filters]: the max-pooled CNN features."""
        return self.encoder(tokens, lengths)

    def classify(self, z):
        """Sentiment logits [B, 2] of codes z."""
        return self.classifier(z)

    def decode(self, z, max_length: int):
        """Greedy decoding from BOS until EOS (PAD after): tokens [B, max_length]."""
        return self.decoder.greedy(z, max_length)[0]

    def __call__(self, tokens, lengths):
        """(z, sentiment logits, teacher-forced reconstruction logits [B, L, V])."""
        z = self.encode(tokens, lengths)
        return z, self.classify(z), self.decoder(z, teacher_inputs(tokens))


def _check_dataset(config, dataset):
    if not (hasattr(dataset, "vocab") and hasattr(dataset, "sentiment_of") and hasattr(dataset, "split_arrays")):
        raise ConfigError(f"mmd_traversal manipulates sentiment: config.dataset must be sentiment_text, "
                          f"not {config.dataset!r}")


def _model(hp, dataset) -> SentimentAutoencoder:
    return SentimentAutoencoder(vocab_size=int(dataset.vocab.size), embed_dim=int(hp.embed_dim),
                                heights=tuple(int(h) for h in hp.heights), filters=int(hp.filters),
                                hidden=int(hp.hidden))


def losses(model, params, batch):
    """(reconstruction loss, classification loss, metrics) of a batch: the two cross-entropies of
    Larsson et al. (2018), Sec. 3.1 (summed token NLL per sentence; mean sentence cross-entropy)."""
    z, class_logits, logits = model.apply({"params": params}, batch["tokens"], batch["length"])
    rec, rec_aux = sequence_nll(logits, batch["tokens"], batch["length"])
    labels = batch["sentiment"]
    cls = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))
    accuracy = jnp.mean((jnp.argmax(class_logits, -1) == labels).astype(jnp.float32))
    metrics = {"reconstruction": rec, "token_nll": rec_aux["token_nll"], "token_accuracy": rec_aux["token_accuracy"],
               "classification": cls, "class_accuracy": accuracy, "code_mean": jnp.mean(z)}
    return rec, cls, metrics


def _build(config, dataset) -> Method:
    hp = config.mmd_traversal
    _check_dataset(config, dataset)
    model = _model(hp, dataset)
    tx = make_optimizer(config.optimizer)
    ae_steps = int(hp.autoencoder_steps)

    def loss_fn(params, batch, key, state):
        rec, cls, metrics = losses(model, params, batch)
        autoencoding = state.step < ae_steps
        # Phase 1 differentiates the reconstruction alone (the classifier's gradient is exactly 0);
        # phase 2 the unweighted sum (Larsson et al. (2018), Sec. 3.1).
        loss = jax.lax.cond(autoencoding, lambda r, c: r, lambda r, c: r + c, rec, cls)
        return loss, ({**metrics, "phase": jnp.where(autoencoding, 1.0, 2.0)}, None)

    def init_state(key, batch):
        params = model.init(key, batch["tokens"][:1], batch["length"][:1])["params"]
        return TrainState.create(params, tx)

    return Method(
        name=config.method, model=model, dataset=dataset, init_state=jax.jit(init_state),
        train_step=make_train_step(loss_fn, tx),
        sample_batch=lambda key, batch_size: dataset.sample(key, batch_size),
        codes={}, no_code=NO_CODE,
        pictures=lambda params, key, workdir: mmd_traversal_pictures(model, hp, dataset, params, key, workdir),
        evaluations=lambda params, key: mmd_traversal_evaluation(model, hp, dataset, params, key),
    )


# ----------------------------------------------------------------------------- the traversal


def reference_indices(key, split: dict, per_class: int) -> np.ndarray:
    """[2, per_class] rows of `split` (negative first, then positive): `per_class` sentences of each
    sentiment drawn without replacement, spread evenly over the topics (the paper's 90 + 90, balanced
    over its two topics, Sec. 4.1); a topic short of sentences leaves its share to the others."""
    sentiment, topic = np.asarray(split["sentiment"]), np.asarray(split["topic"])
    topics = np.unique(topic)
    rows = []
    for s in (0, 1):
        k_s = jax.random.fold_in(key, s)
        pools = [np.flatnonzero((sentiment == s) & (topic == t)) for t in topics]
        pools = [p[np.asarray(jax.random.permutation(jax.random.fold_in(k_s, i), p.size))] for i, p in
                 enumerate(pools)]
        share = [per_class // len(topics) + (i < per_class % len(topics)) for i in range(len(topics))]
        chosen = [p[:n] for p, n in zip(pools, share)]
        rest = np.concatenate([p[n:] for p, n in zip(pools, share)])
        picked = np.concatenate(chosen)
        if picked.size < per_class:
            picked = np.concatenate([picked, rest[:per_class - picked.size]])
        if picked.size < per_class:
            raise ValueError(f"the split has only {picked.size} sentences of sentiment {s}; {per_class} are needed")
        rows.append(picked)
    return np.stack(rows)


@functools.partial(jax.jit, static_argnums=(0,))
def _encode(model, params, tokens, lengths):
    return model.apply({"params": params}, tokens, lengths, method=SentimentAutoencoder.encode)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _decode(model, params, z, max_length):
    return model.apply({"params": params}, z, max_length, method=SentimentAutoencoder.decode)


@functools.partial(jax.jit, static_argnums=(0, 5, 6))
def _traverse_decode(model, params, z, target, refs, max_length, bfgs, sigma, lam):
    """(z* [B, D], δ [B, 2n + 1], tokens from z* [B, L], tokens from z [B, L]) of codes z towards
    `target` [B] ∈ {0, 1}, `refs` [2, n, D] the reference codes by sentiment."""
    maxiter, restarts = bfgs

    def one(zi, ti):
        return mmd.traverse(zi, refs[ti], refs[1 - ti], sigma, lam, maxiter=maxiter, restarts=restarts)

    z_star, delta = jax.vmap(one)(z, target)
    decode = functools.partial(model.apply, {"params": params}, max_length=max_length,
                               method=SentimentAutoencoder.decode)
    return z_star, delta, decode(z_star), decode(z)


class _Traversal:
    """The traversal of one trained model: reference codes, σ, and `transfer` for `transfer_report`,
    recording what each call computed (z, z*, δ, the decoded sentences) for the evaluation."""

    def __init__(self, model, hp, dataset, params, key, lam: float | None = None):
        self.model, self.params, self.dataset = model, params, dataset
        train = dataset.split_arrays("train")
        self.ref_rows = reference_indices(key, train, int(hp.reference_per_class))
        rows = self.ref_rows.reshape(-1)
        codes = _encode(model, params, jnp.asarray(train["tokens"][rows]), jnp.asarray(train["length"][rows]))
        self.refs = codes.reshape(2, -1, codes.shape[-1])
        self.sigma = float(hp.sigma) if float(hp.sigma) > 0 else float(mmd.median_heuristic(codes))
        self.lam = float(hp.lam) if lam is None else float(lam)
        self.bfgs = (int(hp.bfgs_maxiter), int(hp.bfgs_restarts))
        self.records: list[dict] = []

    def run(self, tokens, lengths, target):
        """Traverse and decode sentences (host arrays, in chunks of `_EVAL_CHUNK`); returns a dict of
        numpy arrays: z, z_star, delta, from_z_star, from_z."""
        out = []
        for i in range(0, len(tokens), _EVAL_CHUNK):
            t, n, g = (np.asarray(a[i:i + _EVAL_CHUNK]) for a in (tokens, lengths, target))
            b = t.shape[0]
            # Every chunk of a call has the first chunk's shape: one compiled program per call size.
            pad = min(_EVAL_CHUNK, len(tokens)) - b
            t, n, g = (np.concatenate([a, np.repeat(a[-1:], pad, 0)]) for a in (t, n, g))
            z = _encode(self.model, self.params, jnp.asarray(t), jnp.asarray(n))
            z_star, delta, star_tokens, z_tokens = _traverse_decode(
                self.model, self.params, z, jnp.asarray(g, jnp.int32), self.refs, int(self.dataset.max_length),
                self.bfgs, self.sigma, self.lam)
            out.append({k: np.asarray(v)[:b] for k, v in dict(z=z, z_star=z_star, delta=delta, from_z_star=star_tokens,
                                                             from_z=z_tokens, target=g).items()})
        return {k: np.concatenate([o[k] for o in out]) for k in out[0]}

    def transfer(self, tokens, lengths, target):
        record = self.run(tokens, lengths, target)
        self.records.append(record)
        return record["from_z_star"]

    def reconstruct(self, tokens, lengths, target):
        """The sentences decoded from z itself (the paper's "From z")."""
        z = _encode(self.model, self.params, jnp.asarray(tokens), jnp.asarray(lengths))
        return np.asarray(_decode(self.model, self.params, z, int(self.dataset.max_length)))


def _classifier_accuracy(model, params, dataset) -> float:
    """The model's own classifier on the codes of the whole test split."""
    test = dataset.split_arrays("test")
    z = _encode(model, params, jnp.asarray(test["tokens"]), jnp.asarray(test["length"]))
    logits = model.apply({"params": params}, z, method=SentimentAutoencoder.classify)
    return float(np.mean(np.argmax(np.asarray(logits), -1) == np.asarray(test["sentiment"])))


def mmd_traversal_evaluation(model, hp, dataset, params, key) -> dict:
    """The traversal scored as sentiment transfer on `hp.eval_sentences` test sentences (module docstring)."""
    k_refs, k_eval = jax.random.split(key)
    trav = _Traversal(model, hp, dataset, params, k_refs)
    common = dict(num=int(hp.eval_sentences), judge_steps=int(hp.judge_steps), lm_steps=int(hp.lm_steps),
                  examples=int(hp.examples))
    # The same key: both rows score the same test sentences.
    traversed = transfer_report(k_eval, trav.transfer, dataset, reverse_steps=int(hp.reverse_steps), **common)
    from_z = transfer_report(k_eval, trav.reconstruct, dataset, reverse_steps=0, **common)
    rec = trav.records[-1]
    sweep = []
    for lam in tuple(hp.lam_sweep):
        other = _Traversal(model, hp, dataset, params, k_refs, lam=float(lam))
        row = transfer_report(k_eval, other.transfer, dataset, reverse_steps=0,
                              **{**common, "num": min(int(hp.sweep_sentences), int(hp.eval_sentences)), "examples": 2})
        moved_l = [np.linalg.norm(r["z_star"] - r["z"], axis=1) / np.maximum(np.linalg.norm(r["z"], axis=1), 1e-12)
                   for r in other.records]
        sweep.append({"lam": float(lam), "relative_move": float(np.mean(np.concatenate(moved_l))),
                      **{k: row[k] for k in ("num", "transfer_accuracy", "exact_transfer", "bleu_source",
                                             "bleu_reference", "nouns_kept", "any_noun_kept", "perplexity",
                                             "examples")}})
    z, z_star, target = rec["z"], rec["z_star"], rec["target"]
    classify = jax.jit(lambda c: model.apply({"params": params}, c, method=SentimentAutoencoder.classify))
    refs = trav.refs

    def witness(codes):
        return np.asarray(jax.vmap(lambda c, t: mmd.witness(c, refs[1 - t], refs[t], trav.sigma))(
            jnp.asarray(codes), jnp.asarray(target)))

    moved = np.linalg.norm(z_star - z, axis=1) / np.maximum(np.linalg.norm(z, axis=1), 1e-12)
    target_share = float(np.mean(np.argmax(np.asarray(classify(jnp.asarray(z_star))), -1) == target))
    nearest = _nearest_reference_class(z_star, np.asarray(refs))
    return {
        "traversal": traversed,
        "from_z": from_z,
        "lam_sweep": sweep,
        "classifier_accuracy_on_z": _classifier_accuracy(model, params, dataset),
        "classifier_target_on_z_star": target_share,
        "nearest_reference_is_target": float(np.mean(nearest == target)),
        "witness_before": float(np.mean(witness(z))),
        "witness_after": float(np.mean(witness(z_star))),
        "relative_move": float(np.mean(moved)),
        "sigma": trav.sigma,
        "lam": trav.lam,
        "references_per_class": int(hp.reference_per_class),
        "paper": "Larsson et al. (2018) report no numbers: Table 1 shows example sentences (from z, from z*), "
                 "Fig. 2 a PCA plot of codes and traversals; see traversals.md and traversal_pca.png",
        "paper_numbers": None,
        "paper_lambda": 7e-5,
        "paper_references": [90, 90],
    }


def _nearest_reference_class(codes, refs) -> np.ndarray:
    """The sentiment of each code's nearest reference code (refs [2, n, D])."""
    flat = refs.reshape(-1, refs.shape[-1])
    d = ((codes[:, None, :] - flat[None]) ** 2).sum(-1)
    return np.argmin(d, 1) // refs.shape[1]


# ----------------------------------------------------------------------------- pictures


def mmd_traversal_pictures(model, hp, dataset, params, key, workdir) -> list[Path]:
    """traversals.md (Table 1's rows on test sentences) and traversal_pca.png (Fig. 2)."""
    # A bare Figure draws without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
    from matplotlib.figure import Figure

    k_refs, k_pick = jax.random.split(key)
    trav = _Traversal(model, hp, dataset, params, k_refs)
    test = dataset.split_arrays("test")
    n_test = int(np.asarray(test["tokens"]).shape[0])
    rows = np.sort(np.asarray(jax.random.choice(k_pick, n_test, (min(int(hp.picture_sentences), n_test),),
                                                replace=False)))
    tokens, lengths = np.asarray(test["tokens"])[rows], np.asarray(test["length"])[rows]
    sentiment, topic = np.asarray(test["sentiment"])[rows], np.asarray(test["topic"])[rows]
    # Every code for the PCA, the traversal only for the rows shown (the table and the paths).
    shown = min(max(int(hp.examples_md), int(hp.picture_paths)), len(rows))
    rec = trav.run(tokens[:shown], lengths[:shown], 1 - sentiment[:shown])
    z = np.asarray(_encode(model, params, jnp.asarray(tokens), jnp.asarray(lengths)))
    decode = dataset.vocab.decode
    workdir = Path(workdir)
    paths = [workdir / "traversals.md", workdir / "traversal_pca.png"]
    lines = ["# MMD traversal (Larsson et al. (2018), Table 1 on the procedural corpus)", "",
             f"λ = {trav.lam:g}, σ = {trav.sigma:.4g}, {int(hp.reference_per_class)} + "
             f"{int(hp.reference_per_class)} reference sentences; each test sentence traversed towards the opposite "
             "sentiment. Exact: the same sentence with its polarity flipped.", "",
             "| sentiment | original | from z | from z* | exact |", "|---|---|---|---|---|"]
    for i in range(min(int(hp.examples_md), shown)):
        lines.append(f"| {'+' if sentiment[i] else '−'} → {'−' if sentiment[i] else '+'} | {decode(tokens[i].tolist())} "
                     f"| {decode(rec['from_z'][i].tolist())} | {decode(rec['from_z_star'][i].tolist())} "
                     f"| {decode(np.asarray(test['counterpart'])[rows[i]].tolist())} |")
    paths[0].write_text("\n".join(lines) + "\n")

    z_star = rec["z_star"]
    mean = z.mean(0)
    _, _, vt = np.linalg.svd(z - mean, full_matrices=False)
    proj = lambda c: (c - mean) @ vt[:2].T  # noqa: E731
    p, ps = proj(z), proj(z_star)
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    markers = ["o", "s", "^", "D", "v"]
    names = list(getattr(dataset, "topics", [])) or [f"topic {t}" for t in np.unique(topic)]
    for s, colour in ((0, "tab:red"), (1, "tab:blue")):
        for t in np.unique(topic):
            sel = (sentiment == s) & (topic == t)
            ax.scatter(p[sel, 0], p[sel, 1], s=10, alpha=0.5, c=colour, marker=markers[int(t) % len(markers)],
                       label=f"{'positive' if s else 'negative'} {names[int(t)] if int(t) < len(names) else t}")
    for i in range(min(int(hp.picture_paths), shown)):
        ax.annotate("", xy=ps[i], xytext=p[i], arrowprops=dict(arrowstyle="->", color="black", lw=1.2))
        ax.scatter(*p[i], s=40, c="black", marker="o")
        ax.scatter(*ps[i], s=60, c="black", marker="*")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title("codes z of test sentences (PCA); arrows: traversals z → z*", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    return paths


# ----------------------------------------------------------------------------- registration


_PAPER = "Larsson et al. (2018)"
MMD_TRAVERSAL = register(MethodSpec(
    name="mmd_traversal", build=_build, paper=_PAPER,
    summary="CNN sentence codes trained as an autoencoder then with a sentiment classifier; sentiment changed "
            "by an MMD-witness traversal of the code (BFGS) decoded by a GRU",
    # Batch 64 (Sec. 4); the learning rate is not given (Adam 1e-3 chosen).
    shared_defaults={"dataset": "sentiment_text", "batch_size": 64, "optimizer.learning_rate": 1e-3,
                     "num_steps": 3000},
    hyperparameters=(
        Hyperparameter("embed_dim", 300, "word embedding width (learned: no word2vec offline)",
                       f"{_PAPER}, Sec. 3.1 (300-d word2vec)", at_least(1)),
        Hyperparameter("heights", (1, 2, 3, 4), "filter heights of the CNN encoder", f"{_PAPER}, Sec. 3.1",
                       positive_ints()),
        Hyperparameter("filters", 75, "filters per height (4 x 75 = the 300-d code z)", f"{_PAPER}, Sec. 3.1",
                       at_least(1)),
        Hyperparameter("hidden", 300, "state of the single-layer GRU decoder", f"{_PAPER}, Sec. 3.3", at_least(1)),
        Hyperparameter("autoencoder_steps", 1000, "first steps training the autoencoder alone (then the sum "
                       "with the classification loss); num_steps counts both",
                       "chosen: a third of the default run (the paper pretrains on IMDB)", at_least(0)),
        Hyperparameter("lam", 7e-5, "λ, the budget of change of the traversal", f"{_PAPER}, Sec. 4.1",
                       at_least(0)),
        Hyperparameter("reference_per_class", 90, "reference sentences of each sentiment (source and target sets)",
                       f"{_PAPER}, Sec. 4.1", at_least(2)),
        Hyperparameter("sigma", 0.0, "kernel bandwidth σ of exp(-|x - x'|^2 / (2σ)); 0: the median pairwise "
                       "squared distance of the reference codes", "chosen (not in the paper)", at_least(0)),
        Hyperparameter("bfgs_maxiter", 30, "BFGS iterations per run", "chosen: 30 x 3 runs reach the objective "
                       "of 200 x 3 to 1e-4 in a fifth of the time (module docstring)", at_least(1)),
        Hyperparameter("bfgs_restarts", 2, "BFGS restarts from where the last run stopped (fresh inverse Hessian)",
                       "chosen", at_least(0)),
        Hyperparameter("lam_sweep", (2e-4, 5e-4, 1e-3), "further budgets of change evaluated (flip rate against "
                       "content as λ grows)", "chosen: the paper's λ is tied to its codes' scale",
                       Check(lambda v: all(isinstance(x, (int, float)) and x >= 0 for x in v),
                             "a tuple of numbers >= 0, e.g. (1e-3,) or ()")),
        Hyperparameter("sweep_sentences", 100, "test sentences of each lam_sweep row", "chosen", at_least(1)),
        Hyperparameter("eval_sentences", 200, "test sentences traversed for the evaluation", "chosen",
                       at_least(1)),
        Hyperparameter("judge_steps", 1500, "training steps of the evaluation's sentiment judge",
                       "disentax.evaluation.text default", at_least(1)),
        Hyperparameter("lm_steps", 2000, "training steps of the evaluation's language model (perplexity)",
                       "disentax.evaluation.text default", at_least(1)),
        Hyperparameter("reverse_steps", 0, "steps of the reverse-perplexity LM (0: not measured; the paper "
                       "has no fluency measure)", "chosen", at_least(0)),
        Hyperparameter("examples", 5, "example (source, output) pairs in evaluation.json", "chosen", at_least(0)),
        Hyperparameter("picture_sentences", 300, "test sentences in the PCA picture", "chosen", at_least(2)),
        Hyperparameter("picture_paths", 6, "traversal paths drawn in the PCA picture", "chosen", at_least(0)),
        Hyperparameter("examples_md", 20, "rows of traversals.md", "chosen", at_least(1)),
    ),
))
