import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.data.digits import load_digits_arrays, split_indices
from disentax.data.mechanisms import (
    MECHANISMS,
    TRANSLATIONS,
    MechanismDigits,
    apply_mechanism,
    mechanism_digit_arrays,
    noisy,
    transformed_test_set,
)
from disentax.data.registry import get_dataset

IMAGES, LABELS = mechanism_digit_arrays()
MD = MechanismDigits("train")
SAMPLE = jax.jit(lambda k: MD.sample(k, 512))
B = 1280  # one batch shape for every direct call of apply_mechanism: one compilation


def _shift_reference(x, dr, dc):
    """numpy: roll by (dr, dc) and zero what wrapped around."""
    out = np.roll(x, (dr, dc), axis=(1, 2))
    if dr > 0:
        out[:, :dr] = 0
    elif dr < 0:
        out[:, dr:] = 0
    if dc > 0:
        out[:, :, :dc] = 0
    elif dc < 0:
        out[:, :, dc:] = 0
    return out


def _reference(x, m):
    """numpy images of the deterministic mechanisms m < 9 of x."""
    return 1.0 - x if m == 8 else _shift_reference(x, *list(TRANSLATIONS.values())[m])


def _apply(x, m, key=None):
    key = jax.random.PRNGKey(0) if key is None else key
    m = np.broadcast_to(m, (B,)).astype(np.int32)
    return np.asarray(apply_mechanism(key, jnp.asarray(x), jnp.asarray(m)))


def _batch():
    """Row 0 a single lit pixel at (10, 12), rows 1-4 uniform noise up to the edges, then digits."""
    x = np.concatenate([np.zeros((1, 28, 28, 1), np.float32),
                        np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32),
                        IMAGES[: B - 5]])
    x[0, 10, 12] = 1.0
    return x


def test_digits_upsampled_to_mnist_geometry():
    assert IMAGES.shape == (1797, 28, 28, 1) and IMAGES.dtype == np.float32
    assert IMAGES.min() >= 0.0 and IMAGES.max() <= 1.0
    border = np.ones((28, 28), bool)
    border[4:24, 4:24] = False
    assert (IMAGES[:, border] == 0).all()  # a zero margin of 4 px on every side
    assert (IMAGES[:, 4:24, 4:24].max(axis=(1, 2, 3)) > 0.5).all()
    small = load_digits_arrays()[0]
    ref = np.asarray(jax.image.resize(jnp.asarray(small[:50]), (50, 20, 20, 1), "bilinear"))
    np.testing.assert_allclose(IMAGES[:50, 4:24, 4:24], ref, atol=1e-6)
    np.testing.assert_array_equal(LABELS, load_digits_arrays()[1])


def test_translations_are_zero_filled_shifts_in_the_named_direction():
    assert MECHANISMS == ("up", "down", "left", "right", "up_left", "up_right", "down_left", "down_right",
                          "invert", "noise")
    x = _batch()
    digits = x[5:]
    where = {}
    for m, (name, (dr, dc)) in enumerate(TRANSLATIONS.items()):
        moved = _apply(x, m)
        where[name] = tuple(np.argwhere(moved[0, ..., 0])[0])
        np.testing.assert_array_equal(moved, _shift_reference(x, dr, dc))
        # The 4-px margin keeps every digit in the frame: the same pixels, only moved.
        np.testing.assert_array_equal(np.sort(moved[5:].reshape(B - 5, -1), 1), np.sort(digits.reshape(B - 5, -1), 1))
    # "up" moves content to smaller row indices, "left" to smaller column indices.
    assert where == {"up": (6, 12), "down": (14, 12), "left": (10, 8), "right": (10, 16), "up_left": (6, 8),
                     "up_right": (6, 16), "down_left": (14, 8), "down_right": (14, 16)}


def test_inversion_is_one_minus_x():
    x = _batch()
    np.testing.assert_array_equal(_apply(x, MECHANISMS.index("invert")), 1.0 - x)


def test_noise_has_variance_a_quarter_and_is_clamped():
    key = jax.random.PRNGKey(11)
    x = np.full((B, 28, 28, 1), 0.5, np.float32)  # ~1.0M pixels
    raw = np.asarray(noisy(key, jnp.asarray(x), clamp=False), np.float64).ravel()
    n = raw.size
    # 6 sigma: mean error sd = 0.5/sqrt(n), variance error sd = 0.25*sqrt(2/n).
    assert abs(raw.mean() - 0.5) < 6 * 0.5 / np.sqrt(n)
    assert abs(raw.var() - 0.25) < 6 * 0.25 * np.sqrt(2 / n)
    y = _apply(x, MECHANISMS.index("noise"), key)
    np.testing.assert_allclose(y.ravel(), np.clip(raw, 0, 1), atol=1e-6)  # the same draw, clamped
    assert y.min() == 0.0 and y.max() == 1.0
    inside = np.mean((y > 0) & (y < 1))  # |noise| < 0.5, one standard deviation
    assert abs(inside - 0.682689) < 6 * np.sqrt(0.683 * 0.317 / n)


