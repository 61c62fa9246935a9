"""Wall time of each disentanglement metric on dSprites with a freshly initialised conv encoder.

    python benchmarks/metrics.py                       # every metric at the published protocol
    python benchmarks/metrics.py --scale 0.1           # 10% of every sample size (quick look)
    python benchmarks/metrics.py --metrics mig,dci --out bench.json

Protocol sizes (disentanglement_lib): 10,000 train / 5,000 eval points, 10,000 points for the
FactorVAE variances, batches of 64 for the β-VAE and FactorVAE scores; mig_exact encodes all
737,280 images and scores 10,000 codes per entropy. ``--scale`` multiplies these counts (for
mig_exact: the codes per entropy; the dataset stays whole). Times include jit compilation and
sklearn fitting: what `disentax evaluate` costs. The encoder is untrained, which matters only
for the tree-based DCI (the trees' sizes depend on the codes).
"""
from __future__ import annotations

import argparse
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
from disentax.metrics import factor_vae_score  # noqa: E402
from disentax.metrics.suite import ALL_METRICS, evaluate, parse_metric_names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metrics", default="all", help=f"comma-separated subset of {', '.join(ALL_METRICS)}")
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
    info = {"device": str(jax.devices()[0]), "platform": platform.platform(), "cpus": os.cpu_count(),
            "encoder": args.encoder, "encoder_images_per_s": round(throughput, 1), "scale": s, **sizes}
    print(json.dumps(info))
    results = []
    for name in parse_metric_names(args.metrics):
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
        short = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
        row = {"metric": name, "wall_s": round(wall, 2), "scores": short}
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
