"""Stride-2 4x4 convolutions and transposed convolutions, computed in several equivalent ways.

The standard dSprites VAE (Burgess et al. 2018, Appendix A.1) downsamples with
`nn.Conv(c, (4, 4), strides=(2, 2), padding="SAME")` and upsamples with
`nn.ConvTranspose(c, (4, 4), strides=(2, 2), padding="SAME")`. XLA:CPU runs the
transposed convolution (and the input gradient of a strided convolution, which is one)
through a slow generic path, so on CPU we compute the same functions with stride-1
convolutions or plain matrix products instead. Every variant here has the parameter tree
of the Flax layer it replaces (`kernel` [4, 4, Cin, Cout] with the same initialiser,
`bias` [Cout]), so parameters and checkpoints are interchangeable and a given seed
initialises the same numbers whichever variant is chosen.

Phase (sub-pixel) decomposition of the transposed convolution. With `padding="SAME"`,
k = 4 and s = 2, `lax.conv_transpose` (no kernel flip) pads the 2-dilated input by 2 on
each side, so along one axis (writing W_t for the kernel tap t)

    y[2m]   = x[m-1] W_0 + x[m]   W_2
    y[2m+1] = x[m]   W_1 + x[m+1] W_3.

Pad x by one on each side (x_p[j] = x[j-1]) and take the 2-tap windows (x_p[j], x_p[j+1]),
j = 0..H. Window tap q of output phase r carries W_{2q+r}: the even phase of window j
gives y[2j], the odd phase gives y[2j-1]. In 2-D this is ONE stride-1 2x2 convolution of
the padded input with the kernel W.reshape(2, 2, 2, 2, Ci, Co)[qa, ra, qb, rb] arranged
as [qa, qb, ci, (ra, rb, co)] — four output phases side by side — followed by a
depth-to-space interleave that takes phase (ra, rb) at offset (ra, rb). It costs
(H+1)^2/H^2 of the transposed convolution's useful multiply-adds (a zero-stuffed
transposed convolution wastes 3/4 of them).

Space-to-depth for the strided convolution. `padding="SAME"` pads by 1 on each side, so
y[m] = sum_t x_p[2m+t] W_t with x_p the padded input. Writing x_p[2j+r] = X[j, r]
(space-to-depth), y[m] = sum_{q,r} X[m+q, r] W_{2q+r}: a stride-1 2x2 VALID convolution
of the space-to-depth input with the kernel arranged as [qa, qb, (ra, rb, ci), co].

Each of the two can run as `lax.conv_general_dilated` ("subpixel"/"s2d") or as an explicit
im2col followed by one matrix product ("matmul"), which XLA:CPU turns into a single GEMM
in both the forward and the backward pass. The transposed convolution has a third form,
"col2im": one GEMM from each input pixel to its 16 kernel taps, then shifted sums — less
memory traffic when the layer has few output channels. "gemm" picks between "matmul" and
"col2im" per layer from the channel counts (`gemm_choice`).

"adjoint" (both directions) uses that the two layers are each other's transposes: the
input gradient of the strided convolution with kernel W is the transposed convolution
with kernel W~[t, u, co, ci] = W[3-t, 3-u, ci, co] (spatially flipped, channels swapped),
and vice versa. XLA:CPU's own input gradient of a strided convolution is its slow
zero-stuffing path again, so "adjoint" gives both layers a custom VJP built from forward
passes only: the forward pass as "conv" (down) or the faster forward-only transposed form
(up: "subpixel", or "col2im" for few output channels), the input gradient as the fast form
of the adjoint layer, and the kernel gradient as one strided correlation of input and output
gradient (`strided_kernel_grad`) shared by both layers. Forward-mode differentiation
(`jax.jvp`) is not available through it; "gemm" and "conv" have it.
"""
from __future__ import annotations

from typing import Callable, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

UPSAMPLE = ("conv_transpose", "subpixel", "matmul", "col2im", "gemm", "adjoint")
DOWNSAMPLE = ("conv", "s2d", "matmul", "adjoint")
SAME3X3 = ("conv", "matmul")

_DN = ("NHWC", "HWIO", "NHWC")


def default_upsample(backend: str | None = None) -> str:
    """The fastest correct transposed-convolution variant for `backend` (default: jax's).

    CPU: "adjoint" (custom VJP from forward passes; module docstring), the fastest in
    benchmarks/RESULTS.md. GPU/TPU: "conv_transpose" (cuDNN and the TPU compiler handle
    transposed convolutions natively); not measured here.
    """
    backend = backend or jax.default_backend()
    return "adjoint" if backend == "cpu" else "conv_transpose"


