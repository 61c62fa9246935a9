"""Supervised embeddings of identities: the F-statistic loss (Ridgeway & Mozer 2018) and the
triplet loss it is compared with, on one encoder.

- `f_statistic`: Ridgeway & Mozer (2018), "Discovering disentangled representations with the F
  statistic loss": every pair of identities in a minibatch separated on the d embedding dimensions
  where it already separates best, by the F(1, ñ) CDF of a one-way ANOVA statistic
  (`disentax.objectives.embedding.f_statistic_loss`).
- `triplet`: the paper's triplet baseline (Schroff et al. 2015): every triplet of the minibatch,
  Euclidean distances (`triplet_loss`).

Data: `identity_sprites` (54 identities = shape x scale x colour, seen at 8 orientations and 8 x 8
positions), split by identity into `num_folds` folds (`identities.identity_folds`); fold `fold` is
held out and batches are `identities_per_batch` training identities x batch_size / that many
images (the paper: 12 x up to 10). The paper's sprites have 7 attributes and 672 identities; ours
3 attributes and 54, with the pose factors known exactly.

Encoder: the library's convolutional encoder trunk (Burgess et al. 2018) with a linear head of
`model.latent_dim` = 22 (the paper's size; it used the encoder of Reed et al. 2015). Training runs
a fixed number of steps; the paper stopped early on the Recall@1 of a validation split.

Evaluation (`evaluation.json`), as the paper's: Recall@k among `eval_images_per_identity` images
of each held-out identity (and of as many training identities drawn at random, for the gap: the
score falls with the number of identities searched), and for each attribute
value the AUC of the single embedding dimension that best tells it from the attribute's other
values (`disentax.evaluation.retrieval`), on `auc_images` images of all identities (the paper
scores the whole dataset). Pictures: retrieval.png (held-out queries and their nearest
neighbours, framed green when of the query's identity) and dimension_auc.png (AUC per attribute
value and dimension).
"""
from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import viz
from disentax.data import identities
from disentax.errors import ConfigError
from disentax.evaluation.retrieval import best_dimension_auc, dimension_aucs, nearest_neighbours, recall_at_k
from disentax.methods.contract import (
    Code,
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    greater_than,
    hp_value,
    positive_ints,
)
from disentax.methods.registry import need, register
from disentax.models import layers
from disentax.models.encoders import ConvEmbedding
from disentax.objectives.embedding import f_statistic_loss, triplet_loss
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

_CHUNK = 256  # images embedded per call in the evaluation: bounded memory, one compilation


def _folds(hp):
    """(training identities, held-out identities) of fold `hp.fold`."""
    parts = identities.identity_folds(int(hp.num_folds), seed=int(hp.fold_seed))
    held = parts[int(hp.fold)]
    return np.setdiff1d(np.arange(identities.NUM_IDENTITIES), held).astype(np.int32), held


def _embedder(model):
    """embed(params, factors [N, 6]) -> [N, D]: rendered and embedded in fixed-size jitted chunks."""

    @jax.jit
    def chunk(params, f):
        return model.apply({"params": params}, identities.render_identity_sprites(f))

    def embed(params, factors):
        f = np.asarray(factors, np.int32)
        n = f.shape[0]
        pad = (-n) % _CHUNK
        f = np.concatenate([f, np.repeat(f[:1], pad, 0)]) if pad else f
        out = [np.asarray(chunk(params, f[i:i + _CHUNK])) for i in range(0, f.shape[0], _CHUNK)]
        return np.concatenate(out)[:n]

    return embed


def _images_of(dataset, key, ids, per_identity: int):
    """Factors [len(ids) * per_identity, 6]: each identity in `ids` with uniform observations."""
    ids = jnp.asarray(ids, jnp.int32)
    f = dataset.sample_factors(key, int(ids.shape[0]) * per_identity)
    return np.asarray(f.at[:, :3].set(dataset.identity_to_factors(jnp.repeat(ids, per_identity))))


