"""Scoring a sweep: each member gets its exported run's numbers from one shared encoding pass; the table,
summary, pictures and an interrupted evaluation's rows."""
import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli
from disentax.data.registry import get_dataset
from disentax.metrics.suite import evaluate
from disentax.metrics.utils import MemberCodes
from disentax.runner import evaluate_run, sweep, sweep_scores

from helpers import QUICK, TINY_MODEL, configure

PROTOCOL = {"num_train": 64, "num_eval": 32, "num_variance_estimate": 64}
METRICS = ["mig", "sap", "beta_vae", "factor_vae", "information", "irs"]


def test_member_codes_draw_each_batch_once_and_score_each_member_as_alone():
    dataset = get_dataset("dsprites")
    weights = [jax.random.normal(jax.random.PRNGKey(i), (64 * 64, 3)) for i in range(3)]
    fns = [lambda x, w=w: x.reshape(x.shape[0], -1) @ w for w in weights]
    calls = []

    def encode_all(x):
        calls.append(x.shape)
        return jnp.stack([f(x) for f in fns])

    codes = MemberCodes(encode_all, fns)
    key = jax.random.PRNGKey(3)
    names = ["mig", "sap", "irs", "beta_vae"]
    shared = [evaluate(key, codes.member(i), dataset, names, num_train=48, num_eval=24) for i in range(3)]
    # mig draws once, sap twice (train, test), irs once: four draws encoded by all members together; the
    # beta_vae pairs are drawn by each member's own encoder.
    assert len(calls) == 4
    alone = [evaluate(key, f, dataset, names, num_train=48, num_eval=24) for f in fns]
    assert shared == alone  # the same codes, hence the same numbers
    assert shared[0] != shared[1]  # and the members are different models
    codes.clear()
    evaluate(key, codes.member(2), dataset, ["mig"], num_train=48)
    assert len(calls) == 5  # cleared: drawn again


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scored") / "sweep"
    config = configure("beta_vae_dsprites", **{**QUICK, **TINY_MODEL, "num_steps": 6, "log_every": 3,
                                               "checkpoint_every": 3})
    sweep.train_sweep(config, workdir, 2, ["beta=1,4"])
    # As if member 1 had diverged at step 3: it is listed, not scored.
    spec = json.loads((workdir / sweep.SPEC_FILE).read_text())
    (workdir / sweep.SPEC_FILE).write_text(json.dumps({**spec, "diverged": {"1": 3}}))
    finished = []
    out = sweep_scores.evaluate_sweep(workdir, METRICS, udr_points=200, on_member=finished.append, **PROTOCOL)
    return workdir, out, finished


def test_each_member_scores_what_its_exported_run_scores(scored, tmp_path):
    workdir, out, finished = scored
    assert [r["member"] for r in finished] == [0, 1, 2, 3]
    for i in (0, 3):
        run = sweep.export_member(workdir, i, tmp_path / f"m{i}")
        alone = evaluate_run(run, METRICS, **PROTOCOL)["metrics"]
        mine = out["rows"][i]["metrics"]
        for name in METRICS:
            got = {k: v for k, v in mine[name].items() if k != "computed_with"}
            want = {k: v for k, v in alone[name].items() if k != "computed_with"}
            assert jax.tree.structure(got) == jax.tree.structure(want), name
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, err_msg=name)
    row = out["rows"][1]
    assert row["diverged"] == 3 and row["metrics"] == {}


def test_the_table_summary_and_pictures(scored):
    workdir, out, _ = scored
    with open(workdir / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [(int(r["member"]), int(r["seed"]), float(r["beta_vae.beta"])) for r in table] == [
        (0, 0, 1.0), (1, 1, 1.0), (2, 0, 4.0), (3, 1, 4.0)]
    assert {"mig", "sap", "beta_vae.eval_accuracy", "factor_vae.eval_accuracy", "irs", "udr"} <= set(table[0])
    assert table[1]["mig"] == "" and table[1]["diverged"] == "3"
    lines = (workdir / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["member"] for line in lines] == [0, 1, 2, 3]
    # UDR: a grid point whose other seed diverged has no pair; the two seeds of beta=4 share theirs.
    assert table[0]["udr"] == table[1]["udr"] == "" and table[2]["udr"] == table[3]["udr"] != ""
    groups = {(g["key"], g["value"]): g for g in out["summary"]}
    beta4 = groups[("beta_vae.beta", 4.0)]["scores"]["mig"]
    values = [float(table[i]["mig"]) for i in (2, 3)]
    assert beta4["n"] == 2 and beta4["median"] == pytest.approx(np.median(values))
    assert beta4["q25"] == pytest.approx(np.percentile(values, 25))
    assert groups[("beta_vae.beta", 1.0)]["scores"]["mig"]["n"] == 1  # the diverged member is left out
    text = sweep_scores.format_summary(out["summary"])
    assert "beta=4" in text and f"{beta4['median']:.3f}" in text
    for name in ("metric_distributions.png", "metric_rank_correlation.png"):
        assert (workdir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rank_correlation_is_spearman_over_the_members():
    rng = np.random.default_rng(0)
    a = rng.normal(size=9)
    table = [{"x": float(v), "y": float(np.exp(v)), "z": float(-v ** 3), "c": 1.0} for v in a]
    rho = sweep_scores.rank_correlation(table, ["x", "y", "z", "c"])
    np.testing.assert_allclose(rho[:3, :3], [[1, 1, -1], [1, 1, -1], [-1, -1, 1]], atol=1e-12)
    assert np.isnan(rho[3]).all()  # a constant score has no ranks
    # Pairwise: each pair over the members scored on both.
    table[0]["x"] = None
    rho = sweep_scores.rank_correlation(table, ["x", "y"])
    assert rho[0, 1] == pytest.approx(1.0) and rho[1, 1] == pytest.approx(1.0)
    with pytest.raises(sweep.ConfigError, match="needs 3 members"):
        sweep_scores.rank_correlation(table[1:3], ["x", "y"])


def test_an_evaluation_rerun_keeps_finished_members_and_the_cli_prints_the_summary(scored, monkeypatch, capsys):
    workdir, out, _ = scored
    monkeypatch.setattr(sweep_scores, "evaluate", lambda *a, **k: pytest.fail("a finished member was scored again"))
    code = cli.main(["evaluate", "--workdir", str(workdir), "--metrics", ",".join(METRICS), "--no-progress",
                     *[f"--{k.replace('_', '-')}={v}" for k, v in PROTOCOL.items()]])
    printed = capsys.readouterr()
    assert code == 0 and "reusing the scores of 4 members" in printed.err
    assert "member   1 (seed=1, beta=1): diverged at step 3" in printed.out
    assert "median [25%, 75%]" in printed.out and "beta=4" in printed.out and "results.csv" in printed.out
    # Another protocol is not the same evaluation: those rows would be scored again.
    assert sweep_scores._reusable_rows(workdir / "results.jsonl", {"step": 6, "protocol": {}}, METRICS) == {}
