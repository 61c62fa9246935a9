"""FactorVAE: objectives against float64 / closed forms, gradient isolation, training and resume."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from disentax import config as cfg
from disentax import methods, objectives
from disentax.data.registry import get_dataset
from disentax.methods.factor_vae import make_factor_vae_losses, make_factor_vae_train_step, one_batch
from disentax.models.discriminators import LatentDiscriminator
from disentax.objectives.factor import discriminator_tc, factor_vae_discriminator_loss, permute_dims
from disentax.runner import loop
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics

from helpers import QUICK, TINY_MODEL, configure, same_leaves, train_until_interrupted


def small_config(**overrides):
    return configure("factor_vae_dsprites", **{
        **QUICK, "log_every": 10, "checkpoint_every": 20, **TINY_MODEL, "optimizer.learning_rate": 1e-3,
        "hp.discriminator.hidden": (16, 16), "hp.discriminator.optimizer.learning_rate": 1e-3, **overrides})


# ---------------------------------------------------------------------------- objectives


def _np_disc_loss(lq, lp):
    lq, lp = np.asarray(lq, np.float64), np.asarray(lp, np.float64)
    log_q0 = lq[:, 0] - np.logaddexp(lq[:, 0], lq[:, 1])
    log_p1 = lp[:, 1] - np.logaddexp(lp[:, 0], lp[:, 1])
    return -0.5 * (log_q0.mean() + log_p1.mean())


def test_discriminator_loss_matches_float64_including_extreme_logits():
    rng = np.random.default_rng(0)
    lq = rng.normal(size=(7, 2)) * 3
    lp = rng.normal(size=(5, 2)) * 3
    # Saturated rows, right and wrong: correct ones cost ~0, wrong ones ~200 nats each.
    lq[0], lq[1], lq[2] = (100.0, -100.0), (-100.0, 100.0), (100.0, 100.0)
    lp[0], lp[1] = (100.0, -100.0), (-100.0, 100.0)
    loss, aux = factor_vae_discriminator_loss(jnp.asarray(lq, jnp.float32), jnp.asarray(lp, jnp.float32))
    np.testing.assert_allclose(float(loss), _np_disc_loss(lq, lp), rtol=1e-6)
    assert float(aux["accuracy_q"]) == pytest.approx(np.mean(np.argmax(lq, -1) == 0), rel=1e-6)
    assert float(aux["accuracy_perm"]) == pytest.approx(np.mean(np.argmax(lp, -1) == 1), rel=1e-6)
    np.testing.assert_allclose(float(aux["tc"]), np.mean(lq[:, 0] - lq[:, 1]), rtol=1e-6)
    # Its gradient is finite at saturation too.
    g = jax.grad(lambda a, b: factor_vae_discriminator_loss(a, b)[0], argnums=(0, 1))(
        jnp.asarray(lq, jnp.float32), jnp.asarray(lp, jnp.float32))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


def test_factor_vae_loss_is_elbo_plus_gamma_times_logit_difference():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.uniform(size=(6, 4, 4, 1)) > 0.5, jnp.float32)
    out = jnp.asarray(rng.normal(size=(6, 4, 4, 1)), jnp.float32)
    mu, logvar = (jnp.asarray(rng.normal(size=(6, 3)), jnp.float32) for _ in range(2))
    logits = jnp.asarray(rng.normal(size=(6, 2)) * 5, jnp.float32)
    loss, aux = objectives.factor_vae_loss(x, out, mu, logvar, gamma=35.0, disc_logits=logits)
    elbo_loss, _ = objectives.elbo(x, out, mu, logvar)
    # log D/(1-D) with D = softmax(logits)[0], in float64.
    l = np.asarray(logits, np.float64)
    d = np.exp(l[:, 0] - np.logaddexp(l[:, 0], l[:, 1]))
    tc = np.mean(np.log(d / (1 - d)))
    np.testing.assert_allclose(float(aux["tc"]), tc, rtol=1e-5)
    np.testing.assert_allclose(float(loss), float(elbo_loss) + 35.0 * tc, rtol=1e-5)
    with pytest.raises(ValueError, match="disc_logits"):
        objectives.factor_vae_loss(x, out, mu, logvar, gamma=1.0, disc_logits=logits[:, :1])


def test_permute_dims_keeps_each_column_and_removes_correlation():
    n, draws = 256, 200
    key = jax.random.PRNGKey(0)
    base = jax.random.normal(key, (n, 1))
    # Four strongly correlated columns (pairwise correlation ~0.99).
    z = base + 0.1 * jax.random.normal(jax.random.PRNGKey(1), (n, 4))
    before = np.corrcoef(np.asarray(z).T)[np.triu_indices(4, 1)]
    assert before.min() > 0.97

    perm = jax.jit(jax.vmap(permute_dims, in_axes=(0, None)))(jax.random.split(jax.random.PRNGKey(2), draws), z)
    perm = np.asarray(perm)
    np.testing.assert_array_equal(np.sort(perm, axis=1), np.broadcast_to(np.sort(np.asarray(z), axis=0), perm.shape))
    corr = np.stack([np.corrcoef(p.T)[np.triu_indices(4, 1)] for p in perm])  # [draws, 6 pairs]
    # Independent columns: each correlation ~ N(0, 1/n) (sd 0.0625); its mean over 200 draws has sd 0.0044.
    assert np.abs(corr.mean(axis=0)).max() < 0.02, corr.mean(axis=0)
    assert np.abs(corr).mean() < 0.08
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        permute_dims(key, z[0])


def test_trained_discriminator_recovers_gaussian_total_correlation():
    """A bivariate Gaussian with correlation ρ has TC = −½·log(1 − ρ²) (= its mutual information).

    ρ = 0.9 → 0.8304 nats. Tolerance 0.1 nats (12 %): over seeds 0–3 and several small-MLP /
    batch / step settings the estimate landed 0.00–0.07 nats below the truth — a cross-entropy
    discriminator slightly underfits the far tails of the log density ratio (a quadratic form)
    and permuting a finite batch only approximates the product of marginals; the Monte Carlo
    error of the 10⁵-sample evaluation is ≈ 0.005.
    """
    rho = 0.9
    true_tc = -0.5 * np.log(1 - rho**2)
    chol = jnp.asarray(np.linalg.cholesky([[1.0, rho], [rho, 1.0]]).T, jnp.float32)
    draw = lambda k, n: jax.random.normal(k, (n, 2)) @ chol
    disc = LatentDiscriminator(hidden=(64, 64))
    key = jax.random.PRNGKey(0)
    params = disc.init(key, jnp.zeros((1, 2)))["params"]
    tx = optax.adam(2e-3)

    def step(i, carry):
        params, opt = carry
        k1, k2, k3 = jax.random.split(jax.random.fold_in(key, i), 3)
        zq, zp = draw(k1, 1024), permute_dims(k3, draw(k2, 1024))
        grads = jax.grad(lambda p: factor_vae_discriminator_loss(disc.apply({"params": p}, zq),
                                                                 disc.apply({"params": p}, zp))[0])(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt

    params, _ = jax.jit(lambda p: jax.lax.fori_loop(0, 400, step, (p, tx.init(p))))(params)
    estimate = float(jnp.mean(discriminator_tc(disc.apply({"params": params}, draw(jax.random.PRNGKey(99), 100_000)))))
    assert abs(estimate - true_tc) < 0.1, (estimate, true_tc)


# ---------------------------------------------------------------------------- the step


@pytest.fixture(scope="module")
def built():
    c = small_config(**{"hp.discriminator.steps_per_vae_step": 2})
    dataset = get_dataset(c.dataset)
    method = methods.build(c, dataset)
    batch = jax.jit(lambda k: method.sample_batch(k, 16))(jax.random.PRNGKey(0))
    state = method.init_state(jax.random.PRNGKey(1), batch)
    return c, dataset, method, batch, state


def test_gradient_isolation_between_vae_and_discriminator(built):
    c, _, method, batch, state = built
    model = method.model
    disc = LatentDiscriminator(hidden=tuple(c.factor_vae.discriminator.hidden))
    vae_loss, disc_inputs, disc_loss = make_factor_vae_losses(model, disc, gamma=float(c.factor_vae.gamma),
                                                              likelihood=c.model.likelihood)
    params, dparams = state.params, state.extra["disc_params"]
    x, x2, key = batch["x"], batch["x2"], jax.random.PRNGKey(3)
    k_vae, k_disc = jax.random.split(key)

    def disc_loss_through_vae(p, d, k, x2):
        # Exactly how the step feeds the discriminator: codes from the VAE's own forward pass.
        _, (_, outputs) = vae_loss(p, d, x, k_vae)
        zq, zp = disc_inputs(p, outputs, x2, k_disc, 2)
        return disc_loss(d, zq[k], zp[k])[0]

    def uncut(p, d):
        o = model.apply({"params": p}, x, key)
        return factor_vae_discriminator_loss(disc.apply({"params": d}, o["z"]),
                                             disc.apply({"params": d}, permute_dims(key, o["z"])))[0]

    @jax.jit
    def all_grads(p, d):
        vae = lambda p, d: vae_loss(p, d, x, k_vae)[0]
        return {
            "vae_wrt_vae": jax.grad(vae, 0)(p, d),
            "vae_wrt_disc": jax.grad(vae, 1)(p, d),
            "disc_wrt_disc": jax.grad(disc_loss_through_vae, 1)(p, d, 0, x2),
            "disc_wrt_vae": [jax.grad(disc_loss_through_vae, 0)(p, d, k, x2) for k in range(2)],
            "uncut_wrt_vae": jax.grad(uncut, 0)(p, d),
        }

    g = all_grads(params, dparams)
    is_zero = lambda tree: all(np.all(np.asarray(l) == 0) for l in jax.tree.leaves(tree))
    assert is_zero(g["vae_wrt_disc"]) and is_zero(g["disc_wrt_vae"])
    assert not is_zero(g["vae_wrt_vae"]) and not is_zero(g["disc_wrt_disc"])
    # Without the cut the discriminator's cross-entropy does depend on the encoder: the cut matters.
    assert not is_zero(g["uncut_wrt_vae"])

    # The step, with plain SGD(lr=1) so an update *is* the gradient: the VAE moves by exactly its
    # own gradient at the pre-step discriminator, the discriminator by its gradient at the
    # pre-step VAE's codes (second update at its once-updated parameters); neither sees the
    # other's change within the step.
    @jax.jit
    def two_sgd_disc_updates(p, d, x2):
        for k in range(2):
            d = jax.tree.map(lambda a, b: a - b, d, jax.grad(disc_loss_through_vae, 1)(p, d, k, x2))
        return d

    sgd = optax.sgd(1.0)
    start = state.replace(opt_state=sgd.init(params), extra={"disc_params": dparams, "disc_opt_state": sgd.init(dparams)})
    expected_vae = jax.tree.map(lambda p, g: p - g, params, g["vae_wrt_vae"])
    # Python-unrolled updates with the two-batch scheme; lax.fori_loop with the one-batch scheme.
    for unroll, two_batch in ((True, True), (False, False)):
        step = make_factor_vae_train_step(model, disc, sgd, sgd, gamma=float(c.factor_vae.gamma),
                                          likelihood=c.model.likelihood,
                                          disc_steps=2, unroll=unroll)
        used = batch if two_batch else {"x": x}
        new_state, metrics = jax.jit(step)(start, used, key)
        assert np.isfinite(float(metrics["disc_loss"]))
        for a, b in zip(jax.tree.leaves(new_state.params), jax.tree.leaves(expected_vae)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        expected_disc = two_sgd_disc_updates(params, dparams, x2 if two_batch else None)
        for a, b in zip(jax.tree.leaves(new_state.extra["disc_params"]), jax.tree.leaves(expected_disc)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        assert not same_leaves(new_state.extra["disc_params"], dparams)


def test_batch_schemes(built):
    c, dataset, _, batch, _ = built
    assert set(batch) == {"x", "x2"} and not np.array_equal(np.asarray(batch["x"]), np.asarray(batch["x2"]))
    method = methods.build(small_config(**{"hp.discriminator.two_batch": False}), dataset)
    one = jax.jit(lambda k: method.sample_batch(k, 4))(jax.random.PRNGKey(0))
    assert set(one) == {"x"}
    np.testing.assert_array_equal(np.asarray(one["x"]), np.asarray(one_batch(dataset, jax.random.PRNGKey(0), 4)["x"]))


# ---------------------------------------------------------------------------- training


def test_factor_vae_trains_checkpoints_and_resumes_exactly(tmp_path, monkeypatch):
    c = small_config(num_steps=50, log_every=10, checkpoint_every=20)
    straight = loop.train(c, tmp_path / "straight", finish=False)
    records = read_metrics(tmp_path / "straight")
    assert [r["step"] for r in records] == [10, 20, 30, 40, 50]
    for r in records:
        for k in ("loss", "reconstruction", "kl", "tc", "tc_mws", "disc_loss", "disc_accuracy",
                  "mutual_info", "total_correlation", "dimwise_kl"):
            assert np.isfinite(r[k]), (k, r)
        assert len(r["kl_per_dim"]) == 4 and 0 <= r["disc_accuracy"] <= 1
    assert records[-1]["loss"] < records[0]["loss"]

    train_until_interrupted(c, tmp_path / "resumed", 30, monkeypatch)
    assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == 30

    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert resumed["step"] == 50
    s, r = straight["state"], resumed["state"]
    assert same_leaves(s.params, r.params) and same_leaves(s.opt_state, r.opt_state)
    assert same_leaves(s.extra["disc_params"], r.extra["disc_params"])
    assert same_leaves(s.extra["disc_opt_state"], r.extra["disc_opt_state"])
    assert [x["loss"] for x in records] == [x["loss"] for x in read_metrics(tmp_path / "resumed")]


def test_shipped_configs_have_published_defaults():
    one = cfg.get("factor_vae_dsprites")
    five = cfg.get("factor_vae_dsprites_5d")
    assert one.factor_vae.discriminator.steps_per_vae_step == 1 and five.factor_vae.discriminator.steps_per_vae_step == 5
    for c in (one, five):
        assert 10 <= c.factor_vae.gamma <= 100
        d = c.factor_vae.discriminator
        assert tuple(d.hidden) == (1000,) * 6 and d.negative_slope == 0.2
        assert (c.optimizer.learning_rate, c.optimizer.b1, c.optimizer.b2) == (1e-4, 0.9, 0.999)
        d = d.optimizer
        assert (d.name, d.learning_rate, d.b1, d.b2) == ("adam", 1e-4, 0.5, 0.9)


@pytest.mark.parametrize(
    "override, match",
    [
        ("--config.factor_vae.gamma=-1", r"config\.factor_vae\.gamma must be >= 0"),
        ("--config.factor_vae.discriminator.steps_per_vae_step=0",
         r"config\.factor_vae\.discriminator\.steps_per_vae_step must be >= 1"),
        ("--config.factor_vae.discriminator.hidden=(16,0)",
         r"config\.factor_vae\.discriminator\.hidden must be a tuple of positive integers"),
        ("--config.factor_vae.discriminator.negative_slope=-0.1",
         r"config\.factor_vae\.discriminator\.negative_slope must be >= 0"),
        ("--config.factor_vae.discriminator.optimizer.name=lbfgs",
         r"config\.factor_vae\.discriminator\.optimizer\.name must be one of adam, adamw, sgd, rmsprop, got 'lbfgs'"),
        ("--config.factor_vae.discriminator.optimizer.learning_rate=0",
         r"config\.factor_vae\.discriminator\.optimizer\.learning_rate must be > 0"),
    ],
)
def test_bad_config_values_are_one_line_errors(override, match):
    with pytest.raises(cfg.ConfigError, match=match) as info:
        cfg.get("factor_vae_dsprites", [override])
    assert "\n" not in str(info.value)