def _build(config, dataset) -> Method:
    if not isinstance(dataset, identities.IdentitySprites):
        raise ConfigError(f"method {config.method!r} needs config.dataset='identity_sprites' (identities made of "
                          f"attributes, seen in many poses), got {config.dataset!r}")
    hp = config[config.method]
    mc = config.model
    dim = int(mc.latent_dim)
    down = layers.resolve("downsample", mc.get("downsample", "auto"), layers.DOWNSAMPLE, layers.default_downsample)
    model = ConvEmbedding(dim=dim, channels=tuple(mc.conv_channels), hidden=tuple(mc.hidden), downsample=down)
    tx = make_optimizer(config.optimizer)
    k = int(hp.identities_per_batch)
    train_ids, held_ids = _folds(hp)

    def sample_batch(key, batch_size):
        return identities.sample_identity_batch(dataset, key, k, int(batch_size) // k, identities=train_ids)

    if config.method == "f_statistic":
        d = int(hp.d)

        def objective(z, labels):
            return f_statistic_loss(z, labels, k, d)
    else:
        margin = hp_value(hp.margin)  # a traced value in a sweep

        def objective(z, labels):
            return triplet_loss(z, labels, margin)

    def init_state(key, batch):
        return TrainState.create(model.init(key, batch["x"])["params"], tx)

    def loss_fn(params, batch, key, state):
        z = model.apply({"params": params}, batch["x"])
        loss, aux = objective(z, batch["labels"])
        return loss, (aux, None)

    def representation(params, x):
        return model.apply({"params": params}, x)

    code = Code(representation=representation, blocks=(("z", dim),),
                description="the embedding (deterministic)", no_posterior="a deterministic embedding, not a posterior")
    embed = _embedder(model)
    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=sample_batch, codes={"embedding": code},
                  evaluations=_evaluations(hp, dataset, embed, train_ids, held_ids),
                  pictures=_pictures(dataset, embed, held_ids))


def _evaluations(hp, dataset, embed, train_ids, held_ids):
    m = int(hp.eval_images_per_identity)
    ks = tuple(int(v) for v in hp.recall_ks)
    attrs = list(identities.IDENTITY_FACTORS)
    sizes = list(identities.IDENTITY_SIZES)

    def evaluations(params, key) -> dict:
        k_held, k_train, k_auc = jax.random.split(key, 3)
        f_held = _images_of(dataset, k_held, held_ids, m)
        # As many training identities as held out: Recall@k falls with the number of distractors.
        k_pick, k_train = jax.random.split(k_train)
        some_train = np.asarray(jax.random.choice(k_pick, jnp.asarray(train_ids), (len(held_ids),), replace=False))
        f_train = _images_of(dataset, k_train, some_train, m)
        recall_held = recall_at_k(embed(params, f_held), np.repeat(held_ids, m), ks)
        recall_train = recall_at_k(embed(params, f_train), np.repeat(some_train, m), ks)
        f_all = np.asarray(dataset.sample_factors(k_auc, int(hp.auc_images)))
        auc = best_dimension_auc(embed(params, f_all), f_all[:, :3], attrs, sizes)
        values = [v["auc"] for v in auc.values()]
        return {
            "recall_at_k": {str(k): v for k, v in recall_held.items()},
            "recall_at_k_training_identities": {str(k): v for k, v in recall_train.items()},
            "best_dimension_auc": auc,
            "best_dimension_auc_mean": float(np.mean(values)),
            "best_dimension_auc_min": float(np.min(values)),
            "held_out_identities": [int(i) for i in held_ids],
            "images_per_identity": m,
        }

    return evaluations


