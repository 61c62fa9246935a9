"""The `metric | score | value` table that ``disentax evaluate`` and ``python -m disentax.metrics`` print.

Each metric returns a dict; its numbers print one per row. Lists print inline when they are short
and flat (a value per factor, say: ``0.91 0.40 1.00``); matrices, flags and longer lists are named in
one row pointing to the JSON file instead, so a table stays a table. The downstream task's flat dict
of 100-odd accuracies prints its mean test accuracy per classifier and training size only.
"""
from __future__ import annotations

import math
from typing import Sequence

__all__ = ["format_scores", "score_rows"]

NAME_WIDTH = 12
KEY_WIDTH = 38  # the longest key, unsupervised's gaussian_wasserstein_correlation_norm, fits
INLINE_LIST = 10  # up to this many numbers print in the row; a code of 10 dimensions still fits


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(v) -> str:
    if not _is_number(v) or isinstance(v, int) or not math.isfinite(v):
        return str(v)
    return f"{v:.4f}"


def _short(v) -> str:
    if isinstance(v, int) or not math.isfinite(v):
        return str(v)
    return f"{v:.3f}"


def _downstream_rows(name: str, scores: dict) -> list[tuple[str, str, str]]:
    rows = [(name, key.replace(":mean_test_accuracy", " mean test accuracy"), _number(v))
            for key, v in scores.items() if key.endswith(":mean_test_accuracy")]
    return rows + [(name, "train, min, per-factor accuracy", "in the JSON")]


def score_rows(name: str, scores: dict, factors: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """``(metric, score, value)`` rows of one metric's scores, as the module docstring describes.

    ``computed_with`` (the record's bookkeeping) is skipped; ``{"not_applicable": reason}`` is one
    row with the reason. `factors` names the factors of ``mig_exact``'s per-factor gaps when its
    scores do not.
    """
    scores = {k: v for k, v in scores.items() if k != "computed_with"}
    if "not_applicable" in scores:
        return [(name, "not applicable", scores["not_applicable"])]
    if "error" in scores:
        return [(name, "error", scores["error"])]
    if name == "downstream":
        return _downstream_rows(name, scores)
    rows, elsewhere = [], []
    for key, value in scores.items():
        if _is_number(value):
            rows.append((name, key, _number(value)))
        elif name == "mig_exact" and key == "per_factor":
            for f, v in zip(scores.get("factors", factors), value):
                rows.append((name, f"gap / H(v): {f}", _number(v)))
        elif name in ("information", "mig_exact"):
            continue  # their per-dimension values have a table of their own
        elif isinstance(value, (list, tuple)) and 0 < len(value) <= INLINE_LIST and all(map(_is_number, value)):
            rows.append((name, key, " ".join(_short(v) for v in value)))
        else:
            elsewhere.append(key)
    if elsewhere:
        rows.append((name, "in the JSON", ", ".join(elsewhere)))
    if name == "information":
        rows.append((name, "I(x; z_d), I(v_k; z_d)", "per dimension, below"))
    if name == "mig_exact":
        rows.append((name, "I(v_k; z_d)", "per dimension, below"))
    return rows


def format_scores(name: str, scores: dict, factors: Sequence[str] = (), header: bool = False) -> str:
    """Rows `metric | score | value` for one metric's scores (the header first if asked)."""
    lines = []
    if header:
        lines = [f"  {'metric':<{NAME_WIDTH}} {'score':<{KEY_WIDTH}} value",
                 f"  {'-' * NAME_WIDTH} {'-' * KEY_WIDTH} {'-' * 10}"]
    lines += [f"  {m:<{NAME_WIDTH}} {k:<{KEY_WIDTH}} {v}" for m, k, v in score_rows(name, scores, factors)]
    return "\n".join(lines)
