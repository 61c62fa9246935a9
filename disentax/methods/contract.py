"""The method contract: everything the loop, `disentax evaluate`, the sweeps and the pictures use.

A method is a `MethodSpec` (its name, paper, hyperparameters with their published defaults, and a
builder) registered with `disentax.methods.register` or through the `disentax.methods` entry-point
group. `spec.build(config, dataset)` returns a `Method`:

- what is trained: `init_state(key, batch) -> TrainState`, `train_step(state, batch, key) ->
  (state, metrics)` (made by `disentax.train.step.make_train_step`), and `sample_batch(key,
  batch_size) -> batch`, a pure function of the key (jit-able unless the dataset reads on the host);
- what is scored: `codes`, one or more named `Code`s. The first is the default one:
  `Method.representation(params, x) -> [B, D]` is what the metrics score, and `Method.posterior(params,
  x)`, where the method has one, is a `GaussianPosterior` of exactly those D dimensions, so metrics of
  the posterior (I(x; z_d), exact MIG) get the right arrays or a reason why they do not apply. A
  method that learns no representation of an image (a GAN) declares no code and says why in
  `no_code`; `disentax evaluate` then prints that line and runs its `evaluations`;
- what the scoring side takes from the trained state: `variables_of(state)`, the `params` argument of
  the codes, pictures and evaluations (default `state.params`; a GAN hands its generator's
  parameters with its batch-norm statistics);
- what is drawn and evaluated when training ends: `pictures(params, key, workdir) -> [paths]` and
  `evaluations(params, key) -> dict` (JSON-able; the loop writes it to `evaluation.json`);
- what is estimated at each logging step besides the step's own metrics: `diagnose(params, key) ->
  dict` of scalars (e.g. `common.decomposition_probe`, the ELBO decomposition of a fresh pool of
  images, larger than a batch); the loop logs them and keeps a step metric of the same name as
  `batch_<name>`.

The builder receives the dataset object, so nothing looks a dataset up again by name. The method's
hyperparameters live in the config group named after it (`config.beta_vae.beta`), so two methods
can use one word (`alpha`, `estimator`, `temperature`) for different things without a fallback.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import flax.struct
import jax
import ml_collections

from disentax.errors import ConfigError

__all__ = [
    "Check", "Code", "GaussianPosterior", "Hyperparameter", "Method", "MethodSpec",
    "at_least", "between", "greater_than", "hp_value", "one_of", "positive_ints",
]


# ----------------------------------------------------------------------------- what is scored


@flax.struct.dataclass
class GaussianPosterior:
    """q(z|x) = N(mean, exp(logvar)) for each dimension of a scored code; each field [B, D]."""

    mean: jax.Array
    logvar: jax.Array


@dataclasses.dataclass(frozen=True)
class Code:
    """One reading of a trained model's codes: what the metrics score, dimension by dimension.

    `blocks` names consecutive slices of the D dimensions, e.g. (("content", 10), ("style", 10)),
    so the printed tables label each dimension and a reader sees which part is which.
    `posterior` gives the Gaussian parameters of exactly these D dimensions; when a code has none
    (a code holding class probabilities, say) `no_posterior` says why.
    """

    representation: Callable[[Any, jax.Array], jax.Array]
    blocks: tuple[tuple[str, int], ...]
    posterior: Callable[[Any, jax.Array], GaussianPosterior] | None = None
    description: str = ""
    no_posterior: str = ""

    def __post_init__(self):
        if not self.blocks or any(int(n) < 1 for _, n in self.blocks):
            raise ValueError(f"a Code needs named blocks of positive sizes, got {self.blocks}")
        if self.posterior is None and not self.no_posterior:
            raise ValueError("a Code without a posterior must say why (no_posterior)")

    @property
    def dim(self) -> int:
        return sum(int(n) for _, n in self.blocks)

    def dim_names(self) -> list[str]:
        """One label per dimension: `z3` for a single block named z, `content.3` for several."""
        if len(self.blocks) == 1:
            name, n = self.blocks[0]
            return [f"{name}{i}" for i in range(int(n))]
        return [f"{name}.{i}" for name, n in self.blocks for i in range(int(n))]

    def layout(self) -> str:
        """`content 0-9, style 10-19`: which dimensions hold which block."""
        parts, start = [], 0
        for name, n in self.blocks:
            n = int(n)
            parts.append(f"{name} {start}" if n == 1 else f"{name} {start}-{start + n - 1}")
            start += n
        return ", ".join(parts)


# ----------------------------------------------------------------------------- what is trained


@dataclasses.dataclass(frozen=True)
class Method:
    """What one built method gives the loop and the evaluation (see the module docstring)."""

    name: str
    model: Any  # the Flax module whose parameters are TrainState.params
    dataset: Any  # the dataset it was built for; `sample_batch` draws from it
    init_state: Callable  # (key, batch) -> TrainState
    train_step: Callable  # (state, batch, key) -> (state, metrics)
    sample_batch: Callable  # (key, batch_size) -> batch
    codes: Mapping[str, Code]  # first = default; empty only with `no_code`
    pictures: Callable[[Any, jax.Array, Path], list] | None = None  # (params, key, workdir) -> paths
    evaluations: Callable[[Any, jax.Array], dict] | None = None  # (params, key) -> JSON-able dict
    diagnose: Callable[[Any, jax.Array], dict] | None = None  # (params, key) -> scalars, at logging steps
    no_code: str = ""  # why the method has no code to score, when `codes` is empty
    variables_of: Callable[[Any], Any] | None = None  # TrainState -> what the codes/pictures/evaluations take

    def __post_init__(self):
        if not self.codes and not self.no_code:
            raise ValueError(f"method {self.name!r} declares no code to score and does not say why (no_code)")

    def scored_params(self, state):
        """What the codes, pictures and evaluations receive as `params` from a trained `state`."""
        return state.params if self.variables_of is None else self.variables_of(state)

    @property
    def default_code(self) -> str:
        if not self.codes:
            raise ConfigError(f"method {self.name!r} has no code for the representation metrics: {self.no_code}")
        return next(iter(self.codes))

    def code(self, name: str | None = None) -> Code:
        """The code called `name` (default: the first); a one-line error names the others."""
        if name is None:
            return self.codes[self.default_code]
        if not self.codes:
            raise ConfigError(f"method {self.name!r} has no code {name!r} (nor any other): {self.no_code}")
        if name not in self.codes:
            raise ConfigError(f"method {self.name!r} has no code {name!r}; codes: {', '.join(self.codes)}")
        return self.codes[name]

    @property
    def representation(self) -> Callable[[Any, jax.Array], jax.Array]:
        """(params, x) -> [B, D]: the default code, what the metrics score."""
        return self.code().representation

    @property
    def posterior(self) -> Callable[[Any, jax.Array], GaussianPosterior] | None:
        """(params, x) -> GaussianPosterior of the default code's D dimensions, or None."""
        return self.code().posterior


