"""The metric suite: the metrics added to `disentax evaluate`, reproducible metrics.json records, and
`python -m disentax.metrics` on arrays of codes and factors."""
import json
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli
from disentax.data.base import GroundTruthDataset
from disentax.metrics import NotApplicable, suite
from disentax.metrics.__main__ import main as metrics_main
from disentax.runner import loop
from disentax.runner.evaluate import evaluate_run

from helpers import configure

NEW = ("irs", "dci_es", "infomec", "mcc", "unsupervised", "downstream", "beta_vae_changed")
KEY = jax.random.PRNGKey(0)


class FactorGrid(GroundTruthDataset):
    """A factor grid whose 'image' of factors f is f itself, so a code can be any function of f."""

    def __init__(self, sizes):
        super().__init__(name="factor_grid", factor_names=[f"f{i}" for i in range(len(sizes))],
                         factor_sizes=sizes, image_shape=(len(sizes),))

    def render(self, factors):
        return jnp.asarray(factors).astype(jnp.float32)


class Unlabelled:
    """Images without factors: only the unsupervised scores apply."""

    name = "unlabelled"

    def sample(self, key, n):
        return jax.random.normal(key, (n, 3)), jnp.zeros((n, 0), jnp.int32)


GRID = FactorGrid((3, 4, 5, 6))


def row(metric, score):
    """The start of a printed table row."""
    return f"  {metric:<12} {score} "


def perm_rescale(x):
    return x[:, jnp.array([2, 0, 3, 1])] * jnp.array([0.5, 3.0, -2.0, 1.5]) + 1.0


# ----------------------------------------------------------------------------- registration


def test_new_metrics_are_appended_so_no_metric_changes_its_key():
    old = ("mig", "dci", "sap", "modularity", "beta_vae", "factor_vae", "information", "mig_exact")
    assert suite.ALL_METRICS == old + NEW
    assert suite.DEFAULT_METRICS == tuple(m for m in suite.ALL_METRICS
                                          if m not in ("mig_exact", "dci_es", "downstream", "beta_vae_changed"))
    assert suite.parse_metric_names("all") == list(suite.ALL_METRICS)
    for name in suite.ALL_METRICS:
        assert "(20" in suite.METRIC_SUMMARIES[name], name  # authors and year
        assert name in cli.EVALUATE_USAGE, name
    assert suite.METRICS_VERSION == 2
    assert suite.downstream_models("lightgbm") == ("logistic_cv", "lightgbm")
    assert suite.downstream_models("gbt") == suite.downstream_models("random_forest") == ("logistic_cv", "gbt")
    assert suite.downstream_sizes(10_000) == (10, 100, 1000, 10_000) and suite.downstream_sizes(300) == (10, 100, 300)


def test_new_metrics_in_the_suite_score_a_perfect_code_and_keep_their_keys():
    names = "mcc,irs,infomec,unsupervised,dci_es"
    out = suite.evaluate(KEY, perm_rescale, GRID, names, num_train=300, num_eval=150)
    assert out["mcc"]["mcc"] == pytest.approx(1.0, abs=1e-9) and out["mcc"]["matching"] == [1, 3, 0, 2]
    assert out["irs"]["irs"] > 0.99 and out["infomec"]["infom"] > 0.9
    assert out["dci_es"]["disentanglement"] > 0.9 and out["dci_es"]["informativeness"] == pytest.approx(1.0)
    assert out["unsupervised"]["gaussian_total_correlation"] < 0.05  # independent factors, independent codes
    # A metric's key is fold_in(key, its position): running it alone gives the same numbers.
    assert suite.evaluate(KEY, perm_rescale, GRID, "mcc", num_train=300)["mcc"] == out["mcc"]


def test_all_on_a_dataset_without_factors_runs_the_unsupervised_scores_only():
    out = suite.evaluate(KEY, lambda x: x, Unlabelled(), "all", num_train=100)
    assert set(out) == set(suite.ALL_METRICS)
    assert set(out["unsupervised"]) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                        "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    for name in suite.ALL_METRICS:
        if name != "unsupervised":
            assert "not_applicable" in out[name], name
    assert "ground-truth factors" in out["downstream"]["not_applicable"]
    with pytest.raises(NotApplicable, match="mcc needs ground-truth factors"):
        suite.mcc_score(KEY, lambda x: x, Unlabelled())


# ----------------------------------------------------------------------------- metrics.json


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    c = configure("vae_dsprites", batch_size=8, num_steps=3, checkpoint_every=3, log_every=3, progress=False,
                  **{"model.encoder": "mlp", "model.mlp_hidden": (32,)})
    workdir = tmp_path_factory.mktemp("run")
    loop.train(c, workdir, finish=False)
    return workdir


@pytest.fixture
def run_dir(trained, tmp_path):
    """A copy of the trained run, so each test starts without a metrics.json."""
    return shutil.copytree(trained, tmp_path / "run")


SIZES = dict(num_train=200, num_eval=100, num_variance_estimate=200)


