import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods, objectives
from disentax.data import get_dataset
from disentax.runner import loop
from disentax.train import sharding
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics
from disentax.train.step import takes_log

from helpers import QUICK, configure, same_leaves, train_until_interrupted


def small_config(method="beta_vae", **overrides):
    return configure(f"{method}_dsprites", **{**QUICK, **overrides})


def test_hundred_steps_lower_the_loss(tmp_path):
    c = small_config(num_steps=100, log_every=10, checkpoint_every=100, **{"optimizer.learning_rate": 1e-3})
    result = loop.train(c, tmp_path, finish=True)
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == list(range(10, 101, 10))
    first, last = records[0]["loss"], np.mean([r["loss"] for r in records[-2:]])
    assert last < 0.8 * first, (first, last)
    assert result["step"] == 100
    for name in ("reconstructions.png", "traversals.png", "config.json"):
        assert (tmp_path / name).exists()
    assert list((tmp_path / "tb").iterdir()), "no TensorBoard event file"
    assert Checkpointer(tmp_path / "checkpoints").latest_step() == 100


def test_interrupt_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    c = small_config(num_steps=20)
    straight = loop.train(c, tmp_path / "straight", finish=False)

    # Interrupt after the metrics of step 15 are written: between checkpoints (10, 20).
    train_until_interrupted(c, tmp_path / "resumed", 15, monkeypatch)
    assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == 15

    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert resumed["step"] == 20
    assert same_leaves(straight["state"].params, resumed["state"].params)
    assert same_leaves(straight["state"].opt_state, resumed["state"].opt_state)
    a = read_metrics(tmp_path / "straight")
    b = read_metrics(tmp_path / "resumed")
    assert [r["step"] for r in b] == [5, 10, 15, 20]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert [r["total_correlation"] for r in a] == [r["total_correlation"] for r in b]  # the same pools


def test_resume_with_a_different_config_is_refused(tmp_path):
    loop.train(small_config(num_steps=5, checkpoint_every=5), tmp_path, finish=False)
    with pytest.raises(cfg.ConfigError, match=r"config\.beta_vae\.beta=4\.0, not 8\.0"):
        loop.train(small_config(num_steps=10, **{"hp.beta": 8.0}), tmp_path, finish=False)
    # Changing only the length is a resumption.
    assert loop.train(small_config(num_steps=10), tmp_path, finish=False)["step"] == 10


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    def build(config, dataset):
        def objective(x, o, step):
            loss, aux = objectives.elbo(x, o["out"], o["mu"], o["logvar"])
            return jnp.where(step >= 7, jnp.nan, loss), aux

        return methods.vae_method(config, dataset, objective)

    methods.register(methods.MethodSpec(name="nan_after_7_for_test", build=build, summary="", paper=""))
    c = configure(cfg.base_config("nan_after_7_for_test"), **{**QUICK, "num_steps": 20, "checkpoint_every": 5,
                                                              "log_every": 100})
    with pytest.raises(loop.NonFiniteLossError, match="step 8") as info:
        loop.train(c, tmp_path, finish=False)
    assert info.value.step == 8 and info.value.last_checkpoint == 5
    ckpt = Checkpointer(tmp_path / "checkpoints")
    assert ckpt.all_steps() == [5]
    state = methods.build(c, get_dataset("dsprites")).init_state(jax.random.PRNGKey(0), jnp.zeros((16, 64, 64, 1)))
    restored = ckpt.restore(state)
    assert int(restored.step) == 5
    assert all(np.all(np.isfinite(np.asarray(l))) for l in jax.tree.leaves(restored.params))


def test_same_seed_same_parameters_different_seed_differs(tmp_path):
    a = loop.train(small_config(num_steps=3, checkpoint_every=3), tmp_path / "a", finish=False)
    b = loop.train(small_config(num_steps=3, checkpoint_every=3), tmp_path / "b", finish=False)
    c = loop.train(small_config(num_steps=3, checkpoint_every=3, seed=1), tmp_path / "c", finish=False)
    assert same_leaves(a["state"].params, b["state"].params)
    assert not same_leaves(a["state"].params, c["state"].params)


@pytest.mark.parametrize("method", ["vae", "annealed_vae"])
def test_other_configs_train_without_nan(tmp_path, method):
    result = loop.train(small_config(method, num_steps=10, checkpoint_every=10), tmp_path, finish=False)
    assert np.isfinite(result["metrics"]["loss"])
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["method"] == method


def _built(method="beta_vae", **overrides):
    c = cfg.validate(small_config(method, **overrides))
    m = methods.build(c, get_dataset(c.dataset))
    key = jax.random.PRNGKey(0)
    return c, m, m.init_state(key, jax.jit(lambda k: m.sample_batch(k, c.batch_size))(key))


