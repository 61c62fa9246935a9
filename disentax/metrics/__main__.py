"""Score codes from any framework: ``python -m disentax.metrics CODES.npy FACTORS.npy``.

    python -m disentax.metrics codes.npy factors.npy [--metrics mig,dci,...|all] [--seed 0]
        [--continuous-factors] [--test-fraction 0.33] [--dci-importance gbt] [--out scores.json]

``CODES.npy`` holds ``[N, D]`` numbers, one row per example (a model's mean codes, say), and
``FACTORS.npy`` the ``[N, K]`` (or ``[N]``) ground-truth factors of the same rows: integer class
labels, or real values with ``--continuous-factors``. Both are plain ``np.save`` files.

The rows are split by a permutation drawn from ``--seed``: the first ``round(test_fraction * N)``
are the test rows, the rest the train rows. Then
:func:`disentax.metrics.suite.evaluate_arrays` scores them: the models of dci, sap, modularity,
dci_es and downstream are fit on the train rows and tested on the test rows; mig, irs, infomec, mcc
and unsupervised score the train rows. Metrics that sample their own examples from a dataset or
need an encoder (beta_vae, factor_vae, information, mig_exact) are reported as not applicable;
with ``--continuous-factors`` so are those that need class labels, leaving dci_es, infomec, mcc
and unsupervised. The default ``--metrics`` are the suite's default metrics that score arrays.

Prints one table and, with ``--out``, writes the scores as JSON together with what they depend on:
the inputs' shapes and SHA-256, the split, the seed, ``metrics_version`` and the package versions.
The same files, options and versions give the same JSON, byte for byte.

Exit status: 0; 1 when a metric failed on these arrays (its error is in the table and the JSON);
2 for bad arguments or input files, with a one-line message; 4 when ``--out`` cannot be written.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from disentax.metrics.dci import IMPORTANCE_MODELS
from disentax.metrics.report import format_scores
from disentax.metrics.suite import (
    ARRAY_METRICS,
    DEFAULT_METRICS,
    METRICS_VERSION,
    downstream_models,
    evaluate_arrays,
    package_versions,
    parse_metric_names,
)

__all__ = ["load_arrays", "main", "split_rows"]

PROG = "python -m disentax.metrics"


class InputError(ValueError):
    """An argument or input file that cannot be scored; the message is one line."""


def _load(path: str, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file {path} not found")
    try:
        array = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{what} file {path} is not a .npy array ({reason}); save one with np.save") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise InputError(f"{what} file {path} is an .npz archive; save one array with np.save")
    if array.dtype.kind not in "biuf":
        raise InputError(f"{what} file {path} must hold numbers, got dtype {array.dtype}")
    return array


def _first_bad(mask: np.ndarray) -> str:
    row, col = np.argwhere(mask)[0]
    return f"row {row}, column {col}"


def load_arrays(codes_path: str, factors_path: str, continuous_factors: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(codes [N, D] float64, factors [N, K])`` read from two ``.npy`` files and checked.

    Factors are int64 class labels, or float64 with `continuous_factors`. Raises
    :class:`InputError` (one line) for a missing or unreadable file, a wrong number of dimensions,
    empty arrays, a row-count mismatch, NaN or infinite values, or non-integer factors without
    `continuous_factors`.
    """
    codes, factors = _load(codes_path, "codes"), _load(factors_path, "factors")
    if codes.ndim != 2:
        raise InputError(f"codes {codes_path} must be a 2-d array [N, D], got shape {codes.shape}")
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2:
        raise InputError(f"factors {factors_path} must be a 2-d array [N, K] (or [N]), got shape {factors.shape}")
    if codes.shape[0] != factors.shape[0]:
        raise InputError(f"codes have {codes.shape[0]} rows but factors have {factors.shape[0]}; "
                         "they must be the same examples in the same order")
    if 0 in codes.shape or 0 in factors.shape:
        raise InputError(f"empty input: codes {codes.shape}, factors {factors.shape}")
    codes, factors = codes.astype(np.float64), factors.astype(np.float64)
    for what, path, a in (("codes", codes_path, codes), ("factors", factors_path, factors)):
        if not np.all(np.isfinite(a)):
            raise InputError(f"{what} {path} contain NaN or infinite values ({_first_bad(~np.isfinite(a))})")
    if continuous_factors:
        return codes, factors
    fractional = factors != np.round(factors)
    if np.any(fractional):
        row, col = np.argwhere(fractional)[0]
        raise InputError(f"factors {factors_path} are not integer class labels ({factors[row, col]!r} at row {row}, "
                         f"column {col}); pass --continuous-factors to score real-valued factors")
    return codes, factors.astype(np.int64)


