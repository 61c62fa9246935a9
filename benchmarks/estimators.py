"""Train-step time of the total-correlation objectives relative to plain β-VAE, per batch size.

    python benchmarks/estimators.py --batch-sizes 64,256,1024 --out benchmarks/results/estimators.json

For each batch size B, every variant's jitted train step (same VAE, same data) is timed in one
process, interleaved (rep r runs every variant once before rep r + 1), and the medians are
reported with their ratio to plain β-VAE (no diagnostics). Variants:

- beta_vae            the baseline: β-VAE, no decomposition logged
- beta_vae+diag       β-VAE plus the default logged decomposition (hfvae estimator, stop_gradient)
- beta_tcvae_{mws,mss,hfvae}   β-TCVAE with each estimator
- dip_vae_i           DIP-VAE-I (O(B·D²) only)

"o(B²D) share": the time of the estimator work alone (decompose, forward and backward, jitted on
the step's own z, μ, log σ²) divided by the β-TCVAE step time: the fraction of a step it costs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from disentax import estimators, objectives  # noqa: E402
from disentax.config import base_config  # noqa: E402
from disentax.methods.vae import init_vae_state, vae_loss  # noqa: E402
from disentax.models import build_vae  # noqa: E402
from disentax.train.optim import make_optimizer  # noqa: E402
from disentax.train.step import make_train_step  # noqa: E402

N = 737_280  # dSprites


def objectives_for(likelihood):
    def beta_vae(x, o, step):
        return objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=4.0, likelihood=likelihood)

    def tcvae(estimator):
        def f(x, o, step):
            return objectives.beta_tcvae(x, o["out"], o["z"], o["mu"], o["logvar"], dataset_size=N, beta=6.0,
                                         estimator=estimator, likelihood=likelihood)
        return f

    def dip(x, o, step):
        return objectives.dip_vae(x, o["out"], o["mu"], o["logvar"], variant="i", likelihood=likelihood)

    diag = estimators.make_decomposition_diagnostics(N, "hfvae")
    return {
        "beta_vae": (beta_vae, None),
        "beta_vae+diag": (beta_vae, diag),
        "beta_tcvae_mws": (tcvae("mws"), None),
        "beta_tcvae_mss": (tcvae("mss"), None),
        "beta_tcvae_hfvae": (tcvae("hfvae"), None),
        "dip_vae_i": (dip, None),
    }


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    jax.block_until_ready(out)
    return time.perf_counter() - t, out


def bench_batch(B, reps, encoder, mlp_hidden, seed=0):
    c = base_config("beta_vae")
    c.model.encoder = encoder
    c.model.mlp_hidden = mlp_hidden
    model = build_vae(c.model, (64, 64, 1))
    tx = make_optimizer(c.optimizer)
    key = jax.random.PRNGKey(seed)
    x = (jax.random.uniform(key, (B, 64, 64, 1)) > 0.8).astype(jnp.float32)
    state = init_vae_state(model, tx, key, x)

    steps = {}
    for name, (obj, diag) in objectives_for(c.model.likelihood).items():
        steps[name] = jax.jit(make_train_step(vae_loss(model, obj), tx, diagnostics=diag))
    outputs = model.apply({"params": state.params}, x, key)

    def est_work(z, mu, logvar):
        def f(z, mu, logvar):
            t = estimators.decompose(z, mu, logvar, N, "mss")
            return t["mutual_info"] + 6.0 * t["total_correlation"] + t["dimwise_kl"]
        return jax.grad(f, argnums=(0, 1, 2))(z, mu, logvar)

    steps_est = jax.jit(est_work)
    args = (outputs["z"], outputs["mu"], outputs["logvar"])
    for fn in steps.values():  # compile + warm up
        for _ in range(2):
            timed(fn, state, x, key)
    for _ in range(2):
        timed(steps_est, *args)

    times = {name: [] for name in steps}
    times["estimator_work"] = []
    for _ in range(reps):
        for name, fn in steps.items():
            times[name].append(timed(fn, state, x, key)[0])
        times["estimator_work"].append(timed(steps_est, *args)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["beta_vae"]
    return {
        "median_s": med,
        "ratio_to_beta_vae": {k: med[k] / base for k in steps},
        "estimator_share_of_tcvae_step": med["estimator_work"] / med["beta_tcvae_mss"],
        "reps": reps,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", default="64,256,1024")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--encoder", default="mlp", choices=["mlp", "conv"])
    p.add_argument("--mlp-hidden", default="1200,1200", help="Chen et al. 2018's dSprites MLP by default")
    p.add_argument("--out", default="benchmarks/results/estimators.json")
    a = p.parse_args(argv)
    hidden = tuple(int(h) for h in a.mlp_hidden.split(","))
    results = {
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "encoder": a.encoder,
        "mlp_hidden": hidden,
        "latent_dim": 10,
        "dataset_size": N,
        "batches": {},
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for B in (int(b) for b in a.batch_sizes.split(",")):
        r = bench_batch(B, a.reps, a.encoder, hidden)
        results["batches"][str(B)] = r
        print(f"B={B}: " + ", ".join(f"{k} {v:.2f}x" for k, v in r["ratio_to_beta_vae"].items())
              + f"; estimator work {100 * r['estimator_share_of_tcvae_step']:.1f}% of a β-TCVAE step"
              + f" (β-VAE step {1000 * r['median_s']['beta_vae']:.1f} ms)", flush=True)
        results["loadavg_end"] = os.getloadavg()
        out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