@pytest.mark.parametrize("method", ["beta_vae", "factor_vae"])
def test_diagnostics_only_when_logged_and_the_state_never_depends_on_it(method):
    c, m, state = _built(method)
    batch = jax.jit(lambda k: m.sample_batch(k, c.batch_size))(jax.random.PRNGKey(1))
    step = jax.jit(m.train_step)
    logged, m_logged = step(state, batch, jax.random.PRNGKey(2), True)
    quiet, m_quiet = step(state, batch, jax.random.PRNGKey(2), False)
    assert same_leaves(logged, quiet)
    for key in ("mutual_info", "total_correlation", "dimwise_kl"):
        assert np.isfinite(float(m_logged[key])) and np.isnan(float(m_quiet[key])), key
    assert float(m_logged["loss"]) == float(m_quiet["loss"])


def test_beta_tcvae_logs_its_own_loss_terms_once():
    # The objective's aux holds the decomposition with the training estimator; no second copy.
    c, m, state = _built("beta_tcvae")
    batch = jax.jit(lambda k: m.sample_batch(k, c.batch_size))(jax.random.PRNGKey(1))
    _, metrics = jax.jit(m.train_step)(state, batch, jax.random.PRNGKey(2), False)
    assert np.isfinite(float(metrics["total_correlation"]))


def test_batch_made_inside_the_step_is_the_separate_samplers_batch():
    # The loop renders procedural batches inside the step's program; the run must be the one the
    # separately jitted sampler and keys would give (and logged rows keep finite diagnostics).
    c, m, state = _built()
    mesh = sharding.make_mesh()
    data_key, step_key = jax.random.split(jax.random.PRNGKey(5))
    inside = sharding.jit_sampled_step(m.train_step, m.sample_batch, c.batch_size, data_key, step_key, mesh,
                                       donate=False)
    outside = sharding.jit_step(m.train_step, mesh, donate=False)
    sample = jax.jit(lambda k: m.sample_batch(k, c.batch_size))
    a = b = state
    for step in range(3):
        a, ma = inside(a, step, step == 2)
        b, mb = outside(b, sample(jax.random.fold_in(data_key, step)), jax.random.fold_in(step_key, step), step == 2)
    assert same_leaves(a, b)
    assert float(ma["total_correlation"]) == float(mb["total_correlation"])


def test_a_step_without_the_log_flag_still_runs_in_the_loop_helpers():
    c, m, state = _built()
    plain = lambda state, batch, key: m.train_step(state, batch, key)  # noqa: E731 - a plugin's own step
    assert takes_log(m.train_step) and not takes_log(plain)
    batch = jax.jit(lambda k: m.sample_batch(k, c.batch_size))(jax.random.PRNGKey(1))
    new, metrics = sharding.jit_step(plain, sharding.make_mesh(), donate=False)(state, batch, jax.random.PRNGKey(2), False)
    assert np.isfinite(float(metrics["total_correlation"]))  # it computes everything, as before
    assert int(new.step) == 1


def test_logged_rows_hold_finite_diagnostics(tmp_path):
    loop.train(small_config(num_steps=6, log_every=3, checkpoint_every=6), tmp_path, finish=False)
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [3, 6]
    assert all(np.isfinite(r["total_correlation"]) and np.isfinite(r["mutual_info"]) for r in rows)


def test_the_logged_decomposition_is_the_probe_of_a_fresh_pool_and_the_batch_estimate_is_kept(tmp_path):
    c = small_config(num_steps=6, log_every=3, checkpoint_every=6, diagnostics_points=256)
    result = loop.train(c, tmp_path, finish=False)
    rows = read_metrics(tmp_path)
    last = rows[-1]
    _, _, _, viz_key = loop.run_keys(c.seed)
    probe = result["method"].diagnose(result["state"].params, jax.random.fold_in(jax.random.fold_in(viz_key, 1), 6))
    for name in ("mutual_info", "total_correlation", "dimwise_kl"):
        assert last[name] == float(probe[name]), name  # the pool's estimate, not the batch's
        assert last[f"{name}_se"] == float(probe[f"{name}_se"]) and last[f"{name}_se"] > 0
        assert np.isfinite(last[f"batch_{name}"]) and last[f"batch_{name}"] != last[name]
    # Without a pool the step's own batch estimate is logged under the plain names, as before.
    loop.train(small_config(num_steps=3, log_every=3, checkpoint_every=3, diagnostics_points=0), tmp_path / "off",
               finish=False)
    (row,) = read_metrics(tmp_path / "off")
    assert np.isfinite(row["total_correlation"]) and "batch_total_correlation" not in row
    assert "total_correlation_se" not in row
