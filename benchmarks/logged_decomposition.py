"""How the logged ELBO decomposition depends on the pool it is estimated on, on a trained model.

    python benchmarks/logged_decomposition.py                  # the README's β-VAE, 3,000 steps
    python benchmarks/logged_decomposition.py --config beta_tcvae_dsprites --steps 3000
    python benchmarks/logged_decomposition.py --steps 20 --pools 64,256 --repeats 2   # does it run?

Trains ``--config`` for ``--steps`` steps (batch 64, seed 0; a folder under ``--workdir`` already
trained that far is reused), then estimates MI, TC and the dimension-wise KL of the final encoder
(Chen et al. 2018, Eq. 2) on ``--repeats`` independent pools of M fresh images for each M in
``--pools``, with Esmaeili et al.'s (2019) weights: M = 1,024 is what the loop logs, M = 64 what the
training step estimates on its own batch (logged as ``batch_<name>``). For each M it reports
the mean over pools, the spread over pools, and the mean of the within-pool standard error that the
loop logs next to each term; the largest pool stands in for the dataset (N = 737,280), whose exact
mixture is out of reach on a CPU. Also times one logging-step probe at the default pool (1,024) next
to one training step, the logging overhead at ``log_every = 100``.

Writes ``benchmarks/results/logged_decomposition.json`` and a markdown table beside it.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from disentax import config as cfg  # noqa: E402
from disentax.methods.common import decomposition_probe, encoder_of  # noqa: E402
from disentax.runner import restore_run, train  # noqa: E402

TERMS = ("mutual_info", "total_correlation", "dimwise_kl")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="beta_vae_dsprites")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--workdir", default="/tmp/disentax-logged-decomposition")
    p.add_argument("--pools", default="64,256,1024,4096,8192")
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "logged_decomposition.json"))
    args = p.parse_args(argv)
    pools = [int(m) for m in args.pools.split(",")]

    workdir = Path(args.workdir) / f"{args.config}_{args.steps}"
    config = cfg.get(args.config, [f"--config.num_steps={args.steps}", "--config.progress=False"])
    t = time.perf_counter()
    train(config, workdir)
    train_s = time.perf_counter() - t
    config, method, dataset, state = restore_run(workdir)
    params = state.params
    encode = encoder_of(method.model)
    rows = []
    for m in pools:
        probe = decomposition_probe(encode, dataset, m)
        key = jax.random.PRNGKey(1000 + m)
        draws = [jax.device_get(probe(params, jax.random.fold_in(key, r))) for r in range(args.repeats)]
        row = {"pool": m}
        for name in TERMS:
            values = np.array([float(d[name]) for d in draws])
            row[name] = float(values.mean())
            row[f"{name}_spread"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row[f"{name}_se"] = float(np.mean([float(d[f"{name}_se"]) for d in draws]))
        rows.append(row)
        print(json.dumps(row), flush=True)

    # The cost of one logging step's probe (default pool) against one training step, both compiled.
    probe = decomposition_probe(encode, dataset, 1024)
    jax.block_until_ready(probe(params, jax.random.PRNGKey(0)))
    t = time.perf_counter()
    for r in range(3):
        jax.block_until_ready(probe(params, jax.random.PRNGKey(r)))
    probe_s = (time.perf_counter() - t) / 3
    step = jax.jit(method.train_step)
    batch = jax.jit(lambda k: method.sample_batch(k, int(config.batch_size)))(jax.random.PRNGKey(0))
    s, _ = step(state, batch, jax.random.PRNGKey(1), False)
    jax.block_until_ready(s)
    t = time.perf_counter()
    for r in range(10):
        s, _ = step(s, batch, jax.random.PRNGKey(r), False)
    jax.block_until_ready(s)
    step_s = (time.perf_counter() - t) / 10
    timing = {"probe_1024_s": round(probe_s, 3), "train_step_s": round(step_s, 4),
              "overhead_at_log_every_100": round(probe_s / (100 * step_s), 3)}
    print(json.dumps(timing))

    info = {"config": args.config, "steps": args.steps, "batch_size": int(config.batch_size), "seed": int(config.seed),
            "repeats": args.repeats, "estimator": "hfvae", "train_s": round(train_s, 1),
            "platform": platform.platform(), "device": str(jax.devices()[0])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"info": info, "timing": timing, "pools": rows}, indent=2) + "\n")
    lines = [f"`python benchmarks/logged_decomposition.py --config {args.config} --steps {args.steps}`: "
             f"mean over {args.repeats} pools of M fresh images (± spread over pools; [mean within-pool "
             "standard error, the logged `_se`]), nats.", "",
             "| M | MI | TC | dimension-wise KL |", "| ---: | ---: | ---: | ---: |"]
    for row in rows:
        cells = [f"{row[n]:.3f} ± {row[n + '_spread']:.3f} [{row[n + '_se']:.3f}]" for n in TERMS]
        lines.append(f"| {row['pool']} | " + " | ".join(cells) + " |")
    lines += ["", f"One probe of 1,024 images: {probe_s:.3f} s; one training step: {step_s * 1e3:.1f} ms; "
              f"at log_every = 100 the probe adds {100 * timing['overhead_at_log_every_100']:.1f}% to training."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
