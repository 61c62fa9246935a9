"""Score a trained run: what `disentax evaluate` does, and the tables it prints.

`evaluate_run(workdir)` restores the latest checkpoint, picks one of the method's codes (its
default unless `code=` names another), checks on a probe batch that the code's representation
and posterior have the dimensions the code declares, runs the metrics
(`disentax.metrics.suite.evaluate`) and writes `metrics.json` (`metrics_<code>.json` for a code
other than the default). The file records what the numbers depend on: checkpoint step, seed,
protocol sizes, `metrics_version` (`disentax.metrics.suite.METRICS_VERSION`) and the versions of
disentax and the numerical libraries; the same run, seed and versions give the same file, byte for
byte, so nothing that varies between runs (a time, a host name) goes in it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np

from disentax.errors import ConfigError
from disentax.methods.contract import Code, Method
from disentax.metrics.report import format_scores
from disentax.metrics.suite import METRICS_VERSION, downstream_models, evaluate, package_versions, parse_metric_names
from disentax.runner.restore import restore_run
from disentax.train.logging import read_json, write_json

__all__ = ["evaluate_run", "format_scores", "format_dimension_tables", "scoring_functions"]


def scoring_functions(method: Method, params, code: str | None = None) -> tuple[str, Code, Callable, Callable | None]:
    """(code name, Code, x -> representation [B, D], x -> posterior or None) of a trained method."""
    name = method.default_code if code is None else code
    chosen = method.code(name)
    representation = lambda x: chosen.representation(params, x)  # noqa: E731
    posterior = None if chosen.posterior is None else (lambda x: chosen.posterior(params, x))
    return name, chosen, representation, posterior


def _check_dimensions(method: Method, name: str, code: Code, representation, posterior, x) -> None:
    """The code's arrays have the declared D columns: a mismatch is a bug in the method, not data."""
    rep = jax.eval_shape(representation, x)
    if rep.shape != (x.shape[0], code.dim):
        raise ValueError(f"method {method.name!r}, code {name!r}: representation has shape {rep.shape}, "
                         f"its blocks ({code.layout()}) declare {code.dim} dimensions")
    if posterior is not None:
        post = jax.eval_shape(posterior, x)
        for field in ("mean", "logvar"):
            shape = getattr(post, field).shape
            if shape != (x.shape[0], code.dim):
                raise ValueError(f"method {method.name!r}, code {name!r}: posterior {field} has shape {shape}, "
                                 f"not [B, {code.dim}] like the representation")


def evaluate_run(workdir, metrics: str | Sequence[str] | None = None, *, code: str | None = None, seed: int = 0,
                 num_train: int | None = None, num_eval: int | None = None, num_variance_estimate: int | None = None,
                 dci_importance: str = "gbt", mig_exact_samples: int = 10_000, progress: bool = False,
                 on_start: Callable[[dict], None] | None = None,
                 on_result: Callable[[str, dict], None] | None = None,
                 note: Callable[[str], None] | None = None) -> dict:
    """Score the run in `workdir`; returns (and writes to its metrics file) the record
    {"step", "method", "dataset", "seed", "code": {name, dims, layout, dim_names, description},
    "protocol", "metrics_version", "versions", "metrics"}. `dci_importance` also picks the
    downstream task's boosted trees (`disentax.metrics.suite.downstream_models`, recorded in the
    protocol). `on_start(record)` is called before the first metric runs.

    A method without a code (`Method.no_code`, a GAN) gets a record with `code` None, the one-line
    reason in `not_applicable`, and its own `evaluation` (written to evaluation.json)."""
    names = parse_metric_names(metrics)
    config, method, dataset, state = restore_run(workdir, note=note)
    params = method.scored_params(state)
    if not method.codes:
        return _evaluate_without_code(workdir, config, method, params, int(state.step), int(seed))
    name, chosen, representation, posterior = scoring_functions(method, params, code)
    probe = jax.ShapeDtypeStruct((2, *dataset.image_shape), np.float32)
    _check_dimensions(method, name, chosen, representation, posterior, probe)
    step = int(state.step)
    protocol = {"num_train": num_train or 10_000, "num_eval": num_eval or 5_000,
                "num_variance_estimate": num_variance_estimate or 10_000, "dci_importance": dci_importance,
                "downstream_models": list(downstream_models(dci_importance))}
    record = {
        "step": step, "method": config.method, "dataset": config.dataset, "seed": int(seed), "protocol": protocol,
        "metrics_version": METRICS_VERSION, "versions": package_versions(),
        "code": {"name": name, "dims": chosen.dim, "layout": chosen.layout(), "dim_names": chosen.dim_names(),
                 "description": chosen.description},
    }
    path = Path(workdir) / ("metrics.json" if name == method.default_code else f"metrics_{name}.json")
    _check_writable(path)  # before minutes of metrics, not after
    if on_start is not None:
        on_start(record)
    no_posterior = f"code {name!r} of method {config.method!r} has none: {chosen.no_posterior}"
    results = evaluate(
        jax.random.PRNGKey(int(seed)), representation, dataset, names, posterior_fn=posterior,
        no_posterior=no_posterior, num_train=num_train, num_eval=num_eval, num_variance_estimate=num_variance_estimate,
        dci_importance=dci_importance, mig_exact_samples=mig_exact_samples, progress=progress, on_result=on_result,
    )
    # Each metric's entry says what it was computed with, so scores of another checkpoint, seed or
    # protocol are never relabelled; the file keeps those of this checkpoint and code only.
    computed = {"step": step, "seed": int(seed), "protocol": protocol, "metrics_version": METRICS_VERSION}
    old = read_json(path) or {}
    previous = {}
    if old.get("step") == step and isinstance(old.get("code"), dict) and old["code"].get("name") == name:
        previous = {k: v for k, v in (old.get("metrics") or {}).items() if isinstance(v, dict)}
    record["metrics"] = {**previous, **{k: {**v, "computed_with": computed} for k, v in results.items()}}
    write_json(path, record, sort_keys=True)
    record["path"] = str(path)
    return record