def test_metrics_json_is_byte_identical_for_one_seed_and_changes_with_another(run_dir):
    names = "mig,sap,modularity,factor_vae,irs,dci_es,infomec,mcc,unsupervised"
    first = evaluate_run(run_dir, names, seed=0, **SIZES)
    path = run_dir / "metrics.json"
    written = path.read_bytes()
    path.unlink()  # the second file is written from scratch, not merged into the first
    evaluate_run(run_dir, names, seed=0, **SIZES)
    assert path.read_bytes() == written
    record = json.loads(written)
    assert record["metrics_version"] == suite.METRICS_VERSION == 2
    assert {"disentax", "jax", "jaxlib", "numpy", "scipy", "scikit-learn"} <= set(record["versions"])
    assert record["versions"]["numpy"] == np.__version__ and record["versions"]["jax"] == jax.__version__
    assert record["protocol"]["num_train"] == 200 and record["protocol"]["num_eval"] == 100
    assert record["metrics"]["mcc"]["computed_with"]["metrics_version"] == 2
    assert set(record["metrics"]) == set(names.split(",")) and first["metrics"] == record["metrics"]
    other = evaluate_run(run_dir, "mig,mcc", seed=1, **SIZES)["metrics"]
    assert other["mcc"]["computed_with"]["seed"] == 1
    assert other["mig"]["mig"] != record["metrics"]["mig"]["mig"]
    assert other["mcc"]["mcc"] != record["metrics"]["mcc"]["mcc"]


