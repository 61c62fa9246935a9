"""Data parallel over 8 simulated devices equals one device; checkpoints move between them."""
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from disentax import config as cfg
from disentax import methods
from disentax.data.registry import get_dataset
from disentax.runner import loop
from disentax.train import sharding
from disentax.train.checkpoint import Checkpointer

import helpers

ROOT = Path(__file__).resolve().parents[2]

def tiny_config(method, **overrides):
    # Global batch 16: two examples per device.
    return helpers.tiny_config(method, batch_size=16, **overrides)


def _close(a, b, rtol=2e-4, atol=2e-5):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol * max(1.0, float(np.max(np.abs(y)))))


def _one_step_both_ways(c):
    dataset = get_dataset(c.dataset)
    method = methods.build(c, dataset)
    k_data, k_init, k_step = jax.random.split(jax.random.PRNGKey(0), 3)
    one = jax.devices()[0]
    batch = jax.device_put(jax.jit(lambda k: method.sample_batch(k, 16))(k_data), one)
    state = jax.device_put(jax.jit(method.init_state)(k_init, batch), one)
    # Two steps so the second sees optimiser moments produced by the (sharded) first.
    single = jax.jit(method.train_step)
    s1, m1 = single(state, batch, k_step)
    s1, m1 = single(s1, batch, jax.random.fold_in(k_step, 1))

    mesh = sharding.make_mesh()
    assert mesh.size == 8
    step = sharding.jit_step(method.train_step, mesh, donate=False)
    s8, m8 = step(sharding.replicate(state, mesh), sharding.shard_batch(batch, mesh), k_step)
    s8, m8 = step(s8, sharding.shard_batch(batch, mesh), jax.random.fold_in(k_step, 1))
    assert all(l.sharding.is_fully_replicated and len(l.sharding.device_set) == 8 for l in jax.tree.leaves(s8))
    return (s1, m1), (s8, m8)


# sd_gan: at XLA:CPU optimisation levels 1 and 2 one metric of the 8-device step differs from the 1-device
# step by 1.5e-3 (relative); at -O0, the suite's level, it agrees (XPASS). Not yet explained (batch
# norm over pairs is the suspect): marked, not hidden, until it is.
_SHARDED = [pytest.param(m, marks=pytest.mark.xfail(reason="sd_gan: 1.5e-3 metric difference at -O1/-O2, open",
                                                    strict=False)) if m == "sd_gan" else m
            for m in methods.available()]


@pytest.mark.parametrize("method", _SHARDED)
def test_sharded_step_equals_single_device_step(method):
    (s1, m1), (s8, m8) = _one_step_both_ways(tiny_config(method))
    assert set(m1) == set(m8)
    _close(m8, m1)
    _close(s8, s1)


def test_sharded_conv_step_equals_single_device_step():
    """The conv model's equivalent layers (matmul on CPU) under GSPMD, too."""
    c = tiny_config("beta_vae", **{"model.encoder": "conv", "model.conv_channels": (8, 8, 8, 8), "model.hidden": (16,)})
    (s1, m1), (s8, m8) = _one_step_both_ways(c)
    _close(m8, m1)
    _close(s8, s1)


def _pairwise_lse(z):
    """mean_i log sum_j exp(-|z_i - z_j|^2): every example couples to every other one."""
    d = jnp.sum((z[:, None, :] - z[None, :, :]) ** 2, -1)
    return jnp.mean(jax.nn.logsumexp(-d, axis=1))


def test_batch_coupled_statistic_sees_the_global_batch():
    z = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    mesh = sharding.make_mesh()
    zs = sharding.shard_batch(jnp.asarray(z), mesh)
    assert zs.sharding.spec == P("data") and zs.addressable_shards[0].data.shape == (2, 3)
    got = float(jax.jit(_pairwise_lse)(zs))
    d = ((z[:, None, :].astype(np.float64) - z[None, :, :]) ** 2).sum(-1)
    brute = np.mean([np.log(np.sum(np.exp(-d[i]))) for i in range(16)])
    np.testing.assert_allclose(got, brute, rtol=1e-5)
    # What a per-device estimator (shard_map over the same array) would have computed instead.
    per_shard = jax.jit(jax.shard_map(lambda s: _pairwise_lse(s)[None], mesh=mesh, in_specs=P("data"), out_specs=P("data")))
    assert abs(float(jnp.mean(per_shard(zs))) - brute) > 0.1


