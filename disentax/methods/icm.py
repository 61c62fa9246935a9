"""Independent causal mechanisms (Parascandolo, Rojas-Carulla, Kilbertus & Schölkopf (2018), "Learning
independent causal mechanisms", Eq. 1 and Alg. 1): experts that compete to invert transformations.

Data (`mechanism_digits`): a canonical half of a digits split and a transformed half (each image
under one of 10 mechanisms: 8 translations, inversion, noise), no image in both. N′ experts E_j
(one stacked network, `ExpertCommittee`) map a transformed image back; a discriminator D scores how
canonical an image looks. Each step:

- D ascends log D(x) + (1/N′) Σ_j log(1 − D(E_j(x′))) (canonical x against every expert's outputs);
- the experts ascend max_j log D(E_j(x′)): only the winning expert of each example gets its gradient
  (`objectives.adversarial.winner_take_all_loss`), so experts specialise.

Before competing, the experts are trained as approximate identities on the transformed data for the
first `identity_steps` steps (the paper: "up to 200 iterations"; without it 1 run of 10 succeeded
instead of 7), mean squared error, the discriminator untouched. Both phases are one jitted step
(`lax.cond` on the step counter), so a run resumes exactly across the switch.

What the paper leaves open, chosen here: batch 64 (not stated); the identity loss (MSE); the experts'
and discriminator's optimisers are separate Adams at optax defaults (1e-3, "Adam with default
hyperparameters"); the "pretrained MNIST classifier" of the evaluation is `FactorClassifier` trained
on the canonical images of the training split (`classifier_steps`).

Evaluation (`evaluations`, on every test image under every mechanism): which expert D picks for
each (the win matrix, mechanisms × experts), whether every mechanism's majority winner is a
different expert (the paper's "each expert inverts exactly one mechanism", 7/10 runs), and the
classifier's accuracy on the transformed digits, on the chosen expert's outputs and on the originals
(paper: 40 % → ≈ 99 %, the originals' accuracy being the bound).
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from disentax import viz
from disentax.data import mechanisms
from disentax.evaluation.classifiers import train_classifier
from disentax.methods.contract import Hyperparameter, Method, MethodSpec, at_least, greater_than, positive_ints
from disentax.methods.registry import register
from disentax.models.gan import ExpertCommittee, ICMDiscriminator
from disentax.objectives import adversarial
from disentax.train.adversarial import (
    Critics,
    apply_network,
    init_adversarial_state,
    make_adversarial_step,
    variables,
)
from disentax.train.optim import make_optimizer

__all__ = ["ICM", "icm_evaluation", "specialised", "win_matrix"]

NO_CODE = ("the experts map images to images and learn no code; the evaluation (which expert inverts which "
           "mechanism, and a digit classifier's accuracy on their outputs) is in evaluation.json")


def specialised(wins: np.ndarray, share: float = 0.5) -> bool:
    """True when each mechanism (row of the [M, N′] win matrix of fractions) is won by a majority
    (> `share`) expert and no expert is the majority winner of two mechanisms: our reading of "each
    expert inverts exactly one mechanism" (Parascandolo et al. (2018), Sec. 4) for N′ ≥ M."""
    wins = np.asarray(wins)
    best = np.argmax(wins, 1)
    return bool(np.all(wins[np.arange(len(best)), best] > share) and len(set(best.tolist())) == len(best))