def default_downsample(backend: str | None = None) -> str:
    """The fastest correct strided-convolution variant for `backend`; see `default_upsample`."""
    backend = backend or jax.default_backend()
    # On CPU XLA's input gradient of the strided convolution is the slow transposed path;
    # "adjoint" replaces only that gradient (benchmarks/RESULTS.md).
    return "adjoint" if backend == "cpu" else "conv"


def default_conv3x3(backend: str | None = None) -> str:
    """The 3x3 stride-1 convolution for `backend`. CPU: "matmul" (im2col and one GEMM). Measured
    here on ten vmapped 32-channel layers, batch 64 at 28x28: the gradient takes 1.3 s instead of
    25 s, because XLA:CPU runs a vmapped convolution as a grouped one, and the forward pass 0.93 s
    instead of 1.07 s. GPU/TPU: "conv" (not measured here)."""
    backend = backend or jax.default_backend()
    return "matmul" if backend == "cpu" else "conv"


def resolve(kind: str, choice: str, allowed, default: Callable[[], str]) -> str:
    if choice == "auto":
        return default()
    if choice not in allowed:
        raise ValueError(f"unknown model.{kind} {choice!r}; allowed: auto, {', '.join(allowed)}")
    return choice


def _patches(x, size: int):
    """[B, H, W, C] -> [B, H-size+1, W-size+1, size² C]: every size x size window (VALID), channels
    ordered (row offset, column offset, c) like a [size, size, C, ·] kernel's reshape."""
    h, w = x.shape[1] - size + 1, x.shape[2] - size + 1
    return jnp.concatenate([x[:, t : t + h, u : u + w, :] for t in range(size) for u in range(size)], axis=-1)


def _patches_2x2(x):
    """[B, H, W, C] -> [B, H-1, W-1, 4C]: every 2x2 window, channels ordered (qa, qb, c)."""
    return _patches(x, 2)


def _padded_space_to_depth(x):
    """[B, H, W, C] (H, W even) padded by one on each side -> [B, H/2 + 1, W/2 + 1, 4C], channels
    (ra, rb, c): X[j, l, (ra, rb)] = x_p[2j + ra, 2l + rb] (module docstring)."""
    b, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    hp, wp = (h + 2) // 2, (w + 2) // 2
    return xp.reshape(b, hp, 2, wp, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, 4 * c)


def conv_transpose_4x4_s2(x, kernel, bias, *, impl: str = "gemm"):
    """`nn.ConvTranspose(Co, (4,4), strides=(2,2), padding="SAME")` applied to x [B, H, W, Ci].

    kernel [4, 4, Ci, Co], bias [Co] -> [B, 2H, 2W, Co]; impl in `UPSAMPLE` (module docstring).
    """
    b, h, w, ci = x.shape
    co = kernel.shape[-1]
    if impl == "conv_transpose":
        y = lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=_DN)
        return y + bias
    if impl == "adjoint":
        return _up_adjoint(x, kernel) + bias
    if impl == "gemm":
        impl = gemm_choice(ci, co)
    if impl == "col2im":
        return _col2im_4x4_s2(x, kernel) + bias
    # k[qa, qb, ci, ra, rb, co] = kernel[2 qa + ra, 2 qb + rb, ci, co]
    k = kernel.reshape(2, 2, 2, 2, ci, co).transpose(0, 2, 4, 1, 3, 5)
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    if impl == "subpixel":
        z = lax.conv_general_dilated(xp, k.reshape(2, 2, ci, 4 * co), (1, 1), "VALID", dimension_numbers=_DN)
    elif impl == "matmul":
        z = _patches_2x2(xp) @ k.reshape(4 * ci, 4 * co)
    else:
        raise ValueError(f"unknown upsample {impl!r}; allowed: {', '.join(UPSAMPLE)}")
    z = z.reshape(b, h + 1, w + 1, 2, 2, co)
    # Phase (ra, rb) of window (j, l) is output pixel (2j - ra, 2l - rb) ... shifted: take
    # windows (m + ra, n + rb) for output (2m + ra, 2n + rb).
    rows = []
    for ra in (0, 1):
        cols = [z[:, ra : ra + h, rb : rb + w, ra, rb, :] for rb in (0, 1)]
        rows.append(jnp.stack(cols, axis=3))  # [B, H, W, 2(rb), Co]
    y = jnp.stack(rows, axis=2)  # [B, H, 2(ra), W, 2(rb), Co]
    return y.reshape(b, 2 * h, 2 * w, co) + bias


