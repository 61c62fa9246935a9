"""ELBO, β-VAE and capacity-annealed β-VAE as registered methods."""
from __future__ import annotations

from disentax import objectives
from disentax.methods import need, register_objective


@register_objective("vae")
def _vae(config):
    likelihood = config.model.likelihood

    def objective(x, o, step):
        return objectives.elbo(x, o["out"], o["mu"], o["logvar"], likelihood=likelihood)

    return objective


@register_objective("beta_vae", validator=lambda c: need(c, "beta", lambda v: v >= 0, ">= 0"))
def _beta_vae(config):
    likelihood, beta = config.model.likelihood, float(config.beta)

    def objective(x, o, step):
        return objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=beta, likelihood=likelihood)

    return objective


def _check_annealed(c):
    need(c, "gamma", lambda v: v >= 0, ">= 0")
    need(c, "c_max", lambda v: v >= 0, ">= 0")
    need(c, "c_start", lambda v: 0 <= v <= c.c_max, "between 0 and config.c_max")
    need(c, "c_steps", lambda v: v >= 1, "a positive number of steps")


@register_objective("annealed_vae", validator=_check_annealed)
def _annealed_vae(config):
    likelihood = config.model.likelihood
    kw = dict(gamma=float(config.gamma), c_start=float(config.c_start), c_max=float(config.c_max),
              c_steps=int(config.c_steps))

    def objective(x, o, step):
        return objectives.annealed_vae(x, o["out"], o["mu"], o["logvar"], step=step, likelihood=likelihood, **kw)

    return objective
