"""The equivalent stride-2 layer implementations compute the Flax layers' functions exactly."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax.models import build_vae, layers
from disentax.models.layers import DOWNSAMPLE, UPSAMPLE, Down, Up


def _random_params(module, x, seed):
    params = module.init(jax.random.PRNGKey(seed), x)
    # Non-zero biases and O(1) kernels so every term matters.
    return jax.tree.map(lambda a: jax.random.normal(jax.random.PRNGKey(seed + 1), a.shape, a.dtype), params)


def _brute_conv_transpose(x, w, b):
    """float64 loops: input pixel (i, j) adds x[i, j] W[t, u] at output (2i + 2 - t, 2j + 2 - u)."""
    n, h, wd, _ = x.shape
    y = np.zeros((n, 2 * h, 2 * wd, w.shape[-1])) + b
    for i in range(h):
        for j in range(wd):
            for t in range(4):
                for u in range(4):
                    oi, oj = 2 * i + 2 - t, 2 * j + 2 - u
                    if 0 <= oi < 2 * h and 0 <= oj < 2 * wd:
                        y[:, oi, oj] += x[:, i, j] @ w[t, u]
    return y


def _brute_conv(x, w, b):
    """float64 loops: output (m, n) sums x[2m - 1 + t, 2n - 1 + u] W[t, u] (SAME pads 1 each side)."""
    n, h, wd, _ = x.shape
    y = np.zeros((n, h // 2, wd // 2, w.shape[-1])) + b
    for m in range(h // 2):
        for k in range(wd // 2):
            for t in range(4):
                for u in range(4):
                    i, j = 2 * m - 1 + t, 2 * k - 1 + u
                    if 0 <= i < h and 0 <= j < wd:
                        y[:, m, k] += x[:, i, j] @ w[t, u]
    return y


@pytest.mark.parametrize("impl", UPSAMPLE)
def test_upsample_equals_brute_force(impl):
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (2, 3, 5, 3)), np.float64)
    w = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (4, 4, 3, 2)), np.float64)
    b = np.array([0.5, -1.0])
    got = layers.conv_transpose_4x4_s2(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32),
                                       jnp.asarray(b, jnp.float32), impl=impl)
    np.testing.assert_allclose(np.asarray(got), _brute_conv_transpose(x, w, b), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("impl", DOWNSAMPLE)
def test_downsample_equals_brute_force(impl):
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (2, 6, 8, 3)), np.float64)
    w = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (4, 4, 3, 2)), np.float64)
    b = np.array([0.5, -1.0])
    got = layers.conv_4x4_s2(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32),
                             jnp.asarray(b, jnp.float32), impl=impl)
    np.testing.assert_allclose(np.asarray(got), _brute_conv(x, w, b), rtol=1e-5, atol=1e-4)


def _value_and_grads(module, params, x, cot):
    """(output, d<output, cot>/d(params, x)) in one compiled function."""

    def f(params, x):
        y, vjp = jax.vjp(lambda p, x: module.apply(p, x), params, x)
        return y, vjp(cot)

    return jax.jit(f)(params, x)


@functools.lru_cache(maxsize=None)
def _reference(kind, shape):
    """Output and gradients (params, x) of the Flax layer for a random input and cotangent."""
    x = jax.random.normal(jax.random.PRNGKey(2), shape)
    ref = (nn.ConvTranspose if kind == "up" else nn.Conv)(7, (4, 4), strides=(2, 2), padding="SAME")
    params = _random_params(ref, x, 3)
    out_shape = jax.eval_shape(ref.apply, params, x).shape
    cot = jax.random.normal(jax.random.PRNGKey(4), out_shape)
    return x, params, cot, _value_and_grads(ref, params, x, cot)


def _check_against_reference(kind, impl, shape):
    x, params, cot, (y_ref, g_ref) = _reference(kind, shape)
    alt = (Up if kind == "up" else Down)(7, impl=impl)
    assert jax.tree.map(jnp.shape, jax.eval_shape(alt.init, jax.random.PRNGKey(0), x)) == jax.tree.map(jnp.shape, params)
    y, g = _value_and_grads(alt, params, x, cot)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-4)
    for a, r in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(r))))


# (2, 3, 4, 56) -> 7 channels makes "gemm" take its col2im branch; (2, 5, 3, 2) its matmul one.
@pytest.mark.parametrize("impl", UPSAMPLE)
@pytest.mark.parametrize("shape", [(2, 5, 3, 2), (2, 3, 4, 56)])
def test_up_matches_flax_conv_transpose_values_and_gradients(impl, shape):
    _check_against_reference("up", impl, shape)


@pytest.mark.parametrize("impl", DOWNSAMPLE)
@pytest.mark.parametrize("shape", [(2, 8, 6, 3), (2, 5, 7, 2)])
def test_down_matches_flax_conv_values_and_gradients(impl, shape):
    _check_against_reference("down", impl, shape)


def test_vae_parameters_and_outputs_identical_across_implementations():
    """Same seed -> bit-identical parameter tree for every choice (checkpoints interchangeable)."""
    x = (jax.random.uniform(jax.random.PRNGKey(0), (2, 16, 16, 1)) < 0.2).astype(jnp.float32)
    key = jax.random.PRNGKey(1)
    ref_params, ref_out = None, None
    for down, up in [("conv", "conv_transpose"), ("adjoint", "adjoint")]:
        c = cfg.base_config().model
        c.upsample, c.downsample = up, down
        c.conv_channels, c.hidden = (8, 8, 8, 8), (16,)
        vae = build_vae(c, (16, 16, 1))
        params = vae.init(jax.random.PRNGKey(7), x, key)["params"]
        out = vae.apply({"params": params}, x, key)["out"]
        if ref_params is None:
            ref_params, ref_out = params, out
            # The tree is the one nn.Conv / nn.ConvTranspose layers produce.
            assert set(params["encoder"]) >= {"Conv_0", "Conv_3"} and "ConvTranspose_3" in params["decoder"]
            continue
        assert jax.tree.structure(params) == jax.tree.structure(ref_params)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ref_params)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-4)


def test_bad_choice_is_a_one_line_config_error():
    c = cfg.base_config()
    c.model.upsample = "deconv"
    with pytest.raises(cfg.ConfigError, match=r"config.model.upsample='deconv' is unknown; allowed: auto, conv_transpose"):
        cfg.validate(c)
    with pytest.raises(ValueError, match="allowed"):
        layers.resolve("upsample", "deconv", UPSAMPLE, layers.default_upsample)


def test_auto_defaults_per_backend():
    assert layers.default_upsample("cpu") == "adjoint" and layers.default_upsample("gpu") == "conv_transpose"
    assert layers.default_downsample("cpu") == "adjoint" and layers.default_downsample("tpu") == "conv"
    assert layers.gemm_choice(32, 1) == "col2im" and layers.gemm_choice(32, 32) == "matmul"


@pytest.mark.parametrize("cb", [1, 3, 6])  # <= 4: explicit GEMM branch; > 4: XLA's filter gradient
def test_strided_kernel_grad_equals_loops(cb):
    big = np.asarray(jax.random.normal(jax.random.PRNGKey(5), (2, 6, 8, cb)), np.float64)
    small = np.asarray(jax.random.normal(jax.random.PRNGKey(6), (2, 3, 4, 5)), np.float64)
    want = np.zeros((4, 4, cb, 5))
    padded = np.pad(big, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for t in range(4):
        for u in range(4):
            for m in range(3):
                for n in range(4):
                    want[t, u] += padded[:, 2 * m + t, 2 * n + u].T @ small[:, m, n]
    got = layers.strided_kernel_grad(jnp.asarray(big, jnp.float32), jnp.asarray(small, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("impl", layers.SAME3X3)
def test_conv3x3_equals_brute_force_and_flax_conv(impl):
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (2, 5, 4, 3)), np.float64)
    w = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 2)), np.float64)
    b = np.array([0.5, -1.0])
    # float64 loops: SAME pads one zero on each side, y[i, j] = b + sum_{t,u} x_p[i + t, j + u] W[t, u].
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ref = np.zeros((2, 5, 4, 2)) + b
    for i in range(5):
        for j in range(4):
            for t in range(3):
                for u in range(3):
                    ref[:, i, j] += xp[:, i + t, j + u] @ w[t, u]
    got = layers.conv_3x3(*(jnp.asarray(a, jnp.float32) for a in (x, w, b)), impl=impl)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-5, atol=1e-4)

    # The module: nn.Conv's parameter tree and initialisation, its values and gradients.
    xj = jnp.asarray(x, jnp.float32)
    flax_conv, ours = nn.Conv(7, (3, 3), padding="SAME"), layers.Conv3x3(7, impl=impl)
    params = flax_conv.init(jax.random.PRNGKey(3), xj)
    jax.tree.map(np.testing.assert_array_equal, ours.init(jax.random.PRNGKey(3), xj), params)
    params = _random_params(flax_conv, xj, 4)
    cot = jax.random.normal(jax.random.PRNGKey(5), (2, 5, 4, 7))
    (y_ref, g_ref), (y, g) = _value_and_grads(flax_conv, params, xj, cot), _value_and_grads(ours, params, xj, cot)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-4)
    for a, r in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(r))))
    assert layers.default_conv3x3("cpu") == "matmul" and layers.default_conv3x3("gpu") == "conv"
    with pytest.raises(ValueError, match="allowed: auto, conv, matmul"):
        layers.Conv3x3(2, impl="winograd").init(jax.random.PRNGKey(0), xj)