def test_mixed_batch_selects_each_images_mechanism():
    x = _batch()
    m = np.arange(B) % 10
    key = jax.random.PRNGKey(2)
    out = _apply(x, m, key)
    for j in range(9):
        np.testing.assert_array_equal(out[m == j], _reference(x, j)[m == j])
    np.testing.assert_array_equal(out[m == 9], _apply(x, 9, key)[m == 9])  # noise drawn per row


def test_halves_are_disjoint_and_fixed():
    train, test = split_indices()
    assert np.intersect1d(MD.canonical_indices, MD.source_indices).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([MD.canonical_indices, MD.source_indices])), train)
    assert MD.num_source == train.size // 2 and MD.num_examples == train.size
    np.testing.assert_array_equal(np.asarray(MD.canonical), IMAGES[MD.canonical_indices])
    np.testing.assert_array_equal(np.asarray(MD.source_labels), LABELS[MD.source_indices])
    again = MechanismDigits("train")
    np.testing.assert_array_equal(again.source_indices, MD.source_indices)
    te = MechanismDigits("test")
    assert np.intersect1d(np.concatenate([te.canonical_indices, te.source_indices]), train).size == 0
    assert repr(te).startswith("MechanismDigits(split='test'") and MD.image_shape == (28, 28, 1)
    reg = get_dataset("mechanism_digits")
    assert isinstance(reg, MechanismDigits) and reg.split == "train" and not reg.on_host
    x, y = MD.canonical_arrays()
    np.testing.assert_array_equal(np.asarray(y), LABELS[MD.canonical_indices])
    assert x.shape == (MD.num_canonical, 28, 28, 1)
    with pytest.raises(ValueError, match="unknown digits split"):
        MechanismDigits("validation")
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        MD.sample(jax.random.PRNGKey(0), 0)


def _rows(images):
    return {a.tobytes(): i for i, a in enumerate(np.asarray(images))}


def test_sample_draws_canonical_and_transformed_from_their_halves():
    b = {k: np.asarray(v) for k, v in SAMPLE(jax.random.PRNGKey(5)).items()}
    canonical, source = _rows(MD.canonical), _rows(MD.source)
    assert all(c.tobytes() in canonical for c in b["canonical"])
    rows = [source[s.tobytes()] for s in b["source"]]  # each a source-half image
    np.testing.assert_array_equal(b["label"], np.asarray(MD.source_labels)[rows])
    m = b["mechanism"]
    assert set(m.tolist()) == set(range(10))
    for j in range(9):  # translations and inversion are deterministic
        np.testing.assert_array_equal(b["transformed"][m == j], _reference(b["source"][m == j], j))
    assert b["transformed"].min() >= 0 and b["transformed"].max() <= 1
    assert not np.array_equal(b["transformed"][m == 9], b["source"][m == 9])
    again, other = SAMPLE(jax.random.PRNGKey(5)), SAMPLE(jax.random.PRNGKey(6))
    for k in b:
        np.testing.assert_array_equal(b[k], np.asarray(again[k]))
    assert not np.array_equal(b["canonical"], np.asarray(other["canonical"]))


def test_transformed_test_set_covers_every_image_under_every_mechanism():
    _, test = split_indices()
    n = test.size
    t = {k: np.asarray(v) for k, v in transformed_test_set(jax.random.PRNGKey(3)).items()}
    assert t["x"].shape == (10 * n, 28, 28, 1)
    np.testing.assert_array_equal(t["mechanism"], np.repeat(np.arange(10), n))
    np.testing.assert_array_equal(t["label"], np.tile(LABELS[test], 10))
    np.testing.assert_array_equal(t["source"], np.tile(IMAGES[test], (10, 1, 1, 1)))
    for j in range(9):
        np.testing.assert_array_equal(t["x"][j * n:(j + 1) * n], _reference(IMAGES[test], j))
    noise = t["x"][9 * n:]
    assert noise.min() >= 0 and noise.max() <= 1 and np.mean(noise != IMAGES[test]) > 0.5
    again, other = transformed_test_set(jax.random.PRNGKey(3)), transformed_test_set(jax.random.PRNGKey(4))
    np.testing.assert_array_equal(t["x"], np.asarray(again["x"]))
    differ = np.asarray(jnp.any(other["x"] != t["x"], axis=(1, 2, 3)))
    np.testing.assert_array_equal(differ, t["mechanism"] == 9)
