"""Score a sweep: every member's metrics in one call, the study's table, its summary and pictures.

`evaluate_sweep(workdir)` (what `disentax evaluate --workdir D` does when D holds a sweep) restores
the sweep's newest checkpoint and scores every member with `disentax.metrics.suite.evaluate`, each
with the same metrics key, so each member gets the numbers `disentax evaluate` gives the member's
exported run folder. The encoding is shared: `disentax.metrics.utils.MemberCodes` encodes each
batch a metric draws with all members in one jitted call (the encoder over the stacked parameters,
the way the sweep trained them, `sweep.resolve_vectorize`), so the images of a study are sampled
and rendered once, not once per member. The metrics that draw their own interventions (beta_vae,
factor_vae) or read the posterior (information, mig_exact) run member by member.

Written to the sweep folder:

* `results.jsonl`: one row per member (its index, method, dataset, seed, grid values, checkpoint
  step, the step it diverged at or null, the protocol, every metric's scores as `evaluate` returns
  them). Rewritten after each member, so an interrupted evaluation keeps the members it finished;
  a rerun with the same step, protocol, seed and metrics scores only the missing ones.
* `results.csv`: the same rows flat, a column per scalar score (`mig`, `dci.disentanglement`, ...)
  and `udr` (`sweep.score_udr`, Duan et al. (2020)) when a grid point has two seeds or more.
* `metric_distributions.png`: each headline score's distribution over seeds per grid point
  (violins with the members as dots, as Locatello et al. (2019) plot their Fig. 5/6 studies), and
  `metric_rank_correlation.png`: the Spearman rank correlation between headline scores over the
  members (their Fig. 3).

`summarize` gives each headline score's median and interquartile range per value of each grid key
(over the seeds and the other keys' values), which the command prints.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np

from disentax.errors import ConfigError
from disentax.metrics.suite import METRICS_VERSION, downstream_models, evaluate, parse_metric_names
from disentax.metrics.utils import MemberCodes
from disentax.runner.evaluate import _check_dimensions
from disentax.runner.sweep import _over_members, _restore_stacked, read_spec, resolve_vectorize, score_udr

__all__ = ["HEADLINES", "evaluate_sweep", "flat_scores", "format_summary", "plot_distributions",
           "plot_rank_correlation", "summarize"]

RESULTS_JSONL, RESULTS_CSV = "results.jsonl", "results.csv"
DISTRIBUTIONS_PNG, RANK_CORRELATION_PNG = "metric_distributions.png", "metric_rank_correlation.png"

# The score of each metric that studies compare (the summary and the pictures); results.csv has all.
HEADLINES = {"mig": "mig", "dci": "disentanglement", "sap": "sap", "modularity": "modularity",
             "beta_vae": "eval_accuracy", "factor_vae": "eval_accuracy", "information": None,
             "mig_exact": "mig", "irs": "irs", "dci_es": "disentanglement", "infomec": "infom", "mcc": "mcc",
             "unsupervised": "gaussian_total_correlation", "downstream": None}


def _column(metric: str, key: str) -> str:
    return metric if key == metric else f"{metric}.{key}"


def flat_scores(results: dict) -> dict[str, float]:
    """{"mig": .., "dci.disentanglement": .., ...}: the scalar scores of `evaluate`'s result."""
    out = {}
    for metric, scores in results.items():
        for key, value in scores.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[_column(metric, key)] = float(value)
    return out


def headline_columns(columns: Sequence[str]) -> list[str]:
    """The headline score of every metric present in `columns`, in suite order, and udr."""
    heads = [_column(m, k) for m, k in HEADLINES.items() if k is not None]
    return [c for c in heads + ["udr"] if c in columns]


def _setting(member: dict) -> tuple:
    return tuple((k, v) for k, v in member.items() if k != "seed")


def _label(setting: tuple) -> str:
    return ", ".join(f"{k.rpartition('.')[2]}={v:g}" for k, v in setting) or "all seeds"