# ----------------------------------------------------------------------------- hyperparameters


def hp_value(value):
    """A real-valued hyperparameter as a builder hands it to its objective: a Python float, or, in a
    sweep (`disentax.runner.sweep`), the traced per-model value the vmapped step passes in."""
    return value if isinstance(value, jax.Array) else float(value)


@dataclasses.dataclass(frozen=True)
class Check:
    """A condition on a hyperparameter's value and the words for it in an error message."""

    test: Callable[[Any], bool]
    allowed: str


def at_least(bound: float) -> Check:
    return Check(lambda v: v >= bound, f">= {bound:g}")


def greater_than(bound: float) -> Check:
    return Check(lambda v: v > bound, f"> {bound:g}")


def between(lo: float, hi: float) -> Check:
    return Check(lambda v: lo <= v <= hi, f"in [{lo:g}, {hi:g}]")


def one_of(*choices) -> Check:
    return Check(lambda v: v in choices, f"one of {', '.join(map(str, choices))}")


def positive_ints() -> Check:
    return Check(lambda v: len(v) > 0 and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in v),
                 "a tuple of positive integers like (32, 32)")


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of a method: its published default and where that default comes from.

    `name` may be dotted for a nested group (`discriminator.optimizer.learning_rate`). Values are
    typed by the default: an override of a float default must be a number, of a tuple a tuple.
    """

    name: str
    default: Any
    doc: str
    source: str = ""
    check: Check | None = None


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A registered method: what `disentax list` prints and what `disentax train` builds.

    - `build(config, dataset) -> Method`; the method's values are `config[name]`.
    - `hyperparameters`: the method's own keys (in `config[name]`) with their published defaults.
    - `shared_defaults`: values of shared keys the method needs unless a config says otherwise,
      e.g. {"model.likelihood": "logistic"}.
    - `check(config)`: conditions across keys (raise `disentax.errors.ConfigError`).
    """

    name: str
    build: Callable[[ml_collections.ConfigDict, Any], Method]
    summary: str
    paper: str
    hyperparameters: Sequence[Hyperparameter] = ()
    shared_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    check: Callable[[ml_collections.ConfigDict], None] | None = None

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"method name {self.name!r} must be a Python identifier (it names a config group)")
        names = [h.name for h in self.hyperparameters]
        if len(set(names)) != len(names):
            raise ValueError(f"method {self.name!r} declares a hyperparameter twice: {names}")

    def defaults(self) -> ml_collections.ConfigDict:
        """The method's config group, every hyperparameter at its default."""
        group = ml_collections.ConfigDict()
        for h in self.hyperparameters:
            node = group
            *path, leaf = h.name.split(".")
            for part in path:
                if part not in node:
                    node[part] = ml_collections.ConfigDict()
                node = node[part]
            node[leaf] = h.default
        return group
