"""Multi-task sequence-to-sequence autoencoders and the syntactic saliency of their representation
(Brunner, Wang, Wattenhofer & Weigelt (2018), "Natural language multitasking: analyzing and improving
syntactic saliency of hidden representations", Sec. 3 and 4.1).

Model (Sec. 3.1–3.2, Fig. 1): a character-level LSTM encoder reads the English sentence x; its
hidden state after the last character goes through a dense "representation layer",

    r = W h_|x| + b,   r ∈ R^D,  D = `representation_dim` (256 or 1024 in the paper),

and every decoder k of `tasks` ⊆ {rep, de, fr, pos} is an LSTM whose initial state is its own fully
connected map of r, (c_0, h_0) = (W_c^k r + b_c^k, tanh(W_h^k r + b_h^k)) (Fig. 1: "the FC layers
transform the fixed-length representation vectors into ... state vectors for each decoder"):

- rep reconstructs the characters of x, de / fr produce the characters of its (toy) German / French
  translation, pos tags each word (one tag per word, the corpus's punctuation marks being words).

Each decoder is trained by teacher forcing on its target y^k, and the loss is the sum of the
decoders' sentence cross-entropies,

    L(θ) = Σ_k (1/B) Σ_b Σ_{t ≤ |y^k_b|} −log p_k(y^k_{b,t} | y^k_{b,<t}, r_b),

`multitask_loss`. The paper gives no equation for the loss (nor how the tasks are weighted): the
unweighted sum of the per-task `disentax.objectives.text.sequence_nll` (nats per sentence, averaged
over the batch) is our reading of "a multi-task autoencoder with several decoders".

Data: `multitask_text` (`disentax.data.text.MultitaskText`), the procedural stand-in for the
paper's Europarl En/De/Fr + NLTK tags (1.5 M sentences): 40,000 training sentences with toy
translations (lexicon map + reordering) and grammar tags.

Paper values: all LSTMs 512 units (Sec. 3.4), D = 256 or 1024 (Table 1), the decoders above.
Chosen here (the paper gives none of them):

- character / tag embeddings of 128 (the sequence models' default width);
- Adam, learning rate 1e-3, batch 64, 30,000 steps (about 48 passes over the 40,000 sentences),
  gradients clipped to global norm 5 (Sutskever et al. (2014)'s clipping for LSTM seq2seq);
- the decoders see r only through their initial state: `disentax.models.sequence.RNNDecoder`
  also concatenates its code to every input, which the paper's Fig. 1 does not show, so the decoder
  here is that module with its step reading the previous symbol alone (`StateDecoder`).

What is scored. r is a deterministic code (no posterior: the encoder is a plain autoencoder, not a
variational one), but the representation metrics of `disentax evaluate` probe a code with
image-shaped float inputs and score it against a dataset's ground-truth factor grid; the corpus has
integer character arrays and no factor grid, so the method declares no code there (`no_code`) and
scores r by the paper's own protocol in `evaluations` (evaluation.json). `representation(model,
params, chars, lengths)` gives r for any sentences.

Evaluation (`evaluations`, Sec. 4.1, Tables 1–2):

- syntax clustering error, the paper's protocol exactly: `syntax_prototypes(eval_seed, 100)` (its
  13 templates filled with random lexicon words 100 times each, plus 100 empty sentences), encoded to
  r; K-means with K = 14, each cluster given its majority template, the members of other templates
  counted as errors; best of 100 K-means runs (`disentax.metrics.syntax_clustering.clustering_error`,
  seeded by `eval_seed`, so every model is scored on the same sentences and the same K-means seeds);
- each decoder's per-token perplexity on `eval_sentences` sentences of the test split (teacher
  forcing, Table 1: "the exponential of the cross entropy");
- greedy outputs of every decoder for a few test sentences;
- the paper's numbers under `paper_table_1` (perplexities) and `paper_table_2` (best errors).

Pictures: `syntax_pca.png` (the prototype codes projected on their first two principal
components, coloured by template), `syntax_clusters.png` (templates × clusters of the best K-means
run), `examples.md` (test sentences and every decoder's greedy output).
"""
from __future__ import annotations