def _build(config, dataset) -> Method:
    hp = config.icm
    if not isinstance(dataset, mechanisms.MechanismDigits):
        raise ValueError(f"icm trains on transformed digits (dataset mechanism_digits), not {config.dataset!r}")
    n_experts, identity_steps = int(hp.num_experts), int(hp.identity_steps)
    experts = ExpertCommittee(num_experts=n_experts, features=int(hp.features), num_layers=int(hp.num_layers))
    critic = ICMDiscriminator(widths=tuple(int(w) for w in hp.critic_widths), hidden=int(hp.critic_hidden))
    critics = Critics({"critic": make_optimizer(hp.critic.optimizer)})
    tx = make_optimizer(config.optimizer)

    def critic_loss(cp, cs, ep, es, batch, key, k):
        outputs, _ = apply_network(experts, ep, es, batch["transformed"], train=True)  # [N, B, ...]
        n, b = outputs.shape[:2]
        logits, state = apply_network(critic, cp["critic"], cs["critic"], jnp.concatenate(
            [batch["canonical"], outputs.reshape(n * b, *outputs.shape[2:])], 0), train=True)
        loss, aux = adversarial.icm_discriminator_loss(logits[:b], logits[b:].reshape(n, b))
        return loss, (aux, {"critic": state})

    def expert_loss(ep, es, cp, cs, batch, key):
        outputs, es = apply_network(experts, ep, es, batch["transformed"], train=True)
        n, b = outputs.shape[:2]
        logits, _ = apply_network(critic, cp["critic"], cs["critic"], outputs.reshape(n * b, *outputs.shape[2:]),
                                  train=True)
        loss, aux = adversarial.winner_take_all_loss(logits.reshape(n, b))
        aux = {"log_score": aux["log_score"], "experts_winning": jnp.sum(aux["win_share"] > 0).astype(jnp.float32),
               "identity_error": _identity_error(outputs, batch["transformed"])}
        return loss, (aux, es)

    competing = make_adversarial_step(expert_loss, critic_loss, tx, critics)

    def identity_step(state, batch, key):
        """One Adam step of every expert towards the identity on the transformed images (Alg. 1's
        initialisation); the discriminator and its optimiser are untouched."""
        def loss_fn(ep):
            outputs, es = apply_network(experts, ep, state.extra["model_state"], batch["transformed"], train=True)
            error = _identity_error(outputs, batch["transformed"])
            return error, (error, es)

        (loss, (error, es)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        new = state.apply_gradients(tx, grads, extra={**state.extra, "model_state": es})
        return new, loss, error, optax.tree.norm(grads)

    def train_step(state, batch, key, log=True):
        shapes = jax.eval_shape(lambda s, b, k: competing(s, b, k)[1], state, batch, key)

        def pretraining(args):
            s, b, k = args
            s, loss, error, norm = identity_step(s, b, k)
            metrics = jax.tree.map(lambda a: jnp.full(a.shape, jnp.nan, a.dtype), shapes)
            return s, {**metrics, "loss": loss, "identity_error": error, "grad_norm": norm}

        def competition(args):
            return competing(*args)

        return jax.lax.cond(state.step < identity_steps, pretraining, competition, (state, batch, key))

    def init_state(key, batch):
        k_e, k_d = jax.random.split(key)
        e = experts.init(k_e, batch["transformed"][:1], train=False)
        d = critic.init(k_d, batch["canonical"][:1], train=False)
        return init_adversarial_state(e, tx, {"critic": d}, critics)

    def scored(state):
        held = state.extra["critics"]["critic"]
        return {"experts": variables(state.params, state.extra["model_state"]),
                "critic": variables(held["params"], held["model_state"])}

    return Method(
        name=config.method, model=experts, dataset=dataset, init_state=jax.jit(init_state), train_step=train_step,
        sample_batch=lambda key, batch_size: dataset.sample(key, batch_size), codes={}, no_code=NO_CODE,
        variables_of=scored,
        pictures=lambda v, key, workdir: icm_pictures(experts, critic, dataset, v, key, workdir),
        evaluations=lambda v, key: icm_evaluation(experts, critic, dataset, v, key, int(hp.classifier_steps)),
    )


def _identity_error(outputs, x):
    """Mean squared error of every expert's output against its input, per pixel."""
    return jnp.mean(jnp.square(outputs - x[None]))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _choose_chunk(experts, critic, v, x):
    # Module-level, the networks static: every evaluation and picture of a run (and of the runs of
    # one process with the same networks) reuses one compiled program per chunk shape.
    outputs = experts.apply(v["experts"], x, train=False)  # [N, b, ...]
    n, b = outputs.shape[:2]
    logits = critic.apply(v["critic"], outputs.reshape(n * b, *outputs.shape[2:]), train=False).reshape(n, b)
    winner = jnp.argmax(logits, 0)
    return winner, outputs[winner, jnp.arange(b)]


def _choose(experts, critic, v, x, chunk: int = 500):
    """(winner [M], chosen output [M, ...]) for images x: the expert the discriminator scores highest."""
    parts = [_choose_chunk(experts, critic, v, x[i:i + chunk]) for i in range(0, x.shape[0], chunk)]
    return jnp.concatenate([p[0] for p in parts]), jnp.concatenate([p[1] for p in parts])


def win_matrix(mechanism, winner, num_experts: int) -> np.ndarray:
    """[M, N′]: the share of each mechanism's images that each expert wins (rows sum to 1)."""
    wins = np.zeros((len(mechanisms.MECHANISMS), int(num_experts)))
    np.add.at(wins, (np.asarray(mechanism), np.asarray(winner)), 1.0)
    return wins / np.maximum(wins.sum(1, keepdims=True), 1)


def icm_evaluation(experts, critic, dataset, v, key, classifier_steps: int) -> dict:
    """Win matrix, specialisation and classifier accuracies on every test digit under every mechanism."""
    k_cls, k_test = jax.random.split(key)
    train_x, train_y = dataset.canonical_arrays()
    n_train = train_x.shape[0]

    def sample(k, n):
        idx = jax.random.randint(k, (n,), 0, n_train)
        return train_x[idx], train_y[idx][:, None]

    judge = train_classifier(k_cls, sample, (10,), steps=classifier_steps)
    test = mechanisms.transformed_test_set(k_test)
    winner, chosen = _choose(experts, critic, v, test["x"])
    wins = win_matrix(test["mechanism"], winner, int(experts.num_experts))
    labels = np.asarray(test["label"])

    def accuracy(x):
        return float(np.mean(np.asarray(judge.predict(x))[:, 0] == labels))

    return {
        "win_matrix": wins.round(4).tolist(), "mechanisms": list(mechanisms.MECHANISMS),
        "majority_expert": np.argmax(wins, 1).tolist(), "specialised": specialised(wins),
        "classifier_accuracy": {"transformed": accuracy(test["x"]), "experts": accuracy(chosen),
                                "originals": accuracy(test["source"])},
        "classifier_steps": int(classifier_steps), "test_images": int(labels.size),
    }


def icm_pictures(experts, critic, dataset, v, key, workdir) -> list[Path]:
    """icm_experts.png: for each mechanism (row), transformed digits and the chosen expert's outputs
    below them; icm_wins.png: the win matrix, mechanisms × experts."""
    # A bare Figure draws without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
    from matplotlib.figure import Figure

    test = mechanisms.transformed_test_set(key)
    mech = np.asarray(test["mechanism"])
    winner, chosen = _choose(experts, critic, v, test["x"])
    x, chosen = np.asarray(test["x"]), np.asarray(chosen)
    rows = []
    for m in range(len(mechanisms.MECHANISMS)):
        sel = np.flatnonzero(mech == m)[:6]
        rows.append(list(x[sel]) + list(chosen[sel]))
    workdir = Path(workdir)
    paths = [workdir / "icm_experts.png", workdir / "icm_wins.png"]
    viz.image_grid(rows).save(paths[0])
    wins = win_matrix(mech, winner, int(experts.num_experts))
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.imshow(wins, vmin=0, vmax=1, cmap="viridis")
    ax.set_yticks(range(len(mechanisms.MECHANISMS)), mechanisms.MECHANISMS)
    ax.set_xticks(range(wins.shape[1]))
    ax.set_xlabel("expert")
    ax.set_title("share of each mechanism's test digits won")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    return paths


_PAPER = "Parascandolo et al. (2018)"
ICM = register(MethodSpec(
    name="icm", build=_build, paper=_PAPER,
    summary="competing experts invert independent mechanisms; a discriminator's winner-take-all gradient",
    # "Adam with default hyperparameters" (Sec. 4): optax's Adam defaults; batch not stated.
    shared_defaults={"optimizer.learning_rate": 1e-3, "dataset": "mechanism_digits", "num_steps": 2200},
    hyperparameters=(
        Hyperparameter("num_experts", 10, "N', the experts competing", f"{_PAPER}, Sec. 4", at_least(1)),
        Hyperparameter("features", 32, "channels of each expert's conv layers", f"{_PAPER}, Table 1", at_least(1)),
        Hyperparameter("num_layers", 4, "3x3 conv + BN + ELU layers per expert", f"{_PAPER}, Table 1", at_least(1)),
        Hyperparameter("critic_widths", (16, 32, 64), "channels of the discriminator's three conv blocks "
                       "(3, 2 and 2 layers of 3x3)", f"{_PAPER}, Table 1", positive_ints()),
        Hyperparameter("critic_hidden", 1024, "units of the discriminator's dense layer", f"{_PAPER}, Table 1",
                       at_least(1)),
        Hyperparameter("identity_steps", 200, "first steps training every expert towards the identity "
                       "(num_steps counts them: 200 + the paper's 2,000)", f"{_PAPER}, Sec. 4", at_least(0)),
        Hyperparameter("critic.optimizer.name", "adam", "optimiser of the discriminator", f"{_PAPER}, Sec. 4"),
        Hyperparameter("critic.optimizer.learning_rate", 1e-3, "its learning rate (Adam default)", "optax default",
                       greater_than(0)),
        Hyperparameter("critic.optimizer.b1", 0.9, "Adam β1", "optax default"),
        Hyperparameter("critic.optimizer.b2", 0.999, "Adam β2", "optax default"),
        Hyperparameter("critic.optimizer.eps", 1e-8, "Adam ε", "optax default", greater_than(0)),
        Hyperparameter("critic.optimizer.grad_clip", 0.0, "global-norm gradient clip (0: none)", "", at_least(0)),
        Hyperparameter("classifier_steps", 1000, "training steps of the evaluation's digit classifier (batch 64)",
                       "chosen", at_least(1)),
    ),
))
