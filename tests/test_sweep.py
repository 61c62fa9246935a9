"""Sweeps: members equal single runs, resume exactly, export to run folders; bad grids are one-line errors."""
import json

import jax
import numpy as np
import pytest

from disentax import config as cfg
from disentax.runner import evaluate_run, loop, restore_run, sweep
from disentax.train.logging import read_metrics

from helpers import QUICK, TINY_MODEL, configure, same_leaves

# On a CPU the sweep writes each member's step out in one program ("unroll", the "auto" choice): the
# MLP members are the single runs bit for bit. vmap makes each member's matrix products batched ones, which XLA's CPU kernels may sum in
# another order: members match single runs to float32 rounding (measured: max |Δ| = 3e-8 on
# parameters of size ~0.1 after 6 Adam steps at lr 1e-4). Adam's updates are bounded by the learning rate, so the differences
# stay at rounding level over a short run.
PARAM_ATOL = 1e-6


def base(method="beta_vae", **overrides):
    return configure(f"{method}_dsprites", **{**QUICK, **TINY_MODEL, "num_steps": 6, "log_every": 3,
                                               "checkpoint_every": 3, **overrides})


def member(states, i):
    return jax.tree.map(lambda a: a[i], states)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sweep") / "straight"
    return workdir, sweep.train_sweep(base(), workdir, 2, ["beta=1,4"])


def test_members_are_the_seeds_times_the_grid_and_equal_single_runs(straight, tmp_path):
    workdir, result = straight
    assert result["members"] == [{"seed": 0, "beta_vae.beta": 1.0}, {"seed": 1, "beta_vae.beta": 1.0},
                                 {"seed": 0, "beta_vae.beta": 4.0}, {"seed": 1, "beta_vae.beta": 4.0}]
    assert int(result["states"].step[0]) == 6 and result["diverged"] == {}
    assert result["vectorize"] == "unroll"  # the CPU default
    single = loop.train(sweep.member_config(base(), result["members"][3]), tmp_path / "single", finish=False)
    assert same_leaves(single["state"], member(result["states"], 3))  # bit for bit
    # vmap: one batched program, equal to float32 rounding.
    batched = sweep.train_sweep(base(), tmp_path / "vmap", 2, ["beta=1,4"], vectorize="vmap")
    for a, b in zip(jax.tree.leaves(result["states"].params), jax.tree.leaves(batched["states"].params)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=PARAM_ATOL)
    # Different members really differ (their seed or β enters the step), and the logs say the same.
    p = result["states"].params
    assert not same_leaves(member(p, 0), member(p, 1)) and not same_leaves(member(p, 1), member(p, 3))
    rows = read_metrics(workdir / "members" / "3")
    ref = read_metrics(tmp_path / "single")
    assert [r["step"] for r in rows] == [r["step"] for r in ref] == [3, 6]
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in ref], rtol=1e-5)
    # The logged decomposition: the member's own pool, as the single run logs it.
    np.testing.assert_allclose([r["total_correlation"] for r in rows], [r["total_correlation"] for r in ref],
                               rtol=1e-3, atol=1e-3)
    spec = json.loads((workdir / sweep.SPEC_FILE).read_text())
    assert spec["grid"] == {"beta_vae.beta": [1.0, 4.0]} and spec["diverged"] == {}


def test_a_resumed_sweep_retraces_the_uninterrupted_one_bit_for_bit(straight, tmp_path):
    _, result = straight
    half = sweep.train_sweep(base(num_steps=3), tmp_path / "resumed", 2, ["beta=1,4"])
    assert half["step"] == 3
    notes = []
    resumed = sweep.train_sweep(base(), tmp_path / "resumed", 2, ["beta=1,4"], note=notes.append)
    assert resumed["start"] == 3 and resumed["step"] == 6 and "from step 3" in notes[0]
    assert same_leaves(resumed["states"], result["states"])
    assert [r["step"] for r in read_metrics(tmp_path / "resumed" / "members" / "0")] == [3, 6]