import functools
import warnings
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.text import MultitaskText, syntax_prototypes
from disentax.data.text.prototypes import PROTOTYPES
from disentax.errors import ConfigError
from disentax.methods.contract import Check, Hyperparameter, Method, MethodSpec, at_least
from disentax.methods.registry import register
from disentax.metrics.syntax_clustering import assignment_error, clustering_error
from disentax.models.sequence import RNNDecoder, RNNEncoder, teacher_inputs
from disentax.objectives.text import length_mask, lengths_of, sequence_nll, token_nll
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

__all__ = [
    "MULTITASK_SEQ2SEQ", "MultitaskSeq2Seq", "PAPER_TABLE_1", "PAPER_TABLE_2", "StateDecoder", "TASKS",
    "best_clustering", "model_name", "multitask_loss", "representation", "syntax_codes", "decoder_perplexities",
]

TASKS = ("rep", "de", "fr", "pos")
# Each task's target in a batch of `MultitaskText`: (tokens, lengths).
TARGETS = {"rep": ("chars", "char_length"), "de": ("de", "de_length"), "fr": ("fr", "fr_length"),
           "pos": ("pos", "pos_length")}
NO_CODE = ("the representation r is scored by Brunner et al.'s syntax clustering error on character "
           "sentences (the representation metrics need image inputs and a factor grid); the clustering "
           "error and each decoder's test perplexity are in evaluation.json")

# Brunner et al. (2018), Table 1 (per-token perplexities) and Table 2 (best-of-100 clustering errors).
PAPER_TABLE_1 = {
    "REP-1024": {"rep": 1.05},
    "REP-DE-1024": {"rep": 1.04, "de": 2.02},
    "REP-DE-FR-1024": {"rep": 1.04, "de": 2.02, "fr": 1.86},
    "REP-DE-256": {"rep": 1.07, "de": 2.02},
    "REP-DE-POS-256": {"rep": 1.14, "de": 2.05, "pos": 1.10},
}
PAPER_TABLE_2 = {"R-1024": 149, "R-D-1024": 22, "R-D-F-1024": 24, "R-D-256": 29, "R-D-P-256": 3}


def model_name(tasks, representation_dim: int) -> str:
    """The paper's name of a configuration: its decoders in REP, DE, FR, POS order and D (REP-DE-POS-256)."""
    return "-".join([t.upper() for t in TASKS if t in tasks] + [str(int(representation_dim))])


def _short_name(tasks, representation_dim: int) -> str:
    # Table 2 abbreviates the decoders to their first letter (R-D-P-256).
    return "-".join([t[0].upper() for t in TASKS if t in tasks] + [str(int(representation_dim))])


# ----------------------------------------------------------------------------- the networks


class StateDecoder(RNNDecoder):
    """`RNNDecoder` whose code enters only through the initial state (Brunner et al. (2018), Fig. 1):

        (c_0, h_0) = (W_c r + b_c, tanh(W_h r + b_h)),  s_t = LSTM(s_{t−1}, emb(y_{t−1})),
        logits_t = W_o h_t + b_o,

    the per-decoder FC layer being the parent's `initial` Dense. Teacher forcing and greedy decoding
    are the parent's, on this step.
    """

    def step(self, state, inputs, code):
        state, h = self.rnn_cell(state, inputs)
        return state, self.output(h)


class MultitaskSeq2Seq(nn.Module):
    """Character LSTM encoder → representation layer r [B, D] → one `StateDecoder` per task.

    `represent(chars, lengths) -> r`; `decode(task, r, targets) -> logits` (teacher forcing);
    `__call__(batch) -> (r, {task: logits})`. Parameters: `encoder` (its `to_code` Dense is the
    representation layer) and `decoders_<task>` for each task, nothing for a task left out.
    """

    char_vocab: int
    tag_vocab: int
    tasks: tuple = ("rep", "de", "pos")
    representation_dim: int = 256
    hidden: int = 512
    embed_dim: int = 128

    def setup(self):
        self.encoder = RNNEncoder(self.char_vocab, self.embed_dim, self.hidden, cell="lstm",
                                  code_dim=self.representation_dim)
        self.decoders = {t: StateDecoder(self.tag_vocab if t == "pos" else self.char_vocab, self.embed_dim,
                                         self.hidden, cell="lstm") for t in self.tasks}

    def represent(self, chars, lengths):
        return self.encoder(chars, lengths)[0]

    def decode(self, task, r, targets):
        return self.decoders[task](r, teacher_inputs(targets))

    def greedy(self, task, r, max_length: int):
        return self.decoders[task].greedy(r, max_length)[0]

    def __call__(self, batch):
        r = self.represent(batch["chars"], batch["char_length"])
        return r, {t: self.decode(t, r, batch[TARGETS[t][0]]) for t in self.tasks}


