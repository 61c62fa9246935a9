"""Small supervised image classifiers that the GAN evaluations use as judges.

The adversarial methods are scored by a network trained on real images: SD-GAN's verification
(Donahue et al. (2018), Sec. 4 use FaceNet; here a predictor of the ground-truth identity factors)
and the digit classifier of independent causal mechanisms (Parascandolo et al. (2018), Sec. 4: "a
pretrained MNIST classifier"). One architecture serves both: three stride-2 4×4 convolutions
(32, 64, 64 channels, ReLU; the VAE encoders' `layers.Down`, whose gradients avoid XLA:CPU's slow
strided-convolution path: 5 steps of a plain `nn.Conv` stride-2 stack took 94 s here), a 128-unit
dense layer, and one softmax head per predicted factor.
Trained with Adam(1e-3) on fresh batches drawn from a key, so a judge is a pure function of its key.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from disentax.metrics.chunked import apply_in_chunks
from disentax.models import layers

__all__ = ["FactorClassifier", "TrainedClassifier", "train_classifier"]


class FactorClassifier(nn.Module):
    """x [B, H, W, C] -> one array of logits [B, n_k] per head k (`num_classes`)."""

    num_classes: Sequence[int]
    channels: Sequence[int] = (32, 64, 64)
    hidden: int = 128

    @nn.compact
    def __call__(self, x):
        impl = layers.resolve("downsample", "auto", layers.DOWNSAMPLE, layers.default_downsample)
        h = x
        for c in self.channels:
            h = nn.relu(layers.Down(c, impl=impl)(h))
        h = nn.relu(nn.Dense(self.hidden)(h.reshape(h.shape[0], -1)))
        return [nn.Dense(int(n))(h) for n in self.num_classes]


@dataclasses.dataclass(frozen=True)
class TrainedClassifier:
    """A trained judge: `probabilities(x)` gives one [B, n_k] softmax per head (jitted), in batches of
    at most `chunk` images so large evaluation sets fit in memory."""

    model: FactorClassifier
    params: dict
    final_loss: float
    chunk: int = 1024

    def __post_init__(self):
        object.__setattr__(self, "_apply", jax.jit(lambda p, x: [jax.nn.softmax(l, -1)
                                                                 for l in self.model.apply({"params": p}, x)]))

    def probabilities(self, x) -> list[jax.Array]:
        return apply_in_chunks(functools.partial(self._apply, self.params), x, chunk=self.chunk)

    def predict(self, x) -> jax.Array:
        """Most probable class of each head, [B, K] int32."""
        return jnp.stack([jnp.argmax(p, -1) for p in self.probabilities(x)], -1).astype(jnp.int32)


def train_classifier(key, sample: Callable, num_classes: Sequence[int], *, steps: int = 1000, batch_size: int = 64,
                     learning_rate: float = 1e-3) -> TrainedClassifier:
    """Train a `FactorClassifier` on `steps` fresh batches `sample(key, batch_size) -> (x, labels [B, K])`.

    Minimises the sum over heads of the softmax cross-entropy (each head one factor), with Adam.
    `sample` must be jit-able (a procedural dataset rendered on device, arrays gathered by index).
    """
    steps, batch_size = int(steps), int(batch_size)
    if steps < 1 or batch_size < 1:
        raise ValueError(f"a classifier needs steps >= 1 and batch_size >= 1, got {steps} and {batch_size}")
    model = FactorClassifier(tuple(int(n) for n in num_classes))
    k_init, k_data = jax.random.split(key)
    x0, _ = jax.eval_shape(lambda k: sample(k, batch_size), k_data)
    params = model.init(k_init, jnp.zeros((1, *x0.shape[1:]), jnp.float32))["params"]
    tx = optax.adam(learning_rate)

    def loss_fn(p, x, labels):
        logits = model.apply({"params": p}, x)
        return sum(jnp.mean(optax.softmax_cross_entropy_with_integer_labels(l, labels[:, k]))
                   for k, l in enumerate(logits))

    @jax.jit
    def step(p, o, key):
        x, labels = sample(key, batch_size)
        loss, g = jax.value_and_grad(loss_fn)(p, x, labels.astype(jnp.int32))
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss

    # A Python loop over one jitted step, not `lax.scan`: XLA:CPU ran these convolutions ~30x slower
    # inside the scan's while loop (5 steps: 39 s against 0.25 s per step outside).
    opt_state, losses = tx.init(params), []
    for k in jax.random.split(k_data, steps):
        params, opt_state, loss = step(params, opt_state, k)
        losses.append(loss)
    final = jnp.mean(jnp.stack(losses[-max(1, steps // 10):]))
    return TrainedClassifier(model=model, params=params, final_loss=float(final))