def test_evaluate_all_scores_every_metric_and_prints_readable_rows(run_dir, capsys, monkeypatch):
    # mig_exact encodes all 737,280 dSprites images: out of a unit test's budget, so it says so.
    def no_mig_exact(*args):
        raise NotApplicable("mig_exact is left out of this test")

    monkeypatch.setattr(suite, "_mig_exact", no_mig_exact)
    args = ["evaluate", "--workdir", str(run_dir), "--metrics", "all", "--num-train", "100", "--num-eval", "50",
            "--num-variance-estimate", "100", "--dci-importance", "lightgbm", "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    record = json.loads((run_dir / "metrics.json").read_text())
    assert set(record["metrics"]) == set(suite.ALL_METRICS)
    assert record["protocol"]["downstream_models"] == ["logistic_cv", "lightgbm"]
    for name in suite.ALL_METRICS:
        assert ("not_applicable" in record["metrics"][name]) == (name == "mig_exact"), name
    # dci_importance="lightgbm" swaps downstream's sklearn GBT for LightGBM; sizes stop at num_train.
    assert {k.split(":")[0] for k in record["metrics"]["downstream"] if k != "computed_with"} == {
        f"{m}/{n}" for m in ("logistic_cv", "lightgbm") for n in (10, 100)}
    rows = [line.split(None, 1) for line in out.splitlines() if line.startswith("  ") and line.split()]
    for name in NEW:
        assert any(r[0] == name for r in rows), name
    for needle in (row("irs", "irs"), row("mcc", "matching"), row("infomec", "in the JSON"), "nmi, active",
                   row("downstream", "lightgbm/100 mean test accuracy"), row("dci_es", "explicitness_per_factor"),
                   row("unsupervised", "gaussian_total_correlation")):
        assert needle in out, needle
    # Matrices and the downstream task's hundred accuracies are summarised, not dumped.
    assert max(len(line) for line in out.splitlines()) < 200
    assert sum(r[0] == "downstream" for r in rows) == 5  # 2 models x 2 sizes + the pointer to the JSON


# ----------------------------------------------------------------------------- python -m disentax.metrics


def _factors(n, rng, sizes=(3, 6, 10, 8)):
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    """Factors of 2,000 rows, a perfect code (the factors permuted, rescaled, shifted) and random codes."""
    d = tmp_path_factory.mktemp("arrays")
    rng = np.random.default_rng(0)
    f = _factors(2000, rng)
    z = (f - f.mean(0)) / f.std(0)
    perfect = z[:, [2, 0, 3, 1]] * np.array([0.7, -1.3, 2.0, 1.1]) + np.array([5.0, 0.0, -3.0, 1.0])
    for name, a in (("factors", f), ("perfect", perfect), ("random", rng.normal(size=(2000, 6))),
                    ("continuous", f + rng.uniform(size=f.shape))):
        np.save(d / f"{name}.npy", a)
    return d


def test_command_scores_a_perfect_code(arrays, tmp_path):
    out = tmp_path / "scores.json"
    proc = subprocess.run([sys.executable, "-m", "disentax.metrics", str(arrays / "perfect.npy"),
                           str(arrays / "factors.npy"), "--metrics", "mig,mcc,irs,beta_vae", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "1340 train and 660 test rows (seed 0)" in proc.stdout and row("mcc", "mcc") in proc.stdout
    record = json.loads(out.read_text())
    m = record["metrics"]
    assert m["mcc"]["mcc"] == pytest.approx(1.0, abs=1e-9) and m["mcc"]["matching"] == [1, 3, 0, 2]
    assert m["mig"]["mig"] > 0.9 and m["irs"]["irs"] > 0.95
    assert "from a dataset" in m["beta_vae"]["not_applicable"]
    assert record["metrics_version"] == 2 and "scikit-learn" in record["versions"]
    assert record["split"] == {"test_fraction": 0.33, "num_train": 1340, "num_test": 660}
    assert record["codes"]["shape"] == [2000, 4] and len(record["codes"]["sha256"]) == 64


def test_command_random_codes_score_low_and_one_seed_gives_one_json(arrays, tmp_path, capsys):
    files = [str(arrays / "random.npy"), str(arrays / "factors.npy"), "--metrics", "mig,mcc,infomec"]
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert metrics_main(files + ["--out", str(a)]) == 0
    assert metrics_main(files + ["--out", str(b)]) == 0
    assert metrics_main(files + ["--out", str(c), "--seed", "1"]) == 0
    assert a.read_bytes() == b.read_bytes()
    m, other = json.loads(a.read_text())["metrics"], json.loads(c.read_text())["metrics"]
    assert m["mig"]["mig"] < 0.05 and m["mcc"]["mcc"] < 0.1 and m["infomec"]["infoe"] < 0.05
    assert other["mig"]["mig"] != m["mig"]["mig"]  # another split of the rows


def test_command_continuous_factors(arrays, tmp_path, capsys):
    files = [str(arrays / "perfect.npy"), str(arrays / "continuous.npy")]
    assert metrics_main(files + ["--metrics", "mcc"]) == 2
    err = capsys.readouterr().err
    assert "not integer class labels" in err and "pass --continuous-factors" in err and err.count("\n") == 1
    out = tmp_path / "s.json"
    assert metrics_main(files + ["--continuous-factors", "--metrics", "mig,mcc,infomec,beta_vae", "--out", str(out)]) == 0
    m = json.loads(out.read_text())["metrics"]
    assert m["mcc"]["mcc"] > 0.95  # a uniform jitter of at most one class step
    assert m["infomec"]["infoe"] > 0.9
    assert "integer factor classes" in m["mig"]["not_applicable"]
    assert "from a dataset" in m["beta_vae"]["not_applicable"]


def test_a_metric_that_cannot_score_the_arrays_is_reported_and_the_rest_still_run(tmp_path, capsys):
    rng = np.random.default_rng(1)
    f = _factors(300, rng)
    np.save(tmp_path / "f.npy", f)
    np.save(tmp_path / "z.npy", f[:, :1].astype(float))  # one code dimension: SAP needs two
    assert metrics_main([str(tmp_path / "z.npy"), str(tmp_path / "f.npy"), "--metrics", "sap,mcc"]) == 1
    out = capsys.readouterr().out
    assert row("sap", "error") in out and "at least 2 code dimensions" in out and row("mcc", "mcc") in out


def _write(d, name, a):
    np.save(d / name, a)
    return str(d / name)


@pytest.mark.parametrize("make, needle", [
    (lambda d: [str(d / "nope.npy"), _write(d, "f.npy", np.zeros(10, int))], "codes file"),
    (lambda d: [_write(d, "z.npy", np.zeros(10)), _write(d, "f.npy", np.zeros(10, int))], "must be a 2-d array [N, D]"),
    (lambda d: [_write(d, "z.npy", np.zeros((10, 2))), _write(d, "f.npy", np.zeros((10, 2, 2), int))],
     "factors"),
    (lambda d: [_write(d, "z.npy", np.zeros((10, 2))), _write(d, "f.npy", np.zeros(9, int))],
     "codes have 10 rows but factors have 9"),
    (lambda d: [_write(d, "z.npy", np.where(np.eye(10, 2) > 0, np.nan, 0.0)), _write(d, "f.npy", np.zeros(10, int))],
     "contain NaN or infinite values (row 0, column 0)"),
    (lambda d: [_write(d, "z.npy", np.zeros((10, 2))), _write(d, "f.npy", np.zeros(10, int)), "--metrics", "migg"],
     "unknown metric 'migg'"),
    (lambda d: [_write(d, "z.npy", np.zeros((4, 2))), _write(d, "f.npy", np.zeros(4, int))], "each needs at least 2"),
    (lambda d: [(d / "t.npy").write_text("text") and str(d / "t.npy"), _write(d, "f.npy", np.zeros(4, int))],
     "is not a .npy array"),
])
def test_bad_inputs_are_exit_2_and_one_line(tmp_path, capsys, make, needle):
    assert metrics_main(make(tmp_path)) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == ""


def test_evaluate_arrays_seeds_each_metric_by_name():
    rng = np.random.default_rng(2)
    f = _factors(600, rng)
    z = f + rng.normal(scale=0.5, size=f.shape)
    tr, te = (z[:400], f[:400]), (z[400:], f[400:])
    both = suite.evaluate_arrays(*tr, *te, "mcc,dci_es", seed=3)
    assert suite.evaluate_arrays(*tr, *te, "dci_es", seed=3)["dci_es"] == both["dci_es"]
    assert suite.evaluate_arrays(*tr, *te, "dci_es", seed=4)["dci_es"] != both["dci_es"]
    with pytest.raises(ValueError, match="integer class labels"):
        suite.evaluate_arrays(z[:400], z[:400], z[400:], z[400:], "mcc")
