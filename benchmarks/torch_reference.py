"""PyTorch reference of disentax's standard conv β-VAE step, for side-by-side timing.

The same network as `disentax.models` with `config.model.encoder="conv"` (Burgess et al.
2018, Appendix A.1): 4 x Conv(32, 4x4, stride 2, pad 1) + ReLU, Dense 256, Dense 256,
Dense 2*10 (mean, log-variance); decoder Dense 256, Dense 256, Dense 4*4*32, then
3 x ConvTranspose(32, 4x4, stride 2, pad 1) + ReLU and ConvTranspose(C, 4x4, stride 2, pad 1)
to Bernoulli logits. Loss: -E[log p(x|z)] + β KL(q(z|x) || N(0, I)), summed over pixels and
latents, averaged over the batch; Adam(1e-4). `method="beta_tcvae"`: the β-TCVAE loss with the
minibatch-weighted-sampling estimator of log q(z) (Chen et al. 2018; disentax's
`beta_tcvae_dsprites` config: β = 6, N = 737,280). torch is an optional dependency
(`pip install disentax[bench]`); this module is only imported by the benchmarks.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class TorchVAE(nn.Module):
    def __init__(self, channels: int = 1, latent_dim: int = 10, conv: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.conv = conv
        self.enc_convs = nn.ModuleList(
            [nn.Conv2d(channels if i == 0 else conv, conv, 4, stride=2, padding=1) for i in range(4)]
        )
        self.enc_dense = nn.Sequential(
            nn.Linear(conv * 4 * 4, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.dec_dense = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, conv * 4 * 4), nn.ReLU(),
        )
        self.dec_convs = nn.ModuleList(
            [nn.ConvTranspose2d(conv, conv if i < 3 else channels, 4, stride=2, padding=1) for i in range(4)]
        )

    def forward(self, x):
        h = x
        for c in self.enc_convs:
            h = F.relu(c(h))
        mu, logvar = self.enc_dense(h.flatten(1)).chunk(2, dim=-1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        h = self.dec_dense(z).view(-1, self.conv, 4, 4)
        for i, c in enumerate(self.dec_convs):
            h = c(h)
            if i < 3:
                h = F.relu(h)
        return h, mu, logvar, z


def beta_vae_loss(x, logits, mu, logvar, beta: float):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1).mean()
    return recon + beta * kl


def beta_tcvae_loss(x, logits, mu, logvar, z, beta: float, dataset_size: int = 737_280):
    """-E log p(x|z) + [log q(z|x) - log q(z)] + β [log q(z) - Σ_d log q(z_d)] + [Σ_d log q(z_d) - log p(z)],
    log q(z) and log q(z_d) by minibatch-weighted sampling: logsumexp over the batch - log(N B)."""
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
    log2pi = float(np.log(2 * np.pi))
    log_qzx = (-0.5 * (log2pi + logvar + (z - mu).pow(2) / logvar.exp())).sum(-1)
    log_pz = (-0.5 * (log2pi + z.pow(2))).sum(-1)
    # [B, B, D]: log q(z_i,d | x_j)
    pair = -0.5 * (log2pi + logvar[None] + (z[:, None] - mu[None]).pow(2) / logvar[None].exp())
    log_nb = float(np.log(dataset_size * b))
    log_qz = torch.logsumexp(pair.sum(-1), dim=1) - log_nb
    log_prod_qzd = (torch.logsumexp(pair, dim=1) - log_nb).sum(-1)
    return recon + (log_qzx - log_qz + beta * (log_qz - log_prod_qzd) + log_prod_qzd - log_pz).mean()


def make_step(batch_size: int, image_shape=(64, 64, 1), beta: float | None = None, seed: int = 0,
              method: str = "beta_vae"):
    """A closure running one optimisation step on a fixed random binary batch (NCHW)."""
    if method not in ("beta_vae", "beta_tcvae"):
        raise ValueError(f"no torch reference for {method!r}; allowed: beta_vae, beta_tcvae")
    h, w, c = image_shape
    update = _updater(c, method, beta, seed)
    x = (torch.rand(batch_size, c, h, w) < 0.1).float()

    def step():
        return float(update(x).detach())

    return step


def _updater(channels: int, method: str, beta: float | None, seed: int):
    """`update(x) -> loss`: one Adam(1e-4) step of a fresh `TorchVAE` (seeded) on the batch `x`."""
    beta = (4.0 if method == "beta_vae" else 6.0) if beta is None else beta
    torch.manual_seed(seed)
    model = TorchVAE(channels=channels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

    def update(x):
        opt.zero_grad(set_to_none=True)
        logits, mu, logvar, z = model(x)
        if method == "beta_vae":
            loss = beta_vae_loss(x, logits, mu, logvar, beta)
        else:
            loss = beta_tcvae_loss(x, logits, mu, logvar, z, beta)
        loss.backward()
        opt.step()
        return loss

    return update


class ArrayImages(torch.utils.data.Dataset):
    """A user's map-style dataset over a uint8 image array [N, H, W]: one item converted per call."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i][None].astype(np.float32) / 255.0)


