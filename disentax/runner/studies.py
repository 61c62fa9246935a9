"""Studies that train several models: the semi-supervised error against (l, r) (Siddharth et al.
(2017), Fig. 5)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from disentax.config import validate
from disentax.data.registry import get_dataset
from disentax.evaluation.weak_supervision import ANGULAR_FACTORS, classification_error, regression_error
from disentax.runner.loop import train

__all__ = ["semi_supervised_sweep"]


def semi_supervised_sweep(config, labels_per_class: Sequence[int], rates: Sequence[float], seeds: Iterable[int],
                          test_images, test_labels, workdir=None, test_targets=None) -> list[dict]:
    """The Fig. 5 protocol of Siddharth et al. (2017): for each (l, r, seed) train `config` and
    measure the test error.

    Returns rows {"labels_per_class", "supervision_rate", "seed", "error"}, plus, given
    `test_targets` [N, R] (standardised, see `labelled_test_set`) for a config with
    `semi_supervised.regression_factors`, one entry per regressed factor: "rmse_<name>" or, for an angular
    factor, "cosine_<name>". Runs go to `workdir/l{l}_r{r}_s{seed}` (a temporary folder when None).
    """
    hp = config.semi_supervised
    names = tuple(hp.regression_factors)
    if test_targets is not None and names:
        grid = get_dataset(config.dataset)
        sizes = [grid.factor_sizes[grid.factor_index(f)] for f in names]
        angular = [grid.factor_names[grid.factor_index(f)] in ANGULAR_FACTORS for f in names]
    rows = []
    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    base = Path(tmp.name if tmp else workdir)
    try:
        for l in labels_per_class:
            for r in rates:
                for seed in seeds:
                    c = config.copy_and_resolve_references()
                    c.semi_supervised.labels_per_class, c.semi_supervised.supervision_rate = int(l), float(r)
                    c.seed, c.semi_supervised.labelled_seed = int(seed), int(seed)
                    c.progress = False
                    validate(c)
                    out = train(c, base / f"l{l}_r{r}_s{seed}", finish=False)
                    model, params = out["method"].model, out["state"].params
                    err = classification_error(model, params, test_images, test_labels)
                    row = {"labels_per_class": int(l), "supervision_rate": float(r), "seed": int(seed), "error": err}
                    if test_targets is not None and names:
                        errs = regression_error(model, params, test_images, test_targets, sizes, angular)
                        for name, a, e in zip(names, angular, errs):
                            row[f"{'cosine' if a else 'rmse'}_{name}"] = float(e)
                    rows.append(row)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return rows