def _leaves_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def test_checkpoint_moves_between_8_and_1_devices(tmp_path):
    c = tiny_config("beta_vae")
    dataset = get_dataset(c.dataset)
    method = methods.build(c, dataset)
    x = dataset.sample(jax.random.PRNGKey(1), 16)[0]
    mesh8, mesh1 = sharding.make_mesh(), sharding.make_mesh(jax.devices()[:1])
    state = jax.jit(method.init_state)(jax.random.PRNGKey(2), x)
    state, _ = jax.jit(method.train_step)(state, x, jax.random.PRNGKey(3))  # non-trivial optimiser state
    for src, dst, name in ((mesh8, mesh1, "8to1"), (mesh1, mesh8, "1to8")):
        ck = Checkpointer(tmp_path / name)
        ck.save(1, sharding.replicate(state, src))
        ck.wait()
        target = sharding.replicate(jax.tree.map(jnp.zeros_like, state), dst)
        restored = ck.restore(target)
        ck.close()
        assert _leaves_equal(restored, state)
        assert all(l.sharding.device_set == set(dst.devices.flat) for l in jax.tree.leaves(restored))


def test_loop_on_8_devices_matches_1_and_restores_in_a_one_device_process(tmp_path):
    c8 = tiny_config("beta_vae")
    r8 = loop.train(c8, tmp_path / "d8", finish=True)
    assert all(len(l.sharding.device_set) == 8 for l in jax.tree.leaves(r8["state"]))
    assert (tmp_path / "d8" / "reconstructions.png").exists()
    c1 = tiny_config("beta_vae", data_parallel=False)
    r1 = loop.train(c1, tmp_path / "d1", finish=False)
    assert all(len(l.sharding.device_set) == 1 for l in jax.tree.leaves(r1["state"]))
    _close(r8["state"].params, r1["state"].params)

    # A fresh process with ONE device restores the 8-device checkpoint exactly.
    script = f"""
import json, jax, numpy as np
from disentax import config as cfg
from disentax.runner import loop
c = cfg.from_dict(json.load(open({str(tmp_path / 'd8' / 'config.json')!r})))
assert jax.device_count() == 1
r = loop.train(c, {str(tmp_path / 'd8')!r}, finish=False)
np.savez({str(tmp_path / 'restored.npz')!r}, *[np.asarray(l) for l in jax.tree.leaves(r['state'])])
"""
    env = helpers.child_env()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
    got = np.load(tmp_path / "restored.npz")
    leaves = jax.tree.leaves(r8["state"])
    assert len(got.files) == len(leaves)
    for i, l in enumerate(leaves):
        np.testing.assert_array_equal(got[f"arr_{i}"], np.asarray(l))


def test_batch_not_divisible_by_devices_is_a_config_error():
    c = tiny_config("beta_vae")
    c.batch_size = 12
    with pytest.raises(cfg.ConfigError, match="divisible by the 8 devices"):
        sharding.setup(c)


def test_distributed_initialize_only_for_launchers():
    assert not sharding.launched_multiprocess({})
    assert not sharding.launched_multiprocess({"SLURM_NTASKS": "1", "OMPI_COMM_WORLD_SIZE": "1"})
    assert sharding.launched_multiprocess({"SLURM_NTASKS": "4"})
    assert sharding.launched_multiprocess({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"})
    assert not sharding.initialize_distributed("off", {"JAX_COORDINATOR_ADDRESS": "x:1"})
    assert not sharding.initialize_distributed("auto", {})
    with pytest.raises(ValueError, match="allowed: auto, on, off"):
        sharding.initialize_distributed("sometimes", {})
