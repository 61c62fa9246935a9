"""Method registry: a method name -> how to build its model, objective, state and step.

`build(config, image_shape)` returns a `Method`. The training loop only uses
`method.sample_batch`, `method.init_state`, `method.train_step` and (at the end)
`method.write_pictures`, so methods with other networks or batch structures (FactorVAE's
discriminator, semi-supervised batches, groups) plug in by supplying their own.

Two ways to add a method, each in its own module of this package:
- `@register_objective(name)` for a single-network VAE: a builder `config -> objective(x, outputs, step)`;
- `@register_method(name)` for anything else: a builder `(config, image_shape) -> Method`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import optax

from disentax.models import VAE, build_vae
from disentax.train.optim import make_optimizer
from disentax.train.step import init_vae_state, make_vae_train_step


def images_only(dataset, key, batch_size: int):
    """Default batch: `batch_size` images drawn uniformly from the dataset, made on device."""
    return dataset.sample(key, batch_size)[0]


@dataclasses.dataclass(frozen=True)
class Method:
    """What the training loop and the evaluation need from one method."""

    name: str
    model: Any  # the Flax module whose params live in TrainState.params
    tx: optax.GradientTransformation
    init_state: Callable  # (key, batch) -> TrainState
    train_step: Callable  # (state, batch, key) -> (state, metrics)
    objective: Callable | None = None  # (x, outputs, step) -> (loss, aux), for single-network VAEs
    sample_batch: Callable = images_only  # (dataset, key, batch_size) -> batch (jit-able)
    representation: Callable | None = None  # (params, x) -> codes [B, D]: what metrics score
    write_pictures: Callable | None = None  # (config, workdir, method, dataset, params, key) -> [paths]


_OBJECTIVES: dict[str, Callable[[Any], Callable]] = {}
_METHODS: dict[str, Callable[[Any, Sequence[int]], Method]] = {}
_VALIDATORS: dict[str, Callable[[Any], None]] = {}


def register_objective(name: str, validator: Callable[[Any], None] | None = None):
    """Register `builder(config) -> objective(x, outputs, step) -> (loss, aux)` for a VAE method."""

    def wrap(builder):
        _OBJECTIVES[name] = builder
        if validator is not None:
            _VALIDATORS[name] = validator
        return builder

    return wrap


def register_method(name: str, validator: Callable[[Any], None] | None = None):
    """Register `builder(config, image_shape) -> Method` for a method with its own step."""

    def wrap(builder):
        _METHODS[name] = builder
        if validator is not None:
            _VALIDATORS[name] = validator
        return builder

    return wrap


def available() -> list[str]:
    return sorted(set(_OBJECTIVES) | set(_METHODS))


def validate(config) -> None:
    """Method-specific checks (hyperparameter ranges); raises ConfigError."""
    check = _VALIDATORS.get(config.method)
    if check is not None:
        check(config)


def need(config, key: str, cond: Callable[[Any], bool], what: str):
    """Raise a one-line ConfigError unless `config[key]` exists and satisfies `cond`."""
    from disentax.config import ConfigError

    if key not in config:
        raise ConfigError(f"config.{key} is required by method {config.method!r}")
    if not cond(config[key]):
        raise ConfigError(f"config.{key} must be {what}, got {config[key]}")


def vae_representation(model: VAE):
    """The encoder mean μ(x): the representation the metrics score by default."""

    def representation(params, x):
        return model.apply({"params": params}, x, method=model.encode)[0]

    return representation


def build_vae_method(config, image_shape: Sequence[int], objective: Callable, diagnostics: Callable | None = None) -> Method:
    """A single-network VAE method from an objective(x, outputs, step).

    Unless `diagnostics` is given, every step also logs the ELBO decomposition (mutual_info,
    total_correlation, dimwise_kl; see methods.total_correlation.decomposition_diagnostics).
    """
    if diagnostics is None:
        from disentax.methods.total_correlation import decomposition_diagnostics

        diagnostics = decomposition_diagnostics(config)
    model = build_vae(config.model, image_shape)
    tx = make_optimizer(config.optimizer)
    return Method(
        name=config.method,
        model=model,
        tx=tx,
        # One compilation instead of op-by-op dispatch of every initialiser (seconds on CPU).
        init_state=jax.jit(lambda key, x: init_vae_state(model, tx, key, x)),
        train_step=make_vae_train_step(model, tx, objective, diagnostics),
        objective=objective,
        representation=vae_representation(model),
    )


def build(config, image_shape: Sequence[int]) -> Method:
    """Build the method `config.method` for images of `image_shape` (H, W, C)."""
    if config.method in _METHODS:
        return _METHODS[config.method](config, image_shape)
    if config.method in _OBJECTIVES:
        return build_vae_method(config, image_shape, _OBJECTIVES[config.method](config))
    raise ValueError(f"unknown method {config.method!r}; allowed: {', '.join(available())}")


# Method families register themselves on import.
from disentax.methods import vae_family  # noqa: E402,F401
from disentax.methods import total_correlation  # noqa: E402,F401
from disentax.methods import weak_supervision  # noqa: E402,F401
from disentax.methods import factor_vae  # noqa: E402,F401

from disentax.methods import objects  # noqa: E402,F401
