"""Metric sinks: a JSON-lines file (one object per logged step) and TensorBoard event files."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np


def to_python(metrics: dict) -> dict:
    """Device arrays -> floats (scalars) or lists (vectors), ready for JSON."""
    out = {}
    for k, v in metrics.items():
        a = np.asarray(v)
        out[k] = float(a) if a.ndim == 0 else a.astype(float).tolist()
    return out


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


class MetricWriter:
    """Appends metrics to `workdir/metrics.jsonl` and to TensorBoard events under `workdir/tb`.

    On resume, lines past `resume_step` (written after the checkpoint that is being
    resumed) are dropped so the file describes one trajectory. `enabled=False` (every process
    but the first of a multi-host run) writes nothing.
    """

    def __init__(self, workdir, resume_step: int = 0, tensorboard: bool = True, enabled: bool = True):
        self.path = Path(workdir) / "metrics.jsonl"
        self.enabled = enabled
        self.last_written = resume_step  # the step of the last row on disk
        self._file, self._tb = None, None
        if not enabled:
            return
        if self.path.exists():
            kept = []
            for line in self.path.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) <= resume_step:
                        kept.append(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption
            # Beside it, then renamed: a kill during the rewrite leaves the old file or the new one.
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            os.replace(tmp, self.path)
        self._file = self.path.open("a")
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(Path(workdir) / "tb"), purge_step=resume_step + 1 if resume_step else None)

    def write(self, step: int, metrics: dict) -> None:
        if not self.enabled:
            return
        values = to_python(metrics)
        record = {"step": int(step), **{k: _json_safe(v) for k, v in values.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        self.last_written = int(step)
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, list):
                    for i, vi in enumerate(v):
                        self._tb.add_scalar(f"{k}/{i}", vi, step)
                else:
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(workdir) -> list[dict]:
    """All records of `workdir/metrics.jsonl`, in order."""
    path = Path(workdir) / "metrics.jsonl"
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def read_json(path) -> dict | None:
    """The JSON object in `path`, or None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path, record: dict, sort_keys: bool = False) -> None:
    """`record` into `path`, written beside it and renamed: a reader (another process, a crash)
    sees the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=sort_keys))
    os.replace(tmp, path)