def _evaluate_without_code(workdir, config, method: Method, params, step: int, seed: int) -> dict:
    """A method with no representation (a GAN): the metrics do not apply, its own evaluation runs
    (from `PRNGKey(seed)`) and is written to evaluation.json as the loop writes it."""
    record = {"step": step, "method": config.method, "dataset": config.dataset, "seed": seed, "code": None,
              "not_applicable": f"the representation metrics do not apply to method {config.method!r}: "
                                f"{method.no_code}", "evaluation": None}
    if method.evaluations is not None:
        path = Path(workdir) / "evaluation.json"
        _check_writable(path)
        record["evaluation"] = method.evaluations(params, jax.random.PRNGKey(seed))
        write_json(path, {"step": step, "method": method.name, "seed": seed, **record["evaluation"]})
        record["path"] = str(path)
    return record


def _check_writable(path: Path) -> None:
    """Fail now, in one line, if the metrics file cannot be written."""
    try:
        with open(path.with_suffix(".json.tmp"), "a"):
            pass
        path.with_suffix(".json.tmp").unlink()
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None


# ----------------------------------------------------------------------------- tables


def _matrix_table(title: str, dim_names: Sequence[str], columns: dict[str, Sequence[float]]) -> str:
    width = max(7, *(len(c) for c in columns)) + 1
    first = max(9, *(len(d) for d in dim_names)) + 1
    lines = [title, "  " + "dim".ljust(first) + "".join(c.rjust(width) for c in columns)]
    for i, d in enumerate(dim_names):
        lines.append("  " + d.ljust(first) + "".join(f"{float(col[i]):.3f}".rjust(width) for col in columns.values()))
    return "\n".join(lines)


def format_dimension_tables(record: dict) -> str:
    """Per dimension × per factor tables of the metrics that report them (nats)."""
    dims = record["code"]["dim_names"]
    out = []
    info = record["metrics"].get("information", {})
    if "mi_x" in info:
        cols = {"I(x;z_d)": info["mi_x"], **{f: v for f, v in info.get("mi_factors", {}).items()}}
        out.append(_matrix_table("I(x; z_d) and I(v_k; z_d) per dimension (nats; `information`):", dims, cols))
    exact = record["metrics"].get("mig_exact", {})
    if "mutual_info" in exact:
        cols = dict(zip(exact["factors"], exact["mutual_info"]))
        out.append(_matrix_table("I(v_k; z_d) per dimension (nats; `mig_exact`, the whole grid):", dims, cols))
    return "\n\n".join(out)


def describe_code(record: dict) -> str:
    c = record["code"]
    return f"code {c['name']!r} ({c['dims']} dims: {c['layout']}): {c['description']}"


def print_record(record: dict, print_fn: Callable[[str], Any] = print) -> None:
    """The whole record as `disentax evaluate` prints it at the end."""
    print_fn(describe_code(record))
    first = True
    for name, scores in record["metrics"].items():
        print_fn(format_scores(name, scores, header=first))
        first = False
    tables = format_dimension_tables(record)
    if tables:
        print_fn("")
        print_fn(tables)