def representation(model: MultitaskSeq2Seq, params, chars, lengths=None):
    """r [B, D] of character sentences chars [B, L] (lengths [B] with the EOS; default: up to the
    first EOS): the output of Brunner et al. (2018)'s representation layer, what Sec. 4 analyses."""
    chars = jnp.asarray(chars)
    lengths = lengths_of(chars) if lengths is None else lengths
    return model.apply({"params": params}, chars, lengths, method=MultitaskSeq2Seq.represent)


def multitask_loss(logits: dict, batch: dict) -> tuple:
    """Sum of the decoders' sentence cross-entropies (teacher forcing):

        L = Σ_{k ∈ tasks} (1/B) Σ_b Σ_{t ≤ |y^k_b|} −log softmax(logits^k_{b,t})[y^k_{b,t}],

    the loss we read into Brunner et al. (2018), Sec. 3.1 (no equation given; the tasks unweighted).
    `logits` maps each task to [B, L_k, V_k]; `batch` holds its targets (`TARGETS`). aux: per task
    `<task>_nll` (nats per sentence), `<task>_perplexity` (per token) and `<task>_accuracy`.
    """
    total, aux = 0.0, {}
    for task, lg in logits.items():
        key, length_key = TARGETS[task]
        loss, a = sequence_nll(lg, batch[key], batch[length_key])
        total = total + loss
        aux.update({f"{task}_nll": loss, f"{task}_perplexity": a["perplexity"],
                    f"{task}_accuracy": a["token_accuracy"]})
    return total, aux


# ----------------------------------------------------------------------------- evaluation


@functools.partial(jax.jit, static_argnums=0)
def _represent_chunk(model, params, chars, lengths):
    # Module-level with the network static: one compiled program per chunk shape for every
    # evaluation and picture of a process.
    return representation(model, params, chars, lengths)


@functools.partial(jax.jit, static_argnums=0)
def _nll_chunk(model, params, batch):
    """Per task: (summed token NLL, real tokens, correct tokens) over a chunk."""
    r, logits = model.apply({"params": params}, batch)
    out = {}
    for task, lg in logits.items():
        key, length_key = TARGETS[task]
        targets, lengths = batch[key], batch[length_key]
        mask = length_mask(lengths, lg.shape[1])
        nll = token_nll(lg, targets)
        correct = jnp.argmax(lg, axis=-1) == targets
        out[task] = (jnp.where(mask, nll, 0.0).sum(), mask.sum(), jnp.where(mask, correct, False).sum())
    return out


@functools.partial(jax.jit, static_argnums=(0, 1, 4))
def _greedy_chunk(model, task, params, chars, max_length):
    r = model.apply({"params": params}, chars, lengths_of(chars), method=MultitaskSeq2Seq.represent)
    return model.apply({"params": params}, task, r, max_length, method=MultitaskSeq2Seq.greedy)


def _chunks(n: int, chunk: int):
    """(start, stop, pad) of fixed-size chunks: the last is padded to `chunk` rows, so every chunk
    compiles to one shape."""
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        yield start, stop, chunk - (stop - start)


def _pad_rows(a, pad: int):
    return np.concatenate([a, np.repeat(a[:1], pad, 0)]) if pad else a


