"""The ML-VAE (Bouchacourt et al. (2018)): a style code per observation, a content code per group.

Batches are {"x", "segment_ids", "group_values", ...} of G = batch_size // group_size groups sharing
one value of `group_factor`, flat with `segment_ids` so ragged groups batch together. The content
posterior of a group is the product of its members' Gaussians (Eq. 7); the loss is the negative
group ELBO (Algorithm 1).

Codes scored: "all" = [content means, style means], the content from q(c|x) of each image alone
(test-time strategy 1 of Sec. 4: every image its own group), and "content" and "style" apart.
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import viz
from disentax.data.groups import group_batch_sampler
from disentax.methods.common import concatenated, gaussian_code
from disentax.methods.contract import Hyperparameter, Method, MethodSpec, at_least
from disentax.methods.registry import need, register
from disentax.models.structured import build_grouped_vae
from disentax.objectives import grouped as grouped_obj
from disentax.objectives.elbo import reconstruction_mean
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step


def _build(config, dataset) -> Method:
    hp = config.ml_vae
    s_dim, c_dim = int(hp.style_dim), int(hp.content_dim)
    model = build_grouped_vae(config.model, dataset.image_shape, style_dim=s_dim, content_dim=c_dim)
    tx = make_optimizer(config.optimizer)
    likelihood = config.model.likelihood
    sampler = group_batch_sampler(hp.group_factor, int(hp.group_size), bool(hp.ragged_groups))
    num_groups = int(config.batch_size) // int(hp.group_size)

    def init_state(key, batch):
        k_init, k_fwd = jax.random.split(key)
        return TrainState.create(model.init(k_init, batch["x"], k_fwd, batch["segment_ids"], num_groups)["params"], tx)

    def loss_fn(params, batch, key, state):
        g = batch["group_values"].shape[0]
        o = model.apply({"params": params}, batch["x"], key, batch["segment_ids"], g)
        loss, aux = grouped_obj.ml_vae(batch["x"], o["out"], o["mu_s"], o["logvar_s"], o["mu_c"], o["logvar_c"],
                                       batch["segment_ids"], g, likelihood=likelihood, mu_g=o["mu_g"],
                                       logvar_g=o["logvar_g"])
        return loss, (aux, None)

    def content(params, x):
        return model.apply({"params": params}, x, method=model.encode)[2:]

    def style(params, x):
        return model.apply({"params": params}, x, method=model.encode)[:2]

    alone = "q(c|x) of each image alone (test-time strategy 1)"
    codes = {
        "all": gaussian_code(concatenated(content, style), (("content", c_dim), ("style", s_dim)),
                             f"content means of {alone}, then style means of q(s|x)"),
        "content": gaussian_code(content, (("content", c_dim),), f"content means of {alone}"),
        "style": gaussian_code(style, (("style", s_dim),), "style means of q(s|x)"),
    }
    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=functools.partial(sampler, dataset),
                  codes=codes, pictures=_pictures(config, dataset, model))


def group_codes(model, params, x, segment_ids, num_groups: int):
    """Test-time inference (Bouchacourt et al. (2018), Sec. 4). Strategy 1: `segment_ids = arange(N)` (each image its
    own group); strategy 2: images of a group share an id and accumulate evidence on the content.

    Returns (mu_s, logvar_s) [N, S] per image and (mu_G, logvar_G) [G, C] per group.
    """
    mu_s, logvar_s, mu_c, logvar_c = model.apply({"params": params}, x, method=model.encode)
    mu_g, logvar_g = grouped_obj.product_of_gaussians(mu_c, logvar_c, jnp.asarray(segment_ids), num_groups)
    return (mu_s, logvar_s), (mu_g, logvar_g)


def _decode_mean(model, params, c, s, likelihood):
    return reconstruction_mean(model.apply({"params": params}, c, s, method=model.decode), likelihood)


def swapping_images(model, params, x, segment_ids, num_groups: int, likelihood: str):
    """Swapping (Bouchacourt et al. (2018), Fig. 4) for `num_groups` groups, each shown by its first member.

    Returns (inputs [G], reconstructions [G] (own style, own group content), swaps [G, G]) with
    swaps[i, j] = decode(c_{G_j}, s_i): a row holds a style fixed, a column a content. Codes are
    posterior means; jit-able (`segment_ids` may be traced).
    """
    segment_ids = jnp.asarray(segment_ids)
    (mu_s, _), (mu_g, _) = group_codes(model, params, x, segment_ids, num_groups)
    first = jax.ops.segment_min(jnp.arange(x.shape[0]), segment_ids, num_segments=num_groups)
    xs, ss = x[first], mu_s[first]
    recon = _decode_mean(model, params, mu_g, ss, likelihood)
    c = jnp.tile(mu_g, (num_groups, 1))
    s = jnp.repeat(ss, num_groups, 0)
    swaps = _decode_mean(model, params, c, s, likelihood).reshape(num_groups, num_groups, *x.shape[1:])
    return xs, recon, swaps


def swapping_grid(xs, recon, swaps):
    """Rows for `viz.image_grid`: row 0 inputs, row 1 reconstructions, then per style i: input i,
    its reconstruction, and the swaps (blank grey corner)."""
    xs, recon, swaps = np.asarray(xs), np.asarray(recon), np.asarray(swaps)
    blank = np.full(xs.shape[1:], 0.5, np.float32)
    rows = [[blank, blank] + list(xs), [blank, blank] + list(recon)]
    for i in range(xs.shape[0]):
        rows.append([xs[i], recon[i]] + list(swaps[i]))
    return rows


def interpolation_images(model, params, x_a, x_b, likelihood: str, steps: int = 7):
    """Interpolation grid (Bouchacourt et al. (2018), Fig. 5) between two images (strategy 1 codes, posterior means):
    row i holds a style (s_a → s_b) fixed while the content moves c_a → c_b along the columns."""
    mu_s, _, mu_c, _ = model.apply({"params": params}, jnp.stack([x_a, x_b]), method=model.encode)
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    s = (1 - t) * mu_s[0] + t * mu_s[1]
    c = (1 - t) * mu_c[0] + t * mu_c[1]
    imgs = _decode_mean(model, params, jnp.tile(c, (steps, 1)), jnp.repeat(s, steps, 0), likelihood)
    return imgs.reshape(steps, steps, *x_a.shape)


def generation_images(model, params, key, x, segment_ids, num_groups: int, num_styles: int, likelihood: str):
    """Generation (Bouchacourt et al. (2018), Fig. 6a): per group, the mean of q(c_G|X_G) decoded with styles drawn
    from the prior N(0, I). Returns [G, num_styles, H, W, C]."""
    _, (mu_g, _) = group_codes(model, params, x, segment_ids, num_groups)
    s = jax.random.normal(key, (num_styles, model.style_dim))
    c = jnp.repeat(mu_g, num_styles, 0)
    imgs = _decode_mean(model, params, c, jnp.tile(s, (num_groups, 1)), likelihood)
    return imgs.reshape(num_groups, num_styles, *x.shape[1:])


def accumulation_images(model, params, x, segment_ids, num_groups: int, likelihood: str):
    """Bouchacourt et al. (2018), Fig. 6b: inputs, reconstructions with strategy 1 (own content), with strategy 2 (group content).
    Returns [N, 3, H, W, C]."""
    n = x.shape[0]
    (mu_s, _), (mu_1, _) = group_codes(model, params, x, jnp.arange(n), n)
    _, (mu_g, _) = group_codes(model, params, x, segment_ids, num_groups)
    r1 = _decode_mean(model, params, mu_1, mu_s, likelihood)
    r2 = _decode_mean(model, params, mu_g[jnp.asarray(segment_ids)], mu_s, likelihood)
    return jnp.stack([x, r1, r2], 1)


def _pictures(config, dataset, model):
    """swapping.png, interpolation.png, generation.png, accumulation.png (Figs. 4-6) from groups of
    `viz_group_size` images."""
    lik = config.model.likelihood
    n = max(4, min(int(config.num_viz_images), 10))
    k = int(config.ml_vae.viz_group_size)
    sampler = group_batch_sampler(config.ml_vae.group_factor, k)
    on_host = getattr(dataset, "on_host", False)

    def pictures(params, key, workdir):
        workdir = Path(workdir)
        k_batch, k_gen = jax.random.split(key)
        host_batch = sampler(dataset, k_batch, n * k) if on_host else None  # read outside jit

        @jax.jit  # one compilation for all pictures instead of op-by-op dispatch
        def arrays(params, k_batch, k_gen, host_batch):
            batch = host_batch if on_host else sampler(dataset, k_batch, n * k)
            x, seg = batch["x"], batch["segment_ids"]
            return {
                "x": x,
                "swap": swapping_images(model, params, x, seg, n, lik),
                "interp": interpolation_images(model, params, x[0], x[k], lik),
                "gen": generation_images(model, params, k_gen, x, seg, n, 8, lik),
                "acc": accumulation_images(model, params, x[: 4 * k], seg[: 4 * k], 4, lik),
            }

        a = jax.tree.map(np.asarray, arrays(params, k_batch, k_gen, host_batch))
        paths = [workdir / f"{name}.png" for name in ("swapping", "interpolation", "generation", "accumulation")]
        viz.image_grid(swapping_grid(*a["swap"])).save(paths[0])
        viz.image_grid([list(r) for r in a["interp"]]).save(paths[1])
        members = a["x"].reshape(n, k, *a["x"].shape[1:])
        viz.image_grid([list(members[g]) + list(a["gen"][g]) for g in range(n)]).save(paths[2])
        viz.image_grid([list(r) for r in a["acc"]]).save(paths[3])
        return paths

    return pictures


def _check(c):
    hp = c.ml_vae
    need(c, "group_size", int(hp.group_size) <= int(c.batch_size), "<= config.batch_size")
    need(c, "group_size", bool(hp.ragged_groups) or int(c.batch_size) % int(hp.group_size) == 0,
         "a divisor of config.batch_size (or set config.ml_vae.ragged_groups=true)")


_B = "Bouchacourt et al. (2018)"
ML_VAE = register(MethodSpec(
    name="ml_vae", build=_build, paper=_B,
    summary="style per observation, content per group of observations sharing a factor (product of Gaussians)",
    hyperparameters=(
        Hyperparameter("group_factor", "label", "the factor a group shares (a factor name of the dataset)",
                       _B + ": MNIST grouped by digit"),
        Hyperparameter("group_size", 10, "images per group (the mean size with ragged groups)",
                       "chosen here: the paper does not state it", at_least(1)),
        Hyperparameter("ragged_groups", False, "random group sizes, redrawn every batch", ""),
        Hyperparameter("style_dim", 10, "dimensions of the style code s", _B + ", Sec. 4 (MNIST)", at_least(1)),
        Hyperparameter("content_dim", 10, "dimensions of the content code c", _B + ", Sec. 4 (MNIST)", at_least(1)),
        Hyperparameter("viz_group_size", 5, "images per group in the end-of-training pictures", "", at_least(1)),
    ),
    # 10 groups of 10 images: the MNIST batches of configs/ml_vae_digits.py.
    shared_defaults={"batch_size": 100},
    check=_check,
))