# ----------------------------------------------------------------------------- scoring


def evaluate_sweep(workdir, metrics: str | Sequence[str] | None = None, *, code: str | None = None, seed: int = 0,
                   num_train: int | None = None, num_eval: int | None = None,
                   num_variance_estimate: int | None = None, dci_importance: str = "gbt",
                   mig_exact_samples: int = 10_000, udr_points: int = 1000, plots: bool = True,
                   progress: bool = False, on_member: Callable[[dict], None] | None = None,
                   note: Callable[[str], None] | None = None) -> dict:
    """Score every member of the sweep in `workdir` (see the module docstring).

    Returns {"step", "rows" (one per member, as in results.jsonl), "columns" (results.csv's),
    "summary" (`summarize`), "paths" (the files written)}. `on_member(row)` is called as each
    member finishes (or is taken from an earlier evaluation); `udr_points` images go into UDR (0: no UDR column). `code` names one of the
    method's codes (default: its first), as for a single run.
    """
    workdir = Path(workdir)
    note = note or (lambda message: None)
    names = parse_metric_names(metrics)
    spec = read_spec(workdir)
    base, method, states, step = _restore_stacked(workdir, spec)
    members = spec["members"]
    diverged = {int(k): int(v) for k, v in spec.get("diverged", {}).items()}
    code_name = method.default_code if code is None else code
    code = method.code(code_name)
    protocol = {"num_train": num_train or 10_000, "num_eval": num_eval or 5_000,
                "num_variance_estimate": num_variance_estimate or 10_000, "dci_importance": dci_importance,
                "downstream_models": list(downstream_models(dci_importance))}
    header = {"method": base.method, "dataset": base.dataset, "step": int(step), "code": code_name,
              "metrics_seed": int(seed), "protocol": protocol, "metrics_version": METRICS_VERSION}

    params = states.params
    member_params = [jax.tree.map(lambda a, i=i: a[i], params) for i in range(len(members))]
    vectorize = resolve_vectorize("auto")
    codes = MemberCodes(
        lambda x: _over_members(lambda p: code.representation(p, x), vectorize)(params),
        [lambda x, p=p: code.representation(p, x) for p in member_params])
    posterior = None if code.posterior is None else [lambda x, p=p: code.posterior(p, x) for p in member_params]
    probe = jax.ShapeDtypeStruct((2, *method.dataset.image_shape), np.float32)
    _check_dimensions(method, code_name, code, codes.member(0), None if posterior is None else posterior[0], probe)

    jsonl = workdir / RESULTS_JSONL
    kept = _reusable_rows(jsonl, header, names)
    rows: list[dict | None] = [kept.get(i) for i in range(len(members))]
    if any(r is not None for r in rows):
        note(f"reusing the scores of {sum(r is not None for r in rows)} members from {jsonl}")
    for i, m in enumerate(members):
        if rows[i] is not None:
            if on_member is not None:
                on_member(rows[i])
            continue
        row = {"member": i, **header, **m, "diverged": diverged.get(i), "metrics": {}}
        if i not in diverged:
            row["metrics"] = evaluate(
                jax.random.PRNGKey(int(seed)), codes.member(i), method.dataset, names,
                posterior_fn=None if posterior is None else posterior[i], no_posterior=f"code {code_name!r} of "
                f"method {base.method!r} has none: {code.no_posterior}", num_train=num_train, num_eval=num_eval,
                num_variance_estimate=num_variance_estimate, dci_importance=dci_importance,
                mig_exact_samples=mig_exact_samples, progress=progress)
        rows[i] = row
        _write_jsonl(jsonl, [r for r in rows if r is not None])
        if on_member is not None:
            on_member(row)
    codes.clear()

    udr_scores = {}
    settings = [_setting(m) for m in members]
    if udr_points and any(settings.count(s) > 1 for s in set(settings)) and method.posterior is not None:
        record = score_udr(workdir, num_points=udr_points, seed=seed)
        udr_scores = {e["index"]: e["udr"] for e in record["members"]}
    table = []
    for row, m in zip(rows, members):
        flat = {"member": row["member"], **m, **{k: row[k] for k in ("method", "dataset", "code", "step", "diverged",
                                                                    "metrics_seed", "metrics_version")}}
        flat.update(flat_scores(row["metrics"]))
        if udr_scores:
            flat["udr"] = udr_scores.get(row["member"])
        table.append(flat)
    columns = list(dict.fromkeys(k for r in table for k in r))
    _write_csv(workdir / RESULTS_CSV, table, columns)
    paths = {"jsonl": str(jsonl), "csv": str(workdir / RESULTS_CSV)}
    grid_keys = list(spec["grid"])
    heads = headline_columns(columns)
    summary = summarize(table, grid_keys, heads)
    if plots and heads:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            note("matplotlib is not installed: no pictures (pip install matplotlib)")
        else:
            paths["distributions"] = str(plot_distributions(table, members, heads, workdir / DISTRIBUTIONS_PNG))
            try:
                paths["rank_correlation"] = str(plot_rank_correlation(table, heads, workdir / RANK_CORRELATION_PNG))
            except ConfigError as e:
                note(f"no rank-correlation picture: {e}")
    return {"step": int(step), "rows": rows, "table": table, "columns": columns, "summary": summary,
            "paths": paths}


