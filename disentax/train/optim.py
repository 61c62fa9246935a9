"""Optimisers from config: thin constructors over optax."""
from __future__ import annotations

import optax

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def make_optimizer(opt_config, learning_rate=None) -> optax.GradientTransformation:
    """optax transformation for `config.optimizer` (name, learning_rate, b1, b2, eps, grad_clip).

    Default Adam(1e-4, β=(0.9, 0.999), ε=1e-8) as in disentanglement_lib; grad_clip > 0 clips
    the global gradient norm first. `learning_rate`, if given, replaces `opt_config.learning_rate`
    (an optax schedule, say).
    """
    name = opt_config.name
    lr = opt_config.learning_rate if learning_rate is None else learning_rate
    if name == "adam":
        tx = optax.adam(lr, b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps)
    elif name == "adamw":
        tx = optax.adamw(lr, b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps,
                         weight_decay=opt_config.get("weight_decay", 1e-4))
    elif name == "sgd":
        tx = optax.sgd(lr, momentum=opt_config.get("momentum", 0.9))
    elif name == "rmsprop":
        tx = optax.rmsprop(lr, eps=opt_config.eps)
    else:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    clip = float(opt_config.get("grad_clip", 0.0) or 0.0)
    if clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(clip), tx)
    return tx


def exponential_decay(opt_config, final: float, steps: int) -> optax.GradientTransformation:
    """`opt_config`'s optimiser with its learning rate annealed log-linearly from
    `opt_config.learning_rate` to `final` over `steps` steps, then held (`final <= 0`: constant)."""
    if final <= 0:
        return make_optimizer(opt_config)
    lr = float(opt_config.learning_rate)
    schedule = optax.exponential_decay(lr, transition_steps=int(steps), decay_rate=final / lr, end_value=final)
    return make_optimizer(opt_config, learning_rate=schedule)


__all__ = ["OPTIMIZERS", "exponential_decay", "make_optimizer"]
