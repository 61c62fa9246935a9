"""Weak supervision: the semi-supervised structured VAE (seed 002) and the ML-VAE (seed 004).

Both register full builders (`register_method`) with their own batches, state, step,
representation and pictures:

- ``semi_supervised``: batches {"x", "labels", "supervised"}; one jitted step selects Eq. 4 or
  Eq. 2 from the traced flag. Config: `label_factor`, `labels_per_class` (l), `supervision_rate`
  (r), `estimator` (plugin | concrete), `temperature`, `alpha`, `labelled_seed`, and optionally
  `regression_factors` (factor names of a grid, default none: continuous partially-supervised
  latents, batches then carry "targets").
- ``ml_vae``: batches {"x", "segment_ids", ...} of G = batch_size // group_size groups. Config:
  `group_factor`, `group_size`, `ragged_groups`, `style_dim`, `content_dim`.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from disentax.methods import Method, need, register_method
from disentax.models.structured import build_grouped_vae, build_structured_vae
from disentax.objectives import grouped as grouped_obj
from disentax.objectives import semi_supervised as ss_obj
from disentax.objectives.elbo import reconstruction_mean
from disentax.train.optim import make_optimizer
from disentax.train.state import TrainState

__all__ = ["build_semi_supervised", "build_ml_vae"]


def _dataset_for(config):
    from disentax.data.registry import get_dataset

    return get_dataset(config.dataset)


def _apply_grads(tx, state, loss_and_grad, *args):
    (loss, aux), grads = loss_and_grad(state.params, *args)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads)}
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics


# ---------------------------------------------------------------------------------------------
# Semi-supervised structured VAE
# ---------------------------------------------------------------------------------------------


def _check_semi_supervised(c):
    need(c, "label_factor", lambda v: isinstance(v, (str, int)), "a factor name or index")
    need(c, "labels_per_class", lambda v: int(v) >= 0, "an integer >= 0")
    need(c, "supervision_rate", lambda v: 0.0 <= float(v) <= 1.0, "in [0, 1]")
    need(c, "supervision_rate", lambda v: float(v) == 0.0 or int(c.labels_per_class) >= 1,
         "0 when config.labels_per_class is 0")
    need(c, "estimator", lambda v: v in ss_obj.ESTIMATORS, f"one of {', '.join(ss_obj.ESTIMATORS)}")
    need(c, "temperature", lambda v: float(v) > 0, "> 0")
    need(c, "alpha", lambda v: float(v) >= 0, ">= 0")
    need(c, "labelled_seed", lambda v: int(v) >= 0, "an integer >= 0")
    if "regression_factors" in c:
        need(c, "regression_factors", lambda v: isinstance(v, (tuple, list)) and all(isinstance(f, (str, int)) for f in v),
             "a tuple of factor names, e.g. ('pos_x',)")


def _regression_factors(config) -> tuple:
    return tuple(config.get("regression_factors", ()) or ())


@register_method("semi_supervised", validator=_check_semi_supervised)
def build_semi_supervised(config, image_shape, dataset=None) -> Method:
    """Siddharth et al. 2017 (seed 002) class-conditional model q(y|x) q(z|x,y), p(x|y,z)."""
    from disentax.data.labelled import (label_classes, labelled_indices, regression_columns,
                                        semi_supervised_sampler)

    dataset = _dataset_for(config) if dataset is None else dataset
    column, num_classes = label_classes(dataset, config.label_factor)
    regressed = regression_columns(dataset, _regression_factors(config), config.label_factor)
    estimator, temperature = str(config.estimator), float(config.temperature)
    alpha, likelihood = float(config.alpha), config.model.likelihood
    model = build_structured_vae(config.model, image_shape, num_classes, estimator=estimator, temperature=temperature,
                                 num_regressed=len(regressed))
    tx = make_optimizer(config.optimizer)
    labelled = labelled_indices(dataset, column, int(config.labels_per_class), int(config.labelled_seed))
    sample_batch = semi_supervised_sampler(column, labelled, float(config.supervision_rate), regression=regressed)

    def targets(batch):  # extra model inputs; none without regressed latents (the call is unchanged)
        return {"targets": batch["targets"]} if regressed else {}

    def init_state(key, batch):
        k_init, k_fwd = jax.random.split(key)
        params = model.init(k_init, batch["x"], k_fwd, batch["labels"], batch["supervised"], **targets(batch))["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra={})

    def loss_fn(params, batch, key):
        o = model.apply({"params": params}, batch["x"], key, batch["labels"], batch["supervised"], **targets(batch))
        extra = {"c_mu": o["c_mu"], "c_logvar": o["c_logvar"], "c_target": batch["targets"]} if regressed else {}
        return ss_obj.semi_supervised_vae(batch["x"], o["out"], o["mu"], o["logvar"], o["y_logits"], batch["labels"],
                                      batch["supervised"], estimator=estimator, log_y=o["log_y"],
                                      temperature=temperature, alpha=alpha, likelihood=likelihood, **extra)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, batch, key):
        return _apply_grads(tx, state, grad_fn, batch, key)

    def representation(params, x):
        logits, mu, _ = model.apply({"params": params}, x, method=model.encode)
        if regressed:  # [ρ, mean of q(c|x), μ_z]
            c_mu, _ = model.apply({"params": params}, x, method=model.regress)
            return jnp.concatenate([jax.nn.softmax(logits, -1), c_mu, mu], -1)
        return jnp.concatenate([jax.nn.softmax(logits, -1), mu], -1)

    return Method(name=config.method, model=model, tx=tx, init_state=init_state, train_step=train_step,
                  sample_batch=sample_batch, representation=representation,
                  write_pictures=_semi_supervised_pictures)


def analogy_images(model, params, x, likelihood: str):
    """Visual analogies (seed 002 Fig. 4a): per input, its reconstruction, then its inferred style
    z = μ(x, ŷ) (ŷ the predicted class, one-hot) decoded with every class y.

    Returns [N, 2 + K, H, W, C]: input, reconstruction, one image per class.
    """
    logits = model.apply({"params": params}, x, method=model.classify)
    k = logits.shape[-1]
    y_hat = jax.nn.one_hot(jnp.argmax(logits, -1), k)
    _, mu, _ = model.apply({"params": params}, x, y_hat, method=model.encode)
    # Regressed latents (if any) stay at the mean of q(c|x), with the style.
    c = model.apply({"params": params}, x, method=model.regress)[0] if model.num_regressed else None
    recon = reconstruction_mean(model.apply({"params": params}, y_hat, mu, c, method=model.decode), likelihood)
    ys = jnp.repeat(jnp.eye(k)[None], x.shape[0], 0).reshape(-1, k)
    zs = jnp.repeat(mu, k, 0)
    cs = None if c is None else jnp.repeat(c, k, 0)
    varied = reconstruction_mean(model.apply({"params": params}, ys, zs, cs, method=model.decode), likelihood)
    varied = varied.reshape(x.shape[0], k, *x.shape[1:])
    return jnp.concatenate([x[:, None], recon[:, None], varied], 1)


def regression_traversal_images(model, params, x, likelihood: str, steps: int = 9, limit: float = 2.0):
    """Per input and regressed latent r: its reconstruction with c_r swept over `steps` values in
    [−limit, limit] (standardised units), the class fixed at ŷ, the style at z = μ(x, ŷ, m(x)) and
    the other regressed latents at their means. Returns [R, N, 1 + steps, H, W, C] (input first)."""
    logits = model.apply({"params": params}, x, method=model.classify)
    y_hat = jax.nn.one_hot(jnp.argmax(logits, -1), logits.shape[-1])
    c_mu, _ = model.apply({"params": params}, x, method=model.regress)
    _, mu, _ = model.apply({"params": params}, x, y_hat, c_mu, method=model.encode)
    n, r = x.shape[0], c_mu.shape[-1]
    values = jnp.linspace(-limit, limit, steps)
    rows = []
    for d in range(r):
        cs = jnp.repeat(c_mu, steps, 0).at[:, d].set(jnp.tile(values, n))
        out = model.apply({"params": params}, jnp.repeat(y_hat, steps, 0), jnp.repeat(mu, steps, 0), cs,
                          method=model.decode)
        imgs = reconstruction_mean(out, likelihood).reshape(n, steps, *x.shape[1:])
        rows.append(jnp.concatenate([x[:, None], imgs], 1))
    return jnp.stack(rows)


def _semi_supervised_pictures(config, workdir, method, dataset, params, key):
    from disentax import viz

    n = int(config.num_viz_images)
    model, lik = method.model, config.model.likelihood
    if getattr(dataset, "on_host", False):  # read on the host, outside jit
        x = jnp.asarray(dataset.sample(key, n)[0])
        imgs = np.asarray(jax.jit(lambda p, x: analogy_images(model, p, x, lik))(params, x))
    else:
        imgs = np.asarray(jax.jit(lambda p, k: analogy_images(model, p, dataset.sample(k, n)[0], lik))(params, key))
    path = Path(workdir) / "analogies.png"
    viz.image_grid([list(r) for r in imgs]).save(path)
    recon = Path(workdir) / "reconstructions.png"
    viz.save_reconstructions(recon, imgs[:, 0], imgs[:, 1])
    if not model.num_regressed:
        return [path, recon]
    # The regressed latents, one block of rows each: input, then c_r from −2 to 2 (standardised).
    x = jnp.asarray(imgs[:, 0])
    trav = np.asarray(jax.jit(lambda p, x: regression_traversal_images(model, p, x, lik))(params, x))
    reg = Path(workdir) / "regression_traversal.png"
    viz.image_grid([list(row) for block in trav for row in block]).save(reg)
    return [path, recon, reg]


# ---------------------------------------------------------------------------------------------
# ML-VAE
# ---------------------------------------------------------------------------------------------


def _check_ml_vae(c):
    need(c, "group_factor", lambda v: isinstance(v, (str, int)), "a factor name or index")
    need(c, "group_size", lambda v: int(v) >= 1, "an integer >= 1")
    need(c, "group_size", lambda v: int(v) <= int(c.batch_size), "<= config.batch_size")
    need(c, "ragged_groups", lambda v: isinstance(v, bool), "true or false")
    need(c, "group_size", lambda v: c.ragged_groups or int(c.batch_size) % int(v) == 0,
         "a divisor of config.batch_size (or set config.ragged_groups=true)")
    need(c, "style_dim", lambda v: int(v) >= 1, "an integer >= 1")
    need(c, "content_dim", lambda v: int(v) >= 1, "an integer >= 1")


@register_method("ml_vae", validator=_check_ml_vae)
def build_ml_vae(config, image_shape, dataset=None) -> Method:
    """Bouchacourt et al. 2018 (seed 004): style per observation, content per group (Algorithm 1)."""
    from disentax.data.groups import group_batch_sampler

    model = build_grouped_vae(config.model, image_shape, style_dim=int(config.style_dim),
                              content_dim=int(config.content_dim))
    tx = make_optimizer(config.optimizer)
    likelihood = config.model.likelihood
    sample_batch = group_batch_sampler(config.group_factor, int(config.group_size), bool(config.ragged_groups))
    num_groups = int(config.batch_size) // int(config.group_size)

    def init_state(key, batch):
        k_init, k_fwd = jax.random.split(key)
        params = model.init(k_init, batch["x"], k_fwd, batch["segment_ids"], num_groups)["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra={})

    def loss_fn(params, batch, key):
        g = batch["group_values"].shape[0]
        o = model.apply({"params": params}, batch["x"], key, batch["segment_ids"], g)
        return grouped_obj.ml_vae(batch["x"], o["out"], o["mu_s"], o["logvar_s"], o["mu_c"], o["logvar_c"],
                                  batch["segment_ids"], g, likelihood=likelihood, mu_g=o["mu_g"],
                                  logvar_g=o["logvar_g"])

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, batch, key):
        return _apply_grads(tx, state, grad_fn, batch, key)

    def representation(params, x):
        mu_s, _, mu_c, _ = model.apply({"params": params}, x, method=model.encode)
        return jnp.concatenate([mu_c, mu_s], -1)

    return Method(name=config.method, model=model, tx=tx, init_state=init_state, train_step=train_step,
                  sample_batch=sample_batch, representation=representation, write_pictures=_ml_vae_pictures)


def group_codes(model, params, x, segment_ids, num_groups: int):
    """Test-time inference (seed 004 Sec. 4). Strategy 1: `segment_ids = arange(N)` (each image its
    own group); strategy 2: images of a group share an id and accumulate evidence on the content.

    Returns (mu_s, logvar_s) [N, S] per image and (mu_G, logvar_G) [G, C] per group.
    """
    mu_s, logvar_s, mu_c, logvar_c = model.apply({"params": params}, x, method=model.encode)
    mu_g, logvar_g = grouped_obj.product_of_gaussians(mu_c, logvar_c, jnp.asarray(segment_ids), num_groups)
    return (mu_s, logvar_s), (mu_g, logvar_g)


def _decode_mean(model, params, c, s, likelihood):
    return reconstruction_mean(model.apply({"params": params}, c, s, method=model.decode), likelihood)


def swapping_images(model, params, x, segment_ids, num_groups: int, likelihood: str):
    """Swapping (seed 004 Fig. 4) for `num_groups` groups, each shown by its first member.

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
    """Interpolation grid (seed 004 Fig. 5) between two images (strategy 1 codes, posterior means):
    row i holds a style (s_a → s_b) fixed while the content moves c_a → c_b along the columns."""
    mu_s, _, mu_c, _ = model.apply({"params": params}, jnp.stack([x_a, x_b]), method=model.encode)
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    s = (1 - t) * mu_s[0] + t * mu_s[1]
    c = (1 - t) * mu_c[0] + t * mu_c[1]
    imgs = _decode_mean(model, params, jnp.tile(c, (steps, 1)), jnp.repeat(s, steps, 0), likelihood)
    return imgs.reshape(steps, steps, *x_a.shape)