def _reusable_rows(path: Path, header: dict, names: Sequence[str]) -> dict[int, dict]:
    """Rows of an earlier evaluation of this checkpoint, protocol and seed holding every named metric."""
    if not path.is_file():
        return {}
    kept = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by an interruption
        if all(row.get(k) == v for k, v in header.items()) and (
                row.get("diverged") is not None or all(n in row.get("metrics", {}) for n in names)):
            kept[int(row["member"])] = {**row, "metrics": {n: row["metrics"][n] for n in names
                                                           if n in row.get("metrics", {})}}
    return kept


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)


def _write_csv(path: Path, table: list[dict], columns: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(buf.getvalue())
    tmp.replace(path)


# ----------------------------------------------------------------------------- summary


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def summarize(table: list[dict], grid_keys: Sequence[str], columns: Sequence[str]) -> list[dict]:
    """Median and interquartile range of each column per value of each grid key (one "all members"
    group when nothing is gridded): [{"key", "value", "members", "scores": {column: {"median", "q25",
    "q75", "n"}}}]. Members without a finite value (diverged, not applicable) are left out of it."""
    groups = []
    for key in grid_keys or [None]:
        values = [None] if key is None else list(dict.fromkeys(r[key] for r in table))
        for value in values:
            rows = [r for r in table if key is None or r[key] == value]
            scores = {}
            for c in columns:
                x = np.asarray([r[c] for r in rows if _finite(r.get(c))], np.float64)
                scores[c] = ({"median": float(np.median(x)), "q25": float(np.percentile(x, 25)),
                              "q75": float(np.percentile(x, 75)), "n": int(x.size)} if x.size else
                             {"median": None, "q25": None, "q75": None, "n": 0})
            groups.append({"key": key, "value": value, "members": len(rows), "scores": scores})
    return groups


def format_summary(summary: list[dict]) -> str:
    """The summary as a table: a row per grid value, `median [q25, q75]` per headline score."""
    if not summary:
        return ""
    columns = list(summary[0]["scores"])
    first = max(12, *(len(_group_label(g)) for g in summary)) + 2
    width = max(22, *(len(c) + 2 for c in columns))
    lines = ["  " + "setting".ljust(first) + "n".rjust(3) + "".join(c.rjust(width) for c in columns)]
    for g in summary:
        cells = []
        for c in columns:
            s = g["scores"][c]
            cells.append(("-" if s["median"] is None else f"{s['median']:.3f} [{s['q25']:.3f}, {s['q75']:.3f}]")
                         .rjust(width))
        lines.append("  " + _group_label(g).ljust(first) + str(g["members"]).rjust(3) + "".join(cells))
    return "\n".join(lines)


def _group_label(group: dict) -> str:
    return "all members" if group["key"] is None else f"{group['key'].rpartition('.')[2]}={group['value']:g}"


# ----------------------------------------------------------------------------- pictures


def _figure(**kwargs):
    # A bare Figure draws without a backend: switching pyplot's (matplotlib.use) would blank a notebook's
    # inline plots, and a pyplot figure would linger in its global state.
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def plot_distributions(table: list[dict], members: list[dict], columns: Sequence[str], path) -> Path:
    """One panel per score: a violin per grid point over its seeds, each member a dot."""
    settings = list(dict.fromkeys(_setting(m) for m in members))
    n = len(columns)
    cols = min(n, 3)
    rows_ = -(-n // cols)
    fig = _figure(figsize=(max(3.2, 0.9 * len(settings) + 1.6) * cols, 3.0 * rows_))
    axes = fig.subplots(rows_, cols, squeeze=False)
    jitter = np.random.default_rng(0)
    for ax, c in zip(axes.flat, columns):
        data = [np.asarray([r[c] for r, m in zip(table, members) if _setting(m) == s and _finite(r.get(c))])
                for s in settings]
        where = [i for i, d in enumerate(data) if d.size > 1 and np.ptp(d) > 0]
        if where:
            parts = ax.violinplot([data[i] for i in where], positions=where, showmedians=True, widths=0.8)
            for body in parts["bodies"]:
                body.set_alpha(0.35)
        for i, d in enumerate(data):
            ax.scatter(i + jitter.uniform(-0.08, 0.08, d.size), d, s=12, color="k", zorder=3)
        ax.set_xticks(range(len(settings)), [_label(s) for s in settings], rotation=30 if len(settings) > 4 else 0,
                      ha="right" if len(settings) > 4 else "center", fontsize=8)
        ax.set_xlim(-0.6, len(settings) - 0.4)
        ax.set_title(c, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(f"scores over seeds per grid point ({len(members)} members)", fontsize=11)
    return _save(fig, path)


def rank_correlation(table: list[dict], columns: Sequence[str]) -> np.ndarray:
    """Spearman's ρ between each pair of columns over the members finite in both ([C, C]; NaN where
    fewer than 3 members are, or a column is constant over them)."""
    from scipy.stats import spearmanr

    out = np.full((len(columns), len(columns)), np.nan)
    for a, ca in enumerate(columns):
        for b, cb in enumerate(columns):
            x = np.asarray([(r[ca], r[cb]) for r in table if _finite(r.get(ca)) and _finite(r.get(cb))], np.float64)
            if x.shape[0] >= 3 and np.ptp(x[:, 0]) > 0 and np.ptp(x[:, 1]) > 0:
                out[a, b] = spearmanr(x[:, 0], x[:, 1]).statistic
    if np.isnan(out).all():
        raise ConfigError(f"rank correlation needs 3 members scored on two of {', '.join(columns)} with "
                          "values that differ")
    return out


def plot_rank_correlation(table: list[dict], columns: Sequence[str], path) -> Path:
    """Heat map of `rank_correlation`, each cell labelled with ρ."""
    rho = rank_correlation(table, columns)
    size = 1.0 + 0.55 * len(columns)
    fig = _figure(figsize=(size + 1.5, size))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(rho), vmin=-1, vmax=1, cmap="RdBu_r")
    for a in range(len(columns)):
        for b in range(len(columns)):
            ax.text(b, a, "-" if np.isnan(rho[a, b]) else f"{rho[a, b]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(columns)), columns, fontsize=8)
    fig.colorbar(image, ax=ax, label="Spearman ρ")
    n = sum(any(_finite(r.get(c)) for c in columns) for r in table)
    ax.set_title(f"rank correlation of the scores ({n} members scored)", fontsize=10)
    return _save(fig, path)