def gemm_choice(ci: int, co: int) -> str:
    """"col2im" when the layer has few output channels next to its input ones, else "matmul".

    Their GEMMs produce 16 Co and 4 Ci values per input pixel; on XLA:CPU col2im was faster
    for (Ci, Co) = (32, 1) and (32, 3), im2col for (32, 6) and above (benchmarks/RESULTS.md).
    """
    return "col2im" if 8 * co <= ci else "matmul"


def _col2im_4x4_s2(x, kernel):
    """Transposed convolution as one GEMM to per-tap columns, then shifted sums (col2im).

    C[i, j, t, u] = x[i, j] W[t, u]; with C padded by one (Cp[i] = C[i-1]) the phase
    formulas of the module docstring read y[2m + r] = sum_q Cp[m + q + r, tap 2q + r].
    The GEMM output has 16 Co channels per input pixel, against 4 Ci for the im2col form:
    the cheaper one when Co is small next to Ci (e.g. the last, image-producing layer).
    """
    b, h, w, ci = x.shape
    co = kernel.shape[-1]
    cols = (x.reshape(-1, ci) @ kernel.transpose(2, 0, 1, 3).reshape(ci, 16 * co)).reshape(b, h, w, 4, 4, co)
    cp = jnp.pad(cols, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)))
    rows = []
    for ra in (0, 1):
        cols_out = []
        for rb in (0, 1):
            cols_out.append(sum(
                cp[:, qa + ra : qa + ra + h, qb + rb : qb + rb + w, 2 * qa + ra, 2 * qb + rb, :]
                for qa in (0, 1) for qb in (0, 1)
            ))
        rows.append(jnp.stack(cols_out, axis=3))
    return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, co)


def _flip(kernel):
    """W~[t, u, co, ci] = W[3-t, 3-u, ci, co]: the kernel of the adjoint layer."""
    return kernel[::-1, ::-1].swapaxes(2, 3)


def strided_kernel_grad(big, small):
    """K[t, u, cb, cs] = sum_{b, m, n} big_p[b, 2m + t, 2n + u, cb] small[b, m, n, cs].

    big [B, 2H, 2W, Cb], small [B, H, W, Cs]; big_p is big padded by one on each side. Both
    layers' kernel gradients are this one correlation: the strided convolution's with
    (big, small) = (input, output gradient), the transposed convolution's with (output
    gradient, input), taps flipped and the last two axes swapped (`_flip`: x[m] W_t lands on
    y[2m + 2 - t], module docstring). When Cb is small (the image-side layers) an explicit GEMM over 2x2 windows of
    the space-to-depth input is faster on XLA:CPU than its generic filter-gradient
    convolution, with the small operand first: [Cs, BHW] @ [BHW, 16 Cb] (the other orientation
    of the same product ran 3x slower). Otherwise the filter gradient XLA derives for
    `lax.conv_general_dilated`, which beat every explicit form here (benchmarks/RESULTS.md).
    """
    b, h, w, cs = small.shape
    cb = big.shape[-1]
    if cb > 4:
        conv = lambda k: lax.conv_general_dilated(big, k, (2, 2), ((1, 1), (1, 1)), dimension_numbers=_DN)
        _, vjp = jax.vjp(conv, jnp.zeros((4, 4, cb, cs), big.dtype))
        return vjp(small)[0]
    patches = _patches_2x2(_padded_space_to_depth(big))  # channels (qa, qb, ra, rb, cb): tap (2 qa + ra, 2 qb + rb)
    k = (small.reshape(-1, cs).T @ patches.reshape(-1, 16 * cb)).T
    return k.reshape(2, 2, 2, 2, cb, cs).transpose(0, 2, 1, 3, 4, 5).reshape(4, 4, cb, cs)


def _with_grads(forward, input_grad, kernel_grad):
    """forward(x, kernel) with the VJP (input_grad(dy, kernel), kernel_grad(x, dy))."""

    @jax.custom_vjp
    def f(x, kernel):
        return forward(x, kernel)

    def f_fwd(x, kernel):
        return forward(x, kernel), (x, kernel)

    def f_bwd(res, dy):
        x, kernel = res
        return input_grad(dy, kernel), kernel_grad(x, dy).astype(kernel.dtype)

    f.defvjp(f_fwd, f_bwd)
    return f


def _zero_bias(kernel, n):
    return jnp.zeros((n,), kernel.dtype)


def _forward_choice(ci: int, co: int) -> str:
    """The fastest forward-only transposed convolution: "col2im" when 8 Co <= Ci, else "subpixel"."""
    return "col2im" if 8 * co <= ci else "subpixel"