def make_loop(batch_size: int, images: np.ndarray, data: str = "memory", method: str = "beta_vae",
              beta: float | None = None, seed: int = 0):
    """A training loop over `images` (uint8 [N, H, W] in {0, 255}): `run(n)` trains n steps.

    `data="memory"`: the images as one float tensor, each batch an index of a shuffled epoch (the
    fastest a torch user's loop gets); `data="loader"`: a `DataLoader` over `ArrayImages`
    (shuffle, drop_last, the default `num_workers=0`), one item read and converted at a time and
    collated per batch, as most research repositories load dSprites. Losses as `make_step`.
    """
    if data not in ("memory", "loader"):
        raise ValueError(f"data must be memory or loader, got {data!r}")
    update = _updater(1, method, beta, seed)
    if data == "memory":
        tensor = torch.from_numpy(images[:, None].astype(np.float32) / 255.0)

        def batches():
            while True:
                order = torch.randperm(len(tensor))
                for k in range(0, len(order) - batch_size + 1, batch_size):
                    yield tensor[order[k:k + batch_size]]
    else:
        loader = torch.utils.data.DataLoader(ArrayImages(images), batch_size=batch_size, shuffle=True, drop_last=True)

        def batches():
            while True:
                yield from loader
    stream = batches()

    def run(n: int) -> float:
        loss = None
        for _ in range(n):
            loss = update(next(stream))
        return float(loss.detach()) if loss is not None else float("nan")

    return run


def serve_loop(batch_size: int, images_path: str, data: str, method: str) -> None:
    """Worker mode for `make_loop`: a step count per stdin line, answered with seconds per step."""
    import sys

    run = make_loop(batch_size, np.load(images_path), data=data, method=method)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        t0 = time.perf_counter()
        run(n)
        print(f"{(time.perf_counter() - t0) / max(n, 1)!r}", flush=True)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def serve(batch_size: int, threads: int | None = None, method: str = "beta_vae") -> None:
    """Worker mode: read a step count per stdin line, run them, answer the mean seconds per step.

    The benchmarks time torch in its own process so its OpenMP threads and XLA's thread pool
    do not compete inside one process (which slows both), while still alternating with JAX.
    """
    import sys

    if threads:
        torch.set_num_threads(threads)
    step = make_step(batch_size, method=method)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        print(f"{(time.perf_counter() - t0) / max(n, 1)!r}", flush=True)


class TorchWorker:
    """Callable running torch steps in a subprocess (see `serve`, `serve_loop`); `close()` ends it.

    `loop=(images_path, data)` serves `make_loop` on the images saved at `images_path` instead of
    the fixed-batch step; `worker(n)` then runs n loop steps and returns seconds per step.
    """

    def __init__(self, batch_size: int, threads: int | None = None, method: str = "beta_vae",
                 loop: tuple[str, str] | None = None):
        import subprocess
        import sys

        extra = ["--serve-loop", loop[0], "--data", loop[1]] if loop else ["--serve"]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *extra, "--batch", str(batch_size), "--method", method]
            + (["--threads", str(threads)] if threads else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"
        self.version = torch.__version__

    def __call__(self, n: int = 1):
        self.proc.stdin.write(f"{int(n)}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def main():
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--method", default="beta_vae", choices=("beta_vae", "beta_tcvae"))
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--serve-loop", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default="memory", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.serve_loop:
        serve_loop(a.batch, a.serve_loop, a.data, a.method)
        return
    if a.serve:
        serve(a.batch, a.threads, a.method)
        return
    step = make_step(a.batch, method=a.method)
    step()
    t = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        t.append(time.perf_counter() - t0)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} batch={a.batch}: "
          f"median {1e3 * np.median(t):.1f} ms/step")


if __name__ == "__main__":
    main()