def _framed(img, ok: bool, width: int = 3):
    """The image with a green (ok) or red border drawn inside its edge."""
    out = np.array(img, np.float32)
    colour = np.array([0.1, 0.85, 0.2] if ok else [0.9, 0.15, 0.1], np.float32)[: out.shape[-1]]
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def _pictures(dataset, embed, held_ids, queries: int = 8, neighbours: int = 6, per_identity: int = 10):
    def pictures(params, key, workdir):
        # A bare Figure draws without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
        from matplotlib.figure import Figure

        workdir = Path(workdir)
        k_pool, k_auc = jax.random.split(key)
        f = _images_of(dataset, k_pool, held_ids, per_identity)
        z = embed(params, f)
        x = np.asarray(identities.render_identity_sprites(jnp.asarray(f)))
        ids = np.repeat(held_ids, per_identity)
        near = nearest_neighbours(z, neighbours)
        rows = [[x[q]] + [_framed(x[j], ids[j] == ids[q]) for j in near[q]]
                for q in np.linspace(0, len(f) - 1, queries).astype(int)]
        paths = [workdir / "retrieval.png", workdir / "dimension_auc.png"]
        viz.image_grid(rows).save(paths[0])

        f_all = np.asarray(dataset.sample_factors(k_auc, 2048))
        z_all = embed(params, f_all)
        labels, grid = dimension_aucs(z_all, f_all[:, :3], identities.IDENTITY_FACTORS, identities.IDENTITY_SIZES)
        fig = Figure(figsize=(0.35 * z.shape[1] + 2, 0.3 * len(labels) + 1.2))
        ax = fig.subplots()
        im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xticks(range(z.shape[1]))
        ax.set_xlabel("embedding dimension")
        ax.set_title("AUC of each dimension for each attribute value (max(AUC, 1 - AUC))")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(paths[1], dpi=100)
        return paths

    return pictures


def _check(c):
    hp = c[c.method]
    k = int(hp.identities_per_batch)
    training = identities.NUM_IDENTITIES - math.ceil(identities.NUM_IDENTITIES / int(hp.num_folds))
    need(c, "identities_per_batch", k <= training, f"at most {training}, the identities outside the largest fold")
    need(c, "identities_per_batch", int(c.batch_size) % k == 0 and int(c.batch_size) // k >= 2,
         f"a divisor of config.batch_size={c.batch_size} leaving >= 2 images per identity")
    need(c, "fold", int(hp.fold) < int(hp.num_folds), f"below num_folds={hp.num_folds}")
    need(c, "num_folds", int(hp.num_folds) <= identities.NUM_IDENTITIES, f"at most {identities.NUM_IDENTITIES}")
    if c.method == "f_statistic":
        need(c, "d", int(hp.d) <= int(c.model.latent_dim), f"<= config.model.latent_dim={c.model.latent_dim}")


_RM = "Ridgeway & Mozer (2018)"


def _shared_hps():
    return (
        Hyperparameter("identities_per_batch", 12, "identities per minibatch; batch_size / this many images of each",
                       _RM + ", Sec. 2 (12 x up to 10)", at_least(2)),
        Hyperparameter("num_folds", 5, "folds of the split by identity", _RM + ", Sec. 3", at_least(2)),
        Hyperparameter("fold", 0, "the held-out fold", "", at_least(0)),
        Hyperparameter("fold_seed", 0, "seed of the permutation that makes the folds", "", at_least(0)),
        Hyperparameter("eval_images_per_identity", 50, "images of each identity in the Recall@k evaluation",
                       "chosen here", at_least(2)),
        Hyperparameter("recall_ks", (1, 2, 4, 8), "the k of Recall@k", _RM + ", Fig. 2", positive_ints()),
        Hyperparameter("auc_images", 4096, "images (all identities) of the best-dimension AUC",
                       "chosen here; the paper scores its whole dataset", at_least(100)),
    )


_SHARED_DEFAULTS = {"dataset": "identity_sprites", "batch_size": 120, "model.latent_dim": 22,
                    "optimizer.learning_rate": 1e-4}

F_STATISTIC = register(MethodSpec(
    name="f_statistic", build=_build, paper=_RM,
    summary="supervised embedding: every identity pair separated on its d best dimensions by an F(1, n) CDF",
    hyperparameters=(
        Hyperparameter("d", 2, "dimensions on which each pair of identities is separated", _RM + ", Fig. 3",
                       at_least(1)),
        *_shared_hps(),
    ),
    shared_defaults=_SHARED_DEFAULTS,
    check=_check,
))

TRIPLET = register(MethodSpec(
    name="triplet", build=_build, paper="Schroff et al. (2015), as the baseline of " + _RM,
    summary="supervised embedding: every triplet of the batch, hinge on Euclidean distances",
    hyperparameters=(
        Hyperparameter("margin", 1.0, "the hinge's margin on Euclidean distances",
                       "chosen here: neither paper gives it for unnormalised embeddings", greater_than(0)),
        *_shared_hps(),
    ),
    shared_defaults=_SHARED_DEFAULTS,
    check=_check,
))