def split_rows(num_rows: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, test_rows)``: a permutation of ``range(num_rows)`` from ``default_rng(seed)``,
    the first ``round(test_fraction * num_rows)`` entries the test rows, each part sorted."""
    if not 0.0 < float(test_fraction) < 1.0:
        raise InputError(f"--test-fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    num_test = int(round(float(test_fraction) * num_rows))
    if num_test < 2 or num_rows - num_test < 2:
        raise InputError(f"{num_rows} rows with --test-fraction {test_fraction} give {num_rows - num_test} train and "
                         f"{num_test} test rows; each needs at least 2")
    order = np.random.default_rng(int(seed)).permutation(num_rows)
    return np.sort(order[num_test:]), np.sort(order[:num_test])


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_writable(path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "a"):
            pass
        tmp.unlink()
    except OSError as e:
        raise OSError(f"cannot write {path}: {e.strerror or e}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Score codes [N, D] against ground-truth factors [N, K] "
                                "with disentax's array metrics.")
    p.add_argument("codes", metavar="CODES.npy", help="codes, [N, D] numbers (np.save)")
    p.add_argument("factors", metavar="FACTORS.npy", help="factors of the same rows, [N, K] or [N] (np.save)")
    p.add_argument("--metrics", default=None,
                   help=f"comma-separated names, or all (default: {','.join(_default_names())})")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split and of the metrics' models")
    p.add_argument("--continuous-factors", action="store_true",
                   help="factors are real values: only dci_es, infomec, mcc and unsupervised run")
    p.add_argument("--test-fraction", type=float, default=0.33, help="share of the rows held out for testing (0.33)")
    p.add_argument("--dci-importance", default="gbt", choices=IMPORTANCE_MODELS,
                   help="DCI's importance model; lightgbm also sets downstream's boosted trees (default gbt)")
    p.add_argument("--out", default=None, metavar="SCORES.json", help="also write the scores and their provenance here")
    return p


def _default_names() -> list[str]:
    return [m for m in DEFAULT_METRICS if m in ARRAY_METRICS]


def _error(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    """Run the command on `argv` (default ``sys.argv[1:]``); returns the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        names = _default_names() if args.metrics is None else parse_metric_names(args.metrics)
        codes, factors = load_arrays(args.codes, args.factors, args.continuous_factors)
        train, test = split_rows(len(codes), args.test_fraction, args.seed)
    except ValueError as e:  # InputError, or an unknown metric name
        return _error(str(e))
    out = None if args.out is None else Path(args.out)
    if out is not None:
        try:
            _check_writable(out)  # before the metrics run, not after
        except OSError as e:
            return _error(str(e), 4)

    kind = "real-valued" if args.continuous_factors else "integer"
    print(f"scoring {codes.shape[1]} codes against {factors.shape[1]} {kind} factors: "
          f"{len(train)} train and {len(test)} test rows (seed {args.seed})", flush=True)
    results, failed = {}, False
    for i, name in enumerate(names):
        try:
            scores = evaluate_arrays(codes[train], factors[train], codes[test], factors[test], [name], seed=args.seed,
                                     continuous_factors=args.continuous_factors,
                                     dci_importance=args.dci_importance)[name]
        except (ValueError, ImportError) as e:  # this metric cannot score these arrays; the others still can
            scores, failed = {"error": str(e).splitlines()[0]}, True
        results[name] = scores
        print(format_scores(name, scores, header=i == 0), flush=True)

    if out is not None:
        record = {
            "codes": {"path": args.codes, "shape": list(codes.shape), "sha256": _digest(args.codes)},
            "factors": {"path": args.factors, "shape": list(factors.shape), "sha256": _digest(args.factors)},
            "seed": args.seed,
            "split": {"test_fraction": args.test_fraction, "num_train": len(train), "num_test": len(test)},
            "continuous_factors": args.continuous_factors,
            "dci_importance": args.dci_importance,
            "downstream_models": list(downstream_models(args.dci_importance)),
            "metrics_version": METRICS_VERSION,
            "versions": package_versions(),
            "metrics": results,
        }
        tmp = out.with_name(out.name + ".tmp")
        try:
            tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
            os.replace(tmp, out)
        except OSError as e:
            return _error(f"cannot write {out}: {e.strerror or e}", 4)
        print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
