"""Sweeps on 8 simulated devices: the members split over the mesh's "model" axis and each member's
batch over "data" train what one device trains; a sweep written on 8 devices exports on one; a
mesh that does not fit the batch is a one-line error."""
import json
import re
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from disentax import config as cfg
from disentax.data.registry import get_dataset
from disentax.runner import restore_run, sweep
from disentax.runner.loop import _config_dict
from disentax.train.logging import read_metrics

from helpers import METHOD_TINY, QUICK, TINY_MODEL, configure, finish, launch_python, same_leaves

ROOT = Path(__file__).resolve().parents[2]

# (method, seeds, grid): 4 members on a 4 x 2 mesh (a member on two devices, which split its batch of 16)
# and 2 FactorVAE members on a 2 x 4 mesh.
BETA = ("beta_vae", 2, ["beta=1,4"])
FACTOR = ("factor_vae", 1, ["gamma=10,35"])

# Measured against the one-device sweep after 2 steps: every state leaf (parameters, Adam moments) and every
# logged metric within 2.2e-7 of max(1, its scale), e.g. a loss of 2987.1597 against 2987.1602, two float32
# steps apart. Not bit for bit, whatever the split: a batch split over "data" sums each member's gradients
# in partial sums, and even one member per device (8 members on 8) multiplies its matrices in another
# order than the batched product of all the members on one device (measured: 3e-8 on the parameters).
# Adam's updates are bounded by the learning rate, so over a few steps the differences stay at rounding.
TOL = 1e-6


def base(method, **overrides):
    # The logged decomposition's fresh pool is a program of its own: checked once (β-VAE), skipped elsewhere.
    points = 64 if method == "beta_vae" else 0
    return configure(f"{method}_dsprites", **{**QUICK, **TINY_MODEL, **METHOD_TINY.get(method, {}), "num_steps": 2,
                                               "log_every": 1, "checkpoint_every": 2, "diagnostics_points": points,
                                               **overrides})


# The references, in a one-device process that XLA compiles in beside this one (each compiles on one core).
REFERENCE = """
import json, sys
sys.path.insert(0, {root!r})
import jax
from disentax import config as cfg
from disentax.runner import sweep
assert jax.device_count() == 1
jobs = json.load(open({jobs!r}))
sweep.export_member(*jobs["export"])
for config, workdir, seeds, grid in jobs["train"]:
    sweep.train_sweep(cfg.from_dict(config), workdir, seeds, grid, vectorize="vmap")
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(folder, {name: result}): the 8-device sweeps "beta", "factor" and "map" in folder/<name>; the
    one-device references of the first two in folder/<name>1 and member 3 of "beta" exported by that
    process in folder/export."""
    root = tmp_path_factory.mktemp("sweeps")
    results = {"beta": sweep.train_sweep(base("beta_vae"), root / "beta", *BETA[1:])}
    jobs = {"export": [str(root / "beta"), 3, str(root / "export")],
            "train": [[_config_dict(base(method, data_parallel=False)), str(root / f"{name}1"), seeds, grid]
                      for name, (method, seeds, grid) in (("beta", BETA), ("factor", FACTOR))]}
    (root / "jobs.json").write_text(json.dumps(jobs))
    reference = launch_python(["-c", REFERENCE.format(root=str(ROOT), jobs=str(root / "jobs.json"))], devices=1)
    try:
        results["factor"] = sweep.train_sweep(base("factor_vae"), root / "factor", *FACTOR[1:])
        results["map"] = sweep.train_sweep(base("beta_vae", diagnostics_points=0), root / "map", *BETA[1:],
                                           vectorize="map")
    finally:
        finish(reference)
    return root, results


def _restored(workdir):
    """The stacked states of a sweep folder, restored on the first device."""
    return sweep._restore_stacked(workdir, sweep.read_spec(workdir))[2]


def _assert_close(got, want, tol=TOL):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, float(np.max(np.abs(b), initial=0))))


def _assert_same_logs(workdir, reference, members):
    for i in range(members):
        rows, ref = read_metrics(workdir / "members" / str(i)), read_metrics(reference / "members" / str(i))
        assert [r["step"] for r in rows] == [r["step"] for r in ref] == [1, 2]
        for row, want in zip(rows, ref):
            assert set(row) == set(want)
            for key, value in want.items():
                if key != "steps_per_sec":
                    _assert_close(np.asarray(row[key]), np.asarray(value))


def _on_mesh(states, model, data):
    for leaf in jax.tree.leaves(states):
        assert leaf.sharding.spec == P("model") and dict(leaf.sharding.mesh.shape) == {"model": model, "data": data}