def syntax_codes(model, params, dataset: MultitaskText, seed: int = 0, per_template: int = 100,
                 chunk: int = 256) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(r [14·per_template, D], template labels, sentences) of Brunner et al. (2018)'s syntax
    prototypes (Sec. 4.1: 13 templates and the empty sentence, each filled `per_template` times)."""
    sentences, labels = syntax_prototypes(int(seed), per_template=int(per_template))
    chars, lengths = dataset.encode_sentences(sentences)
    parts = []
    for start, stop, pad in _chunks(len(sentences), chunk):
        r = _represent_chunk(model, params, _pad_rows(chars[start:stop], pad), _pad_rows(lengths[start:stop], pad))
        parts.append(np.asarray(r)[: stop - start])
    return np.concatenate(parts), np.asarray(labels), list(sentences)


def best_clustering(codes, labels, k: int = 14, runs: int = 100, seed: int = 0) -> dict:
    """`clustering_error` (Brunner et al. (2018), Sec. 4.1: best of `runs` K-means runs) and the
    clusters of its best run: {"best", "mean", "errors", "clusters" [N], "confusion" [K, 14]}.

    The best run is re-fitted from its seed (run r uses the r-th word of SeedSequence(seed), as
    `clustering_error` documents), so `confusion` is exactly the clustering whose error is "best".
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    result = clustering_error(codes, labels, k=k, runs=runs, seed=seed)
    best_run = int(np.argmin(result["errors"]))
    state = int(np.random.SeedSequence(int(seed)).generate_state(int(runs))[best_run])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clusters = KMeans(n_clusters=int(k), n_init=1, random_state=state).fit_predict(
            np.asarray(codes, np.float64))
    if assignment_error(clusters, labels) != result["best"]:  # the refit must be the run it names
        raise RuntimeError("the best K-means run could not be reproduced from its seed")
    labels = np.asarray(labels)
    confusion = np.zeros((int(k), int(labels.max()) + 1), np.int64)
    np.add.at(confusion, (clusters, labels), 1)
    return {**result, "best_run": best_run, "clusters": clusters, "confusion": confusion}


def decoder_perplexities(model, params, dataset: MultitaskText, num: int = 500, chunk: int = 250) -> dict:
    """Per task: per-token perplexity exp(Σ NLL / Σ tokens) and token accuracy of the decoders on
    the first `num` test sentences, teacher forcing (Brunner et al. (2018), Table 1)."""
    test = dataset.split_arrays("test")
    n = min(int(num), len(test["chars"]))
    sums = {t: np.zeros(3) for t in model.tasks}
    for start, stop, pad in _chunks(n, min(chunk, n)):
        batch = {k: jnp.asarray(_pad_rows(v[start:stop], pad)) for k, v in test.items()}
        if pad:  # the padded rows count for nothing
            for _, length_key in TARGETS.values():
                batch[length_key] = batch[length_key].at[stop - start:].set(0)
        got = _nll_chunk(model, params, batch)
        for t in model.tasks:
            sums[t] += np.array([float(x) for x in got[t]])
    return {t: {"perplexity": float(np.exp(s[0] / s[1])), "token_accuracy": float(s[2] / s[1]),
                "tokens": int(s[1])} for t, s in sums.items()} | {"sentences": n}


def _examples(model, params, dataset: MultitaskText, num: int = 4) -> list[dict]:
    """A few test sentences, their targets and every decoder's greedy output, as text."""
    test = dataset.split_arrays("test")
    chars = jnp.asarray(test["chars"][:num])
    rows = [{"source": dataset.chars.decode(c)} for c in test["chars"][:num]]
    for task in model.tasks:
        key = TARGETS[task][0]
        vocab = dataset.tags if task == "pos" else dataset.chars
        width = test[key].shape[1]
        out = np.asarray(_greedy_chunk(model, task, params, chars, width))
        sep = " " if task == "pos" else ""
        for row, target, got in zip(rows, test[key][:num], out):
            row[task] = {"target": _decode(vocab, target, sep), "output": _decode(vocab, got, sep)}
    return rows


def _decode(vocab, ids, sep: str) -> str:
    # Vocabulary.decode joins by the vocabulary's level; tags are words joined by spaces.
    return vocab.decode(ids) if not sep else sep.join(vocab.words[i] for i in _before_eos(ids))


def _before_eos(ids):
    out = []
    for i in np.asarray(ids).tolist():
        if i == 2:
            break
        if i > 1:
            out.append(i)
    return out


