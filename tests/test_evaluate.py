"""`disentax evaluate` and `restore_run` on a tiny trained run."""
import json

import jax
import numpy as np
import pytest

from disentax import cli
from disentax import config as cfg
from disentax.train import loop
from disentax.train.restore import RunNotFoundError, restore_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    c = cfg.load_config_file("vae_dsprites")
    c.batch_size, c.num_steps, c.checkpoint_every, c.log_every, c.progress = 8, 3, 3, 3, False
    c.model.encoder, c.model.mlp_hidden = "mlp", (32,)
    workdir = tmp_path_factory.mktemp("run")
    result = loop.train(cfg.validate(c), workdir, write_pictures=False)
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
    assert "mig" in out and "eval_accuracy" in out and "mi_x" in out
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
    assert "unknown metric 'bogus'; allowed: mig, dci, sap, modularity, beta_vae, factor_vae, information, mig_exact" in err