def generation_images(model, params, key, x, segment_ids, num_groups: int, num_styles: int, likelihood: str):
    """Generation (seed 004 Fig. 6a): per group, the mean of q(c_G|X_G) decoded with styles drawn
    from the prior N(0, I). Returns [G, num_styles, H, W, C]."""
    _, (mu_g, _) = group_codes(model, params, x, segment_ids, num_groups)
    s = jax.random.normal(key, (num_styles, model.style_dim))
    c = jnp.repeat(mu_g, num_styles, 0)
    imgs = _decode_mean(model, params, c, jnp.tile(s, (num_groups, 1)), likelihood)
    return imgs.reshape(num_groups, num_styles, *x.shape[1:])


def accumulation_images(model, params, x, segment_ids, num_groups: int, likelihood: str):
    """Fig. 6b: inputs, reconstructions with strategy 1 (own content), with strategy 2 (group content).
    Returns [N, 3, H, W, C]."""
    n = x.shape[0]
    (mu_s, _), (mu_1, _) = group_codes(model, params, x, jnp.arange(n), n)
    _, (mu_g, _) = group_codes(model, params, x, segment_ids, num_groups)
    r1 = _decode_mean(model, params, mu_1, mu_s, likelihood)
    r2 = _decode_mean(model, params, mu_g[jnp.asarray(segment_ids)], mu_s, likelihood)
    return jnp.stack([x, r1, r2], 1)


def _ml_vae_pictures(config, workdir, method, dataset, params, key):
    from disentax import viz
    from disentax.data.groups import group_batch_sampler

    workdir = Path(workdir)
    model, lik = method.model, config.model.likelihood
    n = max(4, min(int(config.num_viz_images), 10))
    k = max(1, int(config.get("viz_group_size", 5)))
    k_batch, k_gen = jax.random.split(key)

    sampler = group_batch_sampler(config.group_factor, k)
    on_host = getattr(dataset, "on_host", False)
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
