"""What `disentax list` prints: methods (with hyperparameters, defaults and sources), configs,
datasets and metrics."""
from __future__ import annotations

from disentax import config as cfg
from disentax import methods
from disentax.data import registry as data_registry
from disentax.metrics.suite import ALL_METRICS, DEFAULT_METRICS, METRIC_SUMMARIES

SECTIONS = ("methods", "configs", "datasets", "metrics")


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].strip() if doc and doc.strip() else ""


def list_methods() -> list[str]:
    lines = ["Methods (config.method; hyperparameters in config.<method>.<name>):"]
    for name in methods.available():
        spec = methods.get_spec(name)
        lines.append(f"  {name:<26} {spec.paper}: {spec.summary}")
        for h in spec.hyperparameters:
            allowed = f" ({h.check.allowed})" if h.check else ""
            source = f" [{h.source}]" if h.source else ""
            lines.append(f"      {h.name} = {h.default!r}{allowed}: {h.doc}{source}")
        for key, value in spec.shared_defaults.items():
            lines.append(f"      (sets config.{key} = {value!r} unless the config says otherwise)")
    return lines


def list_configs() -> list[str]:
    lines = ["Configs (disentax train --config NAME):"]
    for name in cfg.config_names():
        try:
            c = cfg.load_config_file(name)
            what = f"{c.method} on {c.dataset}"
        except Exception as e:  # a broken config file is listed with why, not a crash of the listing
            what = f"cannot load: {type(e).__name__}: {e}"
        lines.append(f"  {name:<44} {what}")
    return lines


def list_datasets() -> list[str]:
    names = data_registry.available()
    width = max(map(len, names))  # the longest name sets the column, so no description runs into a name
    return ["Datasets (config.dataset):"] + [f"  {n:<{width}} {data_registry.describe(n)}" for n in names]


def list_metrics() -> list[str]:
    slow = ", ".join(m for m in ALL_METRICS if m not in DEFAULT_METRICS)
    lines = [f"Metrics (disentax evaluate --metrics a,b; default all but {slow}):"]
    for name in ALL_METRICS:
        mark = "" if name in DEFAULT_METRICS else " (not in the default set)"
        lines.append(f"  {name:<12} {METRIC_SUMMARIES[name]}{mark}")
    return lines


def listing(sections=SECTIONS) -> str:
    parts = {"methods": list_methods, "configs": list_configs, "datasets": list_datasets, "metrics": list_metrics}
    return "\n\n".join("\n".join(parts[s]()) for s in sections)