def _evaluate(model, hp, dataset, params) -> dict:
    codes, labels, _ = syntax_codes(model, params, dataset, int(hp.eval_seed), int(hp.per_template))
    got = best_clustering(codes, labels, k=int(hp.clusters), runs=int(hp.kmeans_runs), seed=int(hp.eval_seed))
    tasks = tuple(model.tasks)
    name = model_name(tasks, model.representation_dim)
    errors = np.asarray(got["errors"])
    return {
        "model": name,
        "clustering_error": {"best": got["best"], "mean": got["mean"], "median": float(np.median(errors)),
                             "worst": int(errors.max()), "runs": len(errors), "best_run": got["best_run"],
                             "sentences": int(labels.size), "k": int(hp.clusters),
                             "confusion_best_run": got["confusion"].tolist()},
        "perplexity": decoder_perplexities(model, params, dataset, int(hp.eval_sentences)),
        "examples": _examples(model, params, dataset),
        "paper_table_1": PAPER_TABLE_1, "paper_table_2": PAPER_TABLE_2,
        "paper_row": {"table_1": PAPER_TABLE_1.get(name), "table_2": PAPER_TABLE_2.get(_short_name(tasks,
                                                                                                      model.representation_dim))},
        "widths": {"lstm": int(model.hidden), "representation": int(model.representation_dim),
                   "embedding": int(model.embed_dim)},
    }


def _template_names() -> list[str]:
    return [f"{i}: {t}" if len(t) <= 28 else f"{i}: {t[:26]}…" for i, t in enumerate(PROTOTYPES)] + ["13: (empty)"]