def test_a_changed_grid_seeds_or_config_is_refused(straight):
    workdir, _ = straight
    with pytest.raises(cfg.ConfigError, match=r"holds a sweep over \{'beta_vae.beta': \[1.0, 4.0\]\}"):
        sweep.train_sweep(base(), workdir, 2, ["beta=1,8"])
    with pytest.raises(cfg.ConfigError, match="holds a sweep of seeds"):
        sweep.train_sweep(base(), workdir, 3, ["beta=1,4"])
    with pytest.raises(cfg.ConfigError, match=r"config\.model\.latent_dim=4, not 5"):
        sweep.train_sweep(base(**{"model.latent_dim": 5}), workdir, 2, ["beta=1,4"])


def test_an_exported_member_is_a_run_folder_that_evaluate_reads(straight, tmp_path):
    workdir, result = straight
    to = sweep.export_member(workdir, 2, tmp_path / "member2")
    config, method, _, state = restore_run(to)
    assert config.seed == 0 and config.beta_vae.beta == 4.0
    assert same_leaves(state.params, member(result["states"].params, 2))
    assert [r["step"] for r in read_metrics(to)] == [3, 6]
    record = evaluate_run(to, ["mig"], num_train=64, num_eval=32)
    assert record["step"] == 6 and 0 <= record["metrics"]["mig"]["mig"] <= 1
    with pytest.raises(cfg.ConfigError, match="already holds a run"):
        sweep.export_member(workdir, 2, to)
    with pytest.raises(cfg.ConfigError, match="has members 0 to 3"):
        sweep.export_member(workdir, 4, tmp_path / "none")


@pytest.mark.parametrize("items,fragment", [
    (["beta"], "must look like KEY=v1,v2"),
    (["lambda_od=1,2"], "has no hyperparameter 'lambda_od'"),
    (["factor_vae.gamma=1,2"], "written beta_vae.NAME or NAME"),
    (["beta=1,x"], "values must be numbers"),
    (["beta=1,1"], "a value is repeated"),
    (["beta=1,2", "beta_vae.beta=3"], "is given twice"),
    (["beta=-1,2"], r"sweep member beta_vae.beta=-1.0: .*beta"),
])
def test_bad_grids_are_one_line_errors(items, fragment, tmp_path):
    with pytest.raises(cfg.ConfigError, match=fragment) as e:
        sweep.train_sweep(base(), tmp_path, 1, items)
    assert "\n" not in str(e.value)
    assert not (tmp_path / sweep.SPEC_FILE).exists()


def test_integer_hyperparameters_and_bad_seed_counts_are_refused(tmp_path):
    c = base("annealed_vae")
    with pytest.raises(cfg.ConfigError, match="c_steps is an integer; it shapes the program"):
        sweep.parse_grid(c, ["c_steps=10,20"])
    with pytest.raises(cfg.ConfigError, match="--seeds must be a positive integer"):
        sweep.train_sweep(c, tmp_path, 0, ["c_max=5,10"])


def test_factor_vae_sweeps_with_its_discriminator_stacked(tmp_path):
    c = base("factor_vae", num_steps=2, log_every=2, checkpoint_every=2)
    result = sweep.train_sweep(c, tmp_path, 1, ["gamma=10,35"])
    assert int(result["states"].step[1]) == 2
    disc = jax.tree.leaves(result["states"].extra)
    assert disc and all(leaf.shape[0] == 2 for leaf in disc)
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["disc_loss"]) for r in result["metrics"])


