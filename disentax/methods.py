"""Method registry: a method name -> how to build its model, objective, state and step.

`build(config, image_shape)` returns a `Method`; the training loop only sees
`method.init_state(key, x)` and `method.train_step(state, x, key)`, so methods with
extra networks (FactorVAE's discriminator) plug in by supplying their own pair.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import optax

from disentax import objectives
from disentax.models import VAE, build_vae
from disentax.train.optim import make_optimizer
from disentax.train.step import init_vae_state, make_vae_train_step


@dataclasses.dataclass(frozen=True)
class Method:
    """What the training loop needs to train one method."""

    name: str
    model: VAE
    tx: optax.GradientTransformation
    init_state: Callable  # (key, x) -> TrainState
    train_step: Callable  # (state, x, key) -> (state, metrics)
    objective: Callable | None = None  # (x, outputs, step) -> (loss, aux)


_BUILDERS: dict[str, Callable[[Any], Callable]] = {}
_VALIDATORS: dict[str, Callable[[Any], None]] = {}


def register(name: str, validator: Callable[[Any], None] | None = None):
    """Register `objective_builder(config) -> objective(x, outputs, step)` under `name`."""

    def wrap(builder):
        _BUILDERS[name] = builder
        if validator is not None:
            _VALIDATORS[name] = validator
        return builder

    return wrap


def available() -> list[str]:
    return sorted(_BUILDERS)


def validate(config) -> None:
    """Method-specific checks (hyperparameter ranges); raises ConfigError."""
    check = _VALIDATORS.get(config.method)
    if check is not None:
        check(config)


def _need(config, key: str, cond: Callable[[float], bool], what: str):
    from disentax.config import ConfigError

    if key not in config:
        raise ConfigError(f"config.{key} is required by method {config.method!r}")
    if not cond(config[key]):
        raise ConfigError(f"config.{key} must be {what}, got {config[key]}")


@register("vae")
def _vae(config):
    likelihood = config.model.likelihood

    def objective(x, o, step):
        return objectives.elbo(x, o["out"], o["mu"], o["logvar"], likelihood=likelihood)

    return objective


@register("beta_vae", validator=lambda c: _need(c, "beta", lambda v: v >= 0, ">= 0"))
def _beta_vae(config):
    likelihood, beta = config.model.likelihood, float(config.beta)

    def objective(x, o, step):
        return objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=beta, likelihood=likelihood)

    return objective


def _check_annealed(c):
    _need(c, "gamma", lambda v: v >= 0, ">= 0")
    _need(c, "c_max", lambda v: v >= 0, ">= 0")
    _need(c, "c_start", lambda v: 0 <= v <= c.c_max, "between 0 and config.c_max")
    _need(c, "c_steps", lambda v: v >= 1, "a positive number of steps")


@register("annealed_vae", validator=_check_annealed)
def _annealed_vae(config):
    likelihood = config.model.likelihood
    kw = dict(gamma=float(config.gamma), c_start=float(config.c_start), c_max=float(config.c_max),
              c_steps=int(config.c_steps))

    def objective(x, o, step):
        return objectives.annealed_vae(x, o["out"], o["mu"], o["logvar"], step=step, likelihood=likelihood, **kw)

    return objective


def build(config, image_shape: Sequence[int]) -> Method:
    """Build the method `config.method` for images of `image_shape` (H, W, C)."""
    if config.method not in _BUILDERS:
        raise ValueError(f"unknown method {config.method!r}; allowed: {', '.join(available())}")
    model = build_vae(config.model, image_shape)
    tx = make_optimizer(config.optimizer)
    objective = _BUILDERS[config.method](config)
    return Method(
        name=config.method,
        model=model,
        tx=tx,
        init_state=lambda key, x: init_vae_state(model, tx, key, x),
        train_step=make_vae_train_step(model, tx, objective),
        objective=objective,
    )
