"""Optimisers from config: thin constructors over optax."""
from __future__ import annotations

import optax


def make_optimizer(opt_config) -> optax.GradientTransformation:
    """optax transformation for `config.optimizer` (name, learning_rate, b1, b2, eps, grad_clip).

    Default Adam(1e-4, β=(0.9, 0.999), ε=1e-8) as in disentanglement_lib; grad_clip > 0 clips
    the global gradient norm first.
    """
    name = opt_config.name
    lr = opt_config.learning_rate
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
        raise ValueError(f"unknown optimizer {name!r}; allowed: adam, adamw, sgd, rmsprop")
    clip = float(opt_config.get("grad_clip", 0.0) or 0.0)
    if clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(clip), tx)
    return tx