_up_adjoint = _with_grads(
    lambda x, k: conv_transpose_4x4_s2(x, k, _zero_bias(k, k.shape[-1]), impl=_forward_choice(*k.shape[2:])),
    lambda dy, k: conv_4x4_s2(dy, _flip(k), _zero_bias(k, k.shape[2]), impl="conv"),
    lambda x, dy: _flip(strided_kernel_grad(dy, x)),
)
_down_adjoint = _with_grads(
    lambda x, k: conv_4x4_s2(x, k, _zero_bias(k, k.shape[-1]), impl="conv"),
    lambda dy, k: conv_transpose_4x4_s2(dy, _flip(k), _zero_bias(k, k.shape[2]),
                                        impl=_forward_choice(k.shape[3], k.shape[2])),
    strided_kernel_grad,
)


def conv_4x4_s2(x, kernel, bias, *, impl: str = "conv"):
    """`nn.Conv(Co, (4,4), strides=(2,2), padding="SAME")` applied to x [B, H, W, Ci], H and W even.

    kernel [4, 4, Ci, Co], bias [Co] -> [B, H/2, W/2, Co]; impl in `DOWNSAMPLE`.
    """
    b, h, w, ci = x.shape
    co = kernel.shape[-1]
    if impl not in DOWNSAMPLE:
        raise ValueError(f"unknown downsample {impl!r}; allowed: {', '.join(DOWNSAMPLE)}")
    if impl == "conv" or h % 2 or w % 2:
        # Odd sizes pad asymmetrically under "SAME"; the plain convolution is the same function.
        return lax.conv_general_dilated(x, kernel, (2, 2), "SAME", dimension_numbers=_DN) + bias
    if impl == "adjoint":
        return _down_adjoint(x, kernel) + bias
    s2d = _padded_space_to_depth(x)
    # k[qa, qb, ra, rb, ci, co] = kernel[2 qa + ra, 2 qb + rb, ci, co]
    k = kernel.reshape(2, 2, 2, 2, ci, co).transpose(0, 2, 1, 3, 4, 5)
    if impl == "s2d":
        y = lax.conv_general_dilated(s2d, k.reshape(2, 2, 4 * ci, co), (1, 1), "VALID", dimension_numbers=_DN)
    else:
        y = _patches_2x2(s2d) @ k.reshape(16 * ci, co)
    return y + bias


def conv_3x3(x, kernel, bias, *, impl: str = "conv"):
    """`nn.Conv(features, (3, 3), padding="SAME")` of x [B, H, W, Cin] with kernel [3, 3, Cin, Cout]:
    `lax.conv_general_dilated` ("conv") or the nine shifted copies of the zero-padded input side by
    side (im2col, channels ordered (t, u, c) like the kernel's reshape) times the kernel as one
    matrix ("matmul"). The same sums in another order."""
    if impl == "conv":
        y = lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=_DN)
    elif impl == "matmul":
        y = _patches(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), 3) @ kernel.reshape(9 * x.shape[-1], -1)
    else:
        raise ValueError(f"unknown 3x3 convolution {impl!r}; allowed: {', '.join(SAME3X3)}")
    return y + bias


class _SquareKernel(nn.Module):
    """A layer with the parameters of the Flax convolution it replaces (`kernel` [size, size, Cin,
    features], `bias` [features]); `_apply` is the function of `impl`."""

    features: int
    impl: str
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros_init()
    use_bias: bool = True  # False before a batch norm, which removes any bias
    size: ClassVar[int] = 4

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init, (self.size, self.size, x.shape[-1], self.features), jnp.float32)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
        else:
            bias = jnp.zeros((self.features,), jnp.float32)
        return type(self)._apply(x, kernel, bias, impl=self.impl)


class Conv3x3(_SquareKernel):
    """Drop-in for `nn.Conv(features, (3, 3), padding="SAME")`, same parameters (`kernel` [3, 3,
    Cin, features], `bias`), computed as `conv_3x3` of `impl` ("auto": `default_conv3x3`)."""

    impl: str = "auto"
    size: ClassVar[int] = 3

    @staticmethod
    def _apply(x, kernel, bias, *, impl):
        return conv_3x3(x, kernel, bias, impl=resolve("conv3x3", impl, SAME3X3, default_conv3x3))


class Down(_SquareKernel):
    """Drop-in for `nn.Conv(features, (4, 4), strides=(2, 2), padding="SAME")`; same parameters."""

    impl: str = "conv"
    _apply = staticmethod(conv_4x4_s2)


class Up(_SquareKernel):
    """Drop-in for `nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME")`; same parameters."""

    impl: str = "gemm"
    _apply = staticmethod(conv_transpose_4x4_s2)
