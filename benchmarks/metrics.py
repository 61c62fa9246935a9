"""Wall time of each disentanglement metric on dSprites with a freshly initialised conv encoder.

    python benchmarks/metrics.py                       # every metric at the published protocol
    python benchmarks/metrics.py --scale 0.1           # 10% of every sample size (quick look)
    python benchmarks/metrics.py --metrics mig,dci --out bench.json
    python benchmarks/metrics.py --metrics dci,dci_lightgbm,unsupervised,downstream_task_lightgbm

Besides the suite's metrics (``disentax evaluate``), ``--metrics`` takes: ``dci_lightgbm`` (DCI with
the LightGBM importance model), ``dci_sequential`` (the sklearn GBT fitted one factor after the other
on one thread, as disentanglement_lib does: its time for this protocol), ``unsupervised`` (Gaussian total / Wasserstein correlation, latent
mutual information: 10,000 points), ``downstream_task`` (logistic regression CV + sklearn GBT at 10,
100, 1,000, 10,000 training points, 5,000 test points), ``downstream_task_lightgbm`` (the same with
LightGBM in place of the GBT), and ``irs``, ``dci_es``, ``infomec``, ``mcc`` when their modules
``disentax/metrics/<name>.py`` exist (their ``<name>_score`` gets the protocol sizes its signature
accepts); a metric whose module is missing is reported as skipped.

Protocol sizes (disentanglement_lib): 10,000 train / 5,000 eval points, 10,000 points for the
FactorVAE variances, batches of 64 for the β-VAE and FactorVAE scores; mig_exact encodes all
737,280 images and scores 10,000 codes per entropy. ``--scale`` multiplies these counts (for
mig_exact: the codes per entropy; the dataset stays whole). Times include jit compilation and
sklearn fitting: what `disentax evaluate` costs. The encoder is untrained, which matters only
for the tree-based DCI (the trees' sizes depend on the codes).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

# Run from a checkout: import the disentax next to this folder, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402

from disentax import config as cfg  # noqa: E402
from disentax import methods
from disentax.data import DSprites
from disentax.metrics import dci_score, downstream_task_score, factor_vae_score, unsupervised_score
from disentax.metrics.suite import ALL_METRICS, evaluate
from disentax.metrics.utils import sample_codes

EXTRA_METRICS = ("dci_lightgbm", "dci_sequential", "unsupervised", "downstream_task", "downstream_task_lightgbm")
# Modules another branch adds; timed when present.
OPTIONAL_METRICS = ("irs", "dci_es", "infomec", "mcc")
# A name both in the suite and here (unsupervised, the new array metrics) is timed through the suite.
BENCH_METRICS = tuple(dict.fromkeys(ALL_METRICS + EXTRA_METRICS + OPTIONAL_METRICS))


def parse_names(text):
    names = list(BENCH_METRICS) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in BENCH_METRICS]
    if bad:
        raise SystemExit(f"unknown metric {bad[0]!r}; allowed: {', '.join(BENCH_METRICS)} (or all)")
    return list(dict.fromkeys(names))


def optional_runner(name, rep, dataset, sizes, progress):
    """``disentax.metrics.<name>.<name>_score`` with the protocol sizes it accepts, or None if absent."""
    try:
        module = importlib.import_module(f"disentax.metrics.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"disentax.metrics.{name}":
            raise  # the module exists but needs something missing: say so rather than skip it
        return None
    fn = getattr(module, f"{name}_score", None)
    if fn is None:
        return None
    offered = {"num_train": sizes["num_train"], "num_test": sizes["num_eval"], "num_eval": sizes["num_eval"],
               "progress": progress}
    params = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in offered.items() if k in params}
    return lambda k: fn(k, rep, dataset, **kwargs)


def numbers(scores):
    return {k: v for k, v in scores.items() if isinstance(v, (int, float))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metrics", default="all", help=f"comma-separated subset of {', '.join(BENCH_METRICS)}")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the protocol's sample sizes")
    p.add_argument("--encoder", default="conv", choices=("conv", "mlp"))
    p.add_argument("--progress", action="store_true")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)

    config = cfg.base_config()
    config.model.encoder = args.encoder
    dataset = DSprites()
    method = methods.build(config, dataset)
    key = jax.random.PRNGKey(0)
    state = method.init_state(key, dataset.sample(key, 8)[0])
    params = state.params
    rep = jax.jit(lambda x: method.representation(params, x))
    enc = jax.jit(lambda x: method.posterior(params, x))

    # Encoder throughput, for reading the metric times (images per second, after compilation).
    x = dataset.sample(key, 256)[0]
    rep(x).block_until_ready()
    t = time.perf_counter()
    for _ in range(5):
        rep(x).block_until_ready()
    throughput = 5 * 256 / (time.perf_counter() - t)

    s = args.scale
    sizes = dict(num_train=max(2, int(10_000 * s)), num_eval=max(2, int(5_000 * s)),
                 num_variance_estimate=max(2, int(10_000 * s)), mig_exact_samples=max(2, int(10_000 * s)))
    # What sampling the codes costs by itself (rendering + encoding, compiled), so a metric's time can be
    # read with and without it: DCI samples num_train + num_eval codes.
    t = time.perf_counter()
    sample_codes(jax.random.fold_in(key, 2), rep, dataset, sizes["num_train"] + sizes["num_eval"], 256)
    sample_s = time.perf_counter() - t
    info = {"device": str(jax.devices()[0]), "platform": platform.platform(), "cpus": os.cpu_count(),
            "encoder": args.encoder, "encoder_images_per_s": round(throughput, 1), "scale": s, **sizes,
            "sample_train_plus_eval_codes_s": round(sample_s, 2)}
    print(json.dumps(info))
    down_sizes = tuple(sorted({max(2, int(n * s)) for n in (10, 100, 1000, 10_000)}))
    extra = {
        "dci_lightgbm": lambda k: dci_score(k, rep, dataset, num_train=sizes["num_train"], num_test=sizes["num_eval"],
                                            importance="lightgbm", progress=args.progress),
        "dci_sequential": lambda k: dci_score(k, rep, dataset, num_train=sizes["num_train"],
                                              num_test=sizes["num_eval"], importance="gbt", workers=1,
                                              progress=args.progress),
        "unsupervised": lambda k: unsupervised_score(k, rep, dataset, num_train=sizes["num_train"],
                                                     progress=args.progress),
        "downstream_task": lambda k: downstream_task_score(k, rep, dataset, sizes=down_sizes,
                                                           num_test=sizes["num_eval"], models=("logistic_cv", "gbt"),
                                                           progress=args.progress),
        "downstream_task_lightgbm": lambda k: downstream_task_score(k, rep, dataset, sizes=down_sizes,
                                                                    num_test=sizes["num_eval"],
                                                                    models=("logistic_cv", "lightgbm"),
                                                                    progress=args.progress),
    }
    results = []
    for name in parse_names(args.metrics):
        if name not in ALL_METRICS:
            run = extra.get(name) or optional_runner(name, rep, dataset, sizes, args.progress)
            if run is None:
                row = {"metric": name, "skipped": f"disentax.metrics.{name} (with {name}_score) not found"}
            else:
                t = time.perf_counter()
                scores = run(jax.random.fold_in(key, 1))
                wall = time.perf_counter() - t
                row = {"metric": name, "wall_s": round(wall, 2), "scores": numbers(scores)}
                if name.startswith("downstream"):
                    row["scores"] = {k: v for k, v in row["scores"].items() if "mean" in k}
            results.append(row)
            print(json.dumps(row), flush=True)
            continue
        t = time.perf_counter()
        if name == "factor_vae":
            # A fresh encoder's means barely move (std < 0.05 everywhere), so the protocol's pruning
            # would stop after the variance pass; time the voting too by keeping every dimension.
            scores = factor_vae_score(jax.random.fold_in(key, 1), rep, dataset, num_train=sizes["num_train"],
                                      num_eval=sizes["num_eval"], num_variance_estimate=sizes["num_variance_estimate"],
                                      prune_threshold=0.0, progress=args.progress)
            wall = time.perf_counter() - t
            row = {"metric": name, "wall_s": round(wall, 2), "scores": scores, "note": "prune_threshold=0"}
            results.append(row)
            print(json.dumps(row), flush=True)
            continue
        scores = evaluate(jax.random.fold_in(key, 1), rep, dataset, [name], posterior_fn=enc, progress=args.progress,
                          **sizes)[name]
        wall = time.perf_counter() - t
        row = {"metric": name, "wall_s": round(wall, 2), "scores": numbers(scores)}
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