def test_a_diverging_member_is_recorded_and_the_others_train_on(tmp_path):
    # β-TCVAE's mws TC carries (D − 1)·log N ≈ 40 nats, so β = 3e38 makes the first loss infinite.
    notes = []
    result = sweep.train_sweep(base("beta_tcvae", num_steps=3, log_every=3), tmp_path, 1, ["beta=6,3e38"],
                               note=notes.append)
    assert result["diverged"] == {1: 1}
    assert any("member 1 (seed=0, beta_tcvae.beta=3e+38) diverged" in n for n in notes), notes
    assert np.isfinite(result["metrics"][0]["loss"]) and not np.isfinite(result["metrics"][1]["loss"])
    assert all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree.leaves(member(result["states"].params, 0)))
    assert json.loads((tmp_path / sweep.SPEC_FILE).read_text())["diverged"] == {"1": 1}


def test_the_command_line_trains_exports_and_reports_bad_grids_in_one_line(tmp_path, capsys):
    from disentax import cli

    tiny = ["--config.model.encoder=mlp", "--config.model.mlp_hidden=(32,)", "--config.model.latent_dim=4",
            "--config.batch_size=16", "--config.num_steps=2", "--config.log_every=2", "--config.progress=False",
            "--config.diagnostics_points=64"]
    d = str(tmp_path / "s")
    assert cli.main(["sweep", "--config", "beta_vae_dsprites", "--workdir", d, "--seeds", "2", "--grid", "beta=1,4",
                     *tiny]) == 0
    assert "trained 4 members of beta_vae to step 2" in capsys.readouterr().out
    assert cli.main(["sweep", "export", "--workdir", d, "--member", "1", "--to", str(tmp_path / "m1")]) == 0
    assert restore_run(tmp_path / "m1")[0].seed == 1
    assert cli.main(["sweep", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path / "bad"), "--seeds", "1",
                     "--grid", "beta=1,x", *tiny]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "values must be numbers" in err
    assert cli.main(["sweep", "export", "--workdir", d]) == 2
    assert cli.main(["sweep", "udr", "--workdir", d, "--num-points", "100"]) == 0
    out = capsys.readouterr().out
    assert "member   0 seed=0, beta_vae.beta=1.0: UDR" in out and (tmp_path / "s" / "udr.json").exists()


def test_udr_scores_each_member_against_the_other_seeds_of_its_grid_point(straight):
    workdir, _ = straight
    record = sweep.score_udr(workdir, num_points=200)
    assert record["step"] == 6 and json.loads((workdir / "udr.json").read_text()) == record
    rows = record["members"]
    assert [(r["seed"], r["beta_vae.beta"]) for r in rows] == [(0, 1.0), (1, 1.0), (0, 4.0), (1, 4.0)]
    # Two seeds per grid point: both members get the score of their one pair.
    assert rows[0]["udr"] == rows[1]["udr"] and rows[2]["udr"] == rows[3]["udr"]
    assert all(0 <= r["udr"] <= 1 and 0 <= r["informative"] <= 4 for r in rows)


def test_a_signal_stops_the_sweep_with_a_checkpoint_and_the_resume_is_exact(straight, tmp_path, monkeypatch):
    import os
    import signal

    from disentax.runner.signals import StopRequested

    _, result = straight
    real_write = sweep.MetricWriter.write

    def write_then_signal(self, step, metrics):
        real_write(self, step, metrics)
        if step == 3 and self.path.parent.name == "3":  # after the last member's row of step 3
            os.kill(os.getpid(), signal.SIGINT)

    with monkeypatch.context() as m:
        m.setattr(sweep.MetricWriter, "write", write_then_signal)
        with pytest.raises(StopRequested) as e:
            sweep.train_sweep(base(checkpoint_every=100), tmp_path / "sig", 2, ["beta=1,4"])
    assert e.value.saved_step == 3  # saved on the way out, between two checkpoints
    resumed = sweep.train_sweep(base(checkpoint_every=100), tmp_path / "sig", 2, ["beta=1,4"])
    assert resumed["start"] == 3 and same_leaves(resumed["states"], result["states"])
    for i in range(4):
        assert [r["step"] for r in read_metrics(tmp_path / "sig" / "members" / str(i))] == [3, 6]
