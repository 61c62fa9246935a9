"""`disentax evaluate` and `restore_run` on a tiny trained run."""
import json

import jax
import numpy as np
import pytest

from disentax import cli
from disentax import config as cfg
from disentax.runner import loop
from disentax.runner.restore import RunNotFoundError, restore_run

from helpers import configure


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    c = configure("vae_dsprites", batch_size=8, num_steps=3, checkpoint_every=3, log_every=3, progress=False,
                  **{"model.encoder": "mlp", "model.mlp_hidden": (32,)})
    workdir = tmp_path_factory.mktemp("run")
    result = loop.train(c, workdir, finish=False)
    return workdir, result["state"]


def test_restore_run_gives_back_the_trained_state(run_dir):
    workdir, trained = run_dir
    config, method, dataset, state = restore_run(workdir)
    assert config.method == "vae" and dataset.name == "dsprites" and int(state.step) == 3
    for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(state.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_evaluate_writes_metrics_json_and_prints_table(run_dir, capsys):
    workdir, _ = run_dir
    args = ["evaluate", "--workdir", str(workdir), "--metrics", "mig,factor_vae,information",
            "--num-train", "64", "--num-eval", "32", "--num-variance-estimate", "64", "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "evaluating vae on dsprites at step 3" in out
    assert "code 'z' (10 dims: z 0-9)" in out
    rows = {line.split()[1]: line.split()[-1] for line in out.splitlines() if line.startswith("  ") and
            line.split()[0] in ("mig", "factor_vae")}
    assert float(rows["mig"]) >= 0 and 0 <= float(rows["eval_accuracy"]) <= 1
    # The per-dimension table: one row per code dimension, a column per ground-truth factor.
    header = next(line for line in out.splitlines() if "I(x;z_d)" in line).split()
    assert header == ["dim", "I(x;z_d)", "shape", "scale", "orientation", "pos_x", "pos_y"]
    table = [line.split() for line in out.splitlines() if line.strip().split(" ")[0] in {f"z{d}" for d in range(10)}]
    assert [r[0] for r in table] == [f"z{d}" for d in range(10)] and all(len(r) == 7 for r in table)
    record = json.loads((workdir / "metrics.json").read_text())
    assert record["step"] == 3 and record["protocol"]["num_train"] == 64
    m = record["metrics"]
    assert set(m) == {"mig", "factor_vae", "information"}
    assert 0.0 <= m["mig"]["mig"] <= 1.0
    assert 0.0 <= m["factor_vae"]["eval_accuracy"] <= 1.0
    assert len(m["information"]["mi_x"]) == 10
    assert set(m["information"]["mi_factors"]) == {"shape", "scale", "orientation", "pos_x", "pos_y"}
    # The same seed gives the same numbers, and a second run adds to the file.
    assert cli.main(args[:4] + ["mig"] + args[5:]) == 0
    again = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert again["mig"] == m["mig"] and "factor_vae" in again


@pytest.mark.parametrize("make, needle", [
    (lambda d: None, "is not a run folder: no config.json"),
    (lambda d: (d / "config.json").write_text(json.dumps(cfg.load_config_file("vae_dsprites").to_dict())),
     "holds no checkpoint"),
])
def test_bad_workdir_is_one_line_error(tmp_path, capsys, make, needle):
    make(tmp_path)
    assert cli.main(["evaluate", "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.strip().count("\n") == 0 and "Traceback" not in err
    with pytest.raises(RunNotFoundError):
        restore_run(tmp_path)


def test_unknown_metric_lists_allowed(run_dir, capsys):
    assert cli.main(["evaluate", "--workdir", str(run_dir[0]), "--metrics", "mig,bogus"]) == 2
    err = capsys.readouterr().err
    assert ("unknown metric 'bogus'; allowed: mig, dci, sap, modularity, beta_vae, factor_vae, information, mig_exact, "
            "irs, dci_es, infomec, mcc, unsupervised, downstream, beta_vae_changed (or all)") in err


def test_a_run_saved_before_a_hyperparameter_existed_restores_at_its_default(tmp_path):
    import json

    from disentax.runner.restore import restore_run

    from helpers import tiny_config, untrained_run

    untrained_run(tiny_config("dip_vae_i"), tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    for key in ("covariance", "covariance_momentum"):  # as a run from before they were added
        del saved["dip_vae_i"][key]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    notes = []
    config, method, _, state = restore_run(tmp_path, note=notes.append)
    assert config.dip_vae_i.covariance == "batch" and int(state.step) == 0
    assert len(notes) == 1 and "config.dip_vae_i.covariance, config.dip_vae_i.covariance_momentum" in notes[0]