def test_members_split_over_the_model_axis_train_what_one_device_trains(runs):
    root, results = runs
    workdir, result = root / "beta", results["beta"]
    assert result["vectorize"] == "vmap"  # "auto": the only way to split the member axis
    _on_mesh(result["states"], 4, 2)
    _assert_close(result["states"], _restored(root / "beta1"))
    _assert_same_logs(workdir, root / "beta1", 4)
    assert "total_correlation" in read_metrics(workdir / "members" / "0")[0]  # the logged pool, gathered too
    # The checkpoint holds the global array: restored on one device, it is the 8-device state exactly.
    assert same_leaves(_restored(workdir), result["states"])


def test_factor_vae_sweeps_with_its_discriminator_split_over_the_model_axis(runs):
    root, results = runs
    result = results["factor"]
    _on_mesh(result["states"], 2, 4)
    assert jax.tree.leaves(result["states"].extra)
    _assert_close(result["states"], _restored(root / "factor1"))
    _assert_same_logs(root / "factor", root / "factor1", 2)


def test_explicit_map_keeps_members_whole_and_splits_each_batch_over_all_devices(runs):
    root, results = runs
    assert results["map"]["vectorize"] == "map"
    _on_mesh(results["map"]["states"], 1, 8)
    _assert_close(results["map"]["states"], _restored(root / "beta1"))


def test_a_member_of_an_8_device_sweep_exports_in_a_one_device_process(runs):
    root, results = runs
    config, _, _, state = restore_run(root / "export")
    assert config.seed == 1 and config.beta_vae.beta == 4.0
    assert same_leaves(state, jax.tree.map(lambda a: a[3], results["beta"]["states"]))


def test_the_batch_is_rendered_split_over_model_and_data():
    c = base("beta_vae", diagnostics_points=0)
    mesh, vectorize = sweep.sweep_mesh(c, 4, "auto")
    _, init, step = sweep._sweep_functions(c, get_dataset(c.dataset), ["beta_vae.beta"], 16, vectorize, mesh)
    keys = np.zeros((4, 2), np.uint32)
    text = step.lower(np.ones((4, 1), np.float32), jax.eval_shape(init, keys, keys), keys, keys, np.uint32(0),
                      np.bool_(True)).as_text()
    # Shardy's form of P("model", "data") on the [S, B, 64, 64, 1] batch (GSPMD's: devices=[4,2,1,1,1]).
    assert re.search(r'sharding_constraint %\S+ <@mesh, \[\{"model"\}, \{"data"\}, \{\}, \{\}, \{\}\]> : '
                     r'tensor<4x16x64x64x1xf32>|devices=\[4,2,1,1,1\]', text)


@pytest.mark.parametrize("members,vectorize,resolved,shape", [
    (8, "auto", "vmap", (8, 1)),    # one member per device
    (4, "auto", "vmap", (4, 2)),    # a member on two devices
    (6, "vmap", "vmap", (2, 4)),    # gcd(6, 8) = 2
    (3, "auto", "unroll", (1, 8)),  # nothing to split: the CPU's choice, each batch over all devices
    (4, "unroll", "unroll", (1, 8)),
    (4, "map", "map", (1, 8)),
])
def test_the_mesh_rule(members, vectorize, resolved, shape):
    mesh, got = sweep.sweep_mesh(base("beta_vae"), members, vectorize)
    assert got == resolved and (mesh.shape["model"], mesh.shape["data"]) == shape and mesh.size == 8
    mesh, _ = sweep.sweep_mesh(base("beta_vae", data_parallel=False), members, vectorize)
    assert mesh.devices.shape == (1, 1)


@pytest.mark.parametrize("seeds,grid,vectorize,fragment", [
    (1, ["beta=1,2,3"], "auto", "3 members on 8 devices keeps every member whole on each device and splits its "
                                "batch over all 8: config.batch_size=14 must be divisible by 8; change it, use a "
                                "number of members with a factor in common with 8"),
    (2, ["beta=1,4"], "map", "4 members on 8 devices keeps every member whole .* use vectorize vmap"),
    (1, ["beta=1,4"], "auto", "2 members on 8 devices splits the members over 2 devices and each member's batch "
                              "over 4: config.batch_size=14 must be divisible by 4"),
])
def test_a_mesh_that_does_not_fit_the_batch_is_a_one_line_error(tmp_path, seeds, grid, vectorize, fragment):
    with pytest.raises(cfg.ConfigError, match=fragment) as e:
        sweep.train_sweep(base("beta_vae", batch_size=14), tmp_path, seeds, grid, vectorize=vectorize)
    assert "\n" not in str(e.value) and "config.data_parallel=False" in str(e.value)
    assert not any(tmp_path.iterdir())