def _pictures(model, hp, dataset, params, workdir) -> list[Path]:
    # Bare Figures draw without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
    import matplotlib
    from matplotlib.figure import Figure

    workdir = Path(workdir)
    codes, labels, _ = syntax_codes(model, params, dataset, int(hp.eval_seed), int(hp.per_template))
    got = best_clustering(codes, labels, k=int(hp.clusters), runs=int(hp.kmeans_runs), seed=int(hp.eval_seed))
    name = model_name(tuple(model.tasks), model.representation_dim)
    names = _template_names()
    paths = [workdir / "syntax_pca.png", workdir / "syntax_clusters.png", workdir / "examples.md"]

    centred = codes - codes.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    share = (s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-30)
    fig = Figure(figsize=(9, 6))
    ax = fig.subplots()
    colours = matplotlib.colormaps["tab20"]
    for c in range(int(labels.max()) + 1):
        sel = labels == c
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=colours(c % 20), label=names[c])
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"{name}: syntax prototypes' representations, first two PCs ({100 * share:.0f}% of variance)",
                 fontsize=9)
    ax.legend(fontsize=6, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)

    confusion = got["confusion"].T  # templates × clusters
    order = np.argsort(np.argmax(confusion, axis=0), kind="stable")  # clusters by their majority template
    fig = Figure(figsize=(8, 6))
    ax = fig.subplots()
    im = ax.imshow(confusion[:, order], cmap="viridis")
    for (i, j), v in np.ndenumerate(confusion[:, order]):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=5, color="w" if v < confusion.max() / 2 else "k")
    ax.set_yticks(range(len(names)), names, fontsize=6)
    ax.set_xticks(range(len(order)), [str(c) for c in order], fontsize=6)
    ax.set_xlabel("K-means cluster (best run, ordered by majority template)")
    ax.set_title(f"{name}: best-of-{len(got['errors'])} clustering error {got['best']}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)

    lines = [f"# {name}: test sentences and each decoder's greedy output", ""]
    for i, row in enumerate(_examples(model, params, dataset)):
        lines.append(f"{i + 1}. source: `{row['source']}`")
        for task in model.tasks:
            lines.append(f"    - {task} target: `{row[task]['target']}`")
            lines.append(f"    - {task} output: `{row[task]['output']}`")
        lines.append("")
    paths[2].write_text("\n".join(lines))
    return paths


# ----------------------------------------------------------------------------- the method


def _tasks_of(hp) -> tuple:
    tasks = tuple(hp.tasks)
    return tuple(t for t in TASKS if t in tasks)  # canonical order: parameter names and metrics do not depend on it


def _build(config, dataset) -> Method:
    hp = config.multitask_seq2seq
    if not isinstance(dataset, MultitaskText):
        raise ConfigError(f"multitask_seq2seq trains on dataset multitask_text (characters, translations, tags), "
                          f"not {config.dataset!r}")
    model = MultitaskSeq2Seq(char_vocab=dataset.chars.size, tag_vocab=dataset.tags.size, tasks=_tasks_of(hp),
                             representation_dim=int(hp.representation_dim), hidden=int(hp.hidden),
                             embed_dim=int(hp.embed_dim))
    tx = make_optimizer(config.optimizer)
    # The dataset caches its training split as device arrays on the first `sample`; drawing once
    # here, outside any jit, keeps a traced first call from caching (and leaking) tracers.
    with jax.ensure_compile_time_eval():
        dataset.sample(jax.random.PRNGKey(0), 1)

    def loss_fn(params, batch, key, state):
        _, logits = model.apply({"params": params}, batch)
        loss, aux = multitask_loss(logits, batch)
        return loss, (aux, None)

    def init_state(key, batch):
        return TrainState.create(model.init(key, {k: v[:1] for k, v in batch.items()})["params"], tx)

    return Method(
        name=config.method, model=model, dataset=dataset, init_state=jax.jit(init_state),
        train_step=make_train_step(loss_fn, tx),
        sample_batch=lambda key, batch_size: dataset.sample(key, batch_size),
        codes={}, no_code=NO_CODE,
        pictures=lambda params, key, workdir: _pictures(model, hp, dataset, params, workdir),
        evaluations=lambda params, key: _evaluate(model, hp, dataset, params),
    )


def _tasks_check() -> Check:
    return Check(lambda v: isinstance(v, (tuple, list)) and len(v) > 0 and len(set(v)) == len(v)
                 and all(t in TASKS for t in v), f"a non-empty tuple of distinct tasks from {', '.join(TASKS)}")


_PAPER = "Brunner et al. (2018)"
MULTITASK_SEQ2SEQ = register(MethodSpec(
    name="multitask_seq2seq", build=_build, paper=_PAPER,
    summary="character LSTM encoder, a representation layer and decoders for reconstruction, translation and "
            "POS tagging; scored by the syntax clustering error of the representation",
    # Not in the paper: Adam 1e-3, batch 64, clipping at 5 (Sutskever et al. (2014)); see the docstring.
    shared_defaults={"dataset": "multitask_text", "optimizer.learning_rate": 1e-3, "optimizer.grad_clip": 5.0,
                     "batch_size": 64, "num_steps": 30_000},
    hyperparameters=(
        Hyperparameter("tasks", ("rep", "de", "pos"), "decoders: rep (reconstruct), de / fr (translate), pos (tag)",
                       f"{_PAPER}, Table 2 (R-D-P-256, the best model)", _tasks_check()),
        Hyperparameter("representation_dim", 256, "D, width of the representation layer (256 or 1024)",
                       f"{_PAPER}, Table 1", at_least(1)),
        Hyperparameter("hidden", 512, "units of the encoder and decoder LSTMs", f"{_PAPER}, Sec. 3.4", at_least(1)),
        Hyperparameter("embed_dim", 128, "character / tag embedding width", "chosen", at_least(1)),
        Hyperparameter("per_template", 100, "sentences per syntax prototype in the clustering evaluation",
                       f"{_PAPER}, Sec. 4.1", at_least(1)),
        Hyperparameter("clusters", 14, "K of K-means (13 templates + the empty sentence)", f"{_PAPER}, Sec. 4.1",
                       at_least(1)),
        Hyperparameter("kmeans_runs", 100, "K-means runs; the best is reported", f"{_PAPER}, Sec. 4.1", at_least(1)),
        Hyperparameter("eval_seed", 0, "seed of the prototype fillings and of the K-means runs", "chosen",
                       at_least(0)),
        Hyperparameter("eval_sentences", 500, "test sentences of the perplexity evaluation", "chosen", at_least(1)),
    ),
))
