"""Procedural video clips: shape motion (Tulyakov et al. 2018) and bouncing digits (Whitney & Fergus
2018, App. C), checked against numpy brute force (pixel areas, de Casteljau, a frame-by-frame
bouncing loop, explicit bilinear placement), plus the clip pictures of disentax.viz."""
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from disentax import viz
from disentax.data.digits import split_indices
from disentax.data.mechanisms import mechanism_digit_arrays
from disentax.data.registry import describe, get_dataset
from disentax.data.video import BouncingDigits, ShapeMotion, bezier, bounce, render_digits, render_shapes
from disentax.errors import MissingExtraError

SM = ShapeMotion()
BD = BouncingDigits()
N = 32  # one batch size for every jitted draw below: one compilation each
SM_SAMPLE = jax.jit(lambda k: SM.sample(k, N))
BD_SAMPLE = jax.jit(lambda k: BD.sample(k, N))
SM_SHARED = jax.jit(lambda k, s: SM.sample_shared(k, N, s), static_argnums=1)
BD_SHARED = jax.jit(lambda k, s: BD.sample_shared(k, N, s), static_argnums=1)
CENTRES = np.arange(64) + 0.5  # pixel centres along either axis


def _mass_and_com(clips):
    """Per frame, the summed intensity [n, T] and its centre of mass [n, T, 2] (row, col), float64."""
    x = np.asarray(clips, np.float64).sum(-1)
    mass = x.sum((-2, -1))
    row = (x.sum(-1) * CENTRES).sum(-1) / mass
    col = (x.sum(-2) * CENTRES).sum(-1) / mass
    return mass, np.stack([row, col], -1)


def _de_casteljau(control, t):
    """numpy: repeated linear interpolation of the control points [4, 2] at t."""
    p = np.asarray(control, np.float64)
    while len(p) > 1:
        p = (1 - t) * p[:-1] + t * p[1:]
    return p[0]


def _square_area(centre, h, size=64):
    """numpy: the area of the square [c - h, c + h]^2 inside each pixel, from interval overlaps."""
    lo, hi = np.arange(size), np.arange(size) + 1.0
    def overlap(c):
        return np.clip(np.minimum(hi, c + h) - np.maximum(lo, c - h), 0, None)
    return overlap(centre[0])[:, None] * overlap(centre[1])[None, :]


def _still(pos):
    """Control points [1, 4, 2] of a shape standing at pos."""
    return np.tile(np.asarray(pos, np.float32), (1, 4, 1))


# ------------------------------------------------------------------------------ shape motion


def test_registry_and_attributes():
    assert get_dataset("shape_motion") == SM and get_dataset("bouncing_digits") == BD
    assert describe("shape_motion") and describe("bouncing_digits")
    assert SM.num_frames == 16 and SM.frame_shape == SM.image_shape == (64, 64, 3) and SM.num_objects == 1
    assert BD.num_frames == 10 and BD.frame_shape == BD.image_shape == (64, 64, 3) and BD.num_objects == 2
    assert not SM.on_host and not BD.on_host
    assert SM.content_factors == ("shape", "size", "colour") and SM.motion_factors == ("direction", "control")
    assert BD.content_factors == ("digit", "glyph") and BD.motion_factors == ("start", "velocity")
    clips, f = SM_SAMPLE(jax.random.PRNGKey(0))
    assert clips.shape == (N, 16, 64, 64, 3) and clips.dtype == jnp.float32
    assert set(f) == {"shape", "size", "colour", "direction", "control", "position"}
    assert f["position"].shape == (N, 16, 1, 2) and f["control"].shape == (N, 4, 2) and f["colour"].shape == (N, 3)
    assert f["shape"].dtype == jnp.int32 and f["direction"].dtype == jnp.int32
    clips, f = BD_SAMPLE(jax.random.PRNGKey(0))
    assert clips.shape == (N, 10, 64, 64, 3) and clips.dtype == jnp.float32
    assert set(f) == {"digit", "glyph", "start", "velocity", "position"}
    assert f["position"].shape == (N, 10, 2, 2) and f["digit"].dtype == jnp.int32 and f["glyph"].shape == (N, 2)


@pytest.mark.parametrize("centre, h", [((20.0, 30.0), 5.0), ((33.5, 40.5), 4.5), ((10.0, 54.0), 10.0)])
def test_square_at_a_whole_pixel_position_covers_exactly_its_pixels_in_its_colour(centre, h):
    colour = np.array([[0.2, 0.6, 1.0]], np.float32)
    clip = np.asarray(render_shapes(np.array([1]), np.array([h], np.float32), colour, _still(centre), 3, 64))[0]
    want = np.zeros((64, 64, 3), np.float32)
    r0, c0 = int(centre[0] - h), int(centre[1] - h)
    want[r0 : r0 + int(2 * h), c0 : c0 + int(2 * h)] = colour[0]
    for frame in clip:
        np.testing.assert_array_equal(frame, want)


def test_square_is_its_exact_area_per_pixel_anywhere():
    rng = np.random.default_rng(0)
    n = 40
    pos = rng.uniform(12, 52, (n, 2)).astype(np.float32)
    h = rng.uniform(4, 10, n).astype(np.float32)
    clips = np.asarray(render_shapes(np.ones(n, np.int32), h, np.ones((n, 3), np.float32),
                                     np.repeat(pos[:, None], 4, 1), 2, 64))
    for i in range(n):
        np.testing.assert_allclose(clips[i, 1, ..., 0], _square_area(pos[i], h[i]), atol=2e-5)
    mass, com = _mass_and_com(clips[:, :, ..., :1])
    np.testing.assert_allclose(mass, np.repeat(4 * h[:, None] ** 2, 2, 1), rtol=1e-5)
    # Box-filtered edges keep the area exactly, the centre only approximately (partial pixels).
    np.testing.assert_allclose(com, np.repeat(pos[:, None], 2, 1), atol=0.02)


def test_circle_matches_a_supersampled_disc():
    rng = np.random.default_rng(1)
    n, k = 12, 16
    pos = rng.uniform(12, 52, (n, 2)).astype(np.float32)
    r = np.concatenate([[4.0, 10.0], rng.uniform(4, 10, n - 2)]).astype(np.float32)
    clips = np.asarray(render_shapes(np.zeros(n, np.int32), r, np.ones((n, 3), np.float32),
                                     np.repeat(pos[:, None], 4, 1), 2, 64))[:, 0, ..., 0]
    fine = (np.arange(64)[:, None] + (np.arange(k) + 0.5) / k).ravel()
    for i in range(n):
        inside = (fine[:, None] - pos[i, 0]) ** 2 + (fine[None, :] - pos[i, 1]) ** 2 <= r[i] ** 2
        area = inside.reshape(64, k, 64, k).mean((1, 3))
        assert np.abs(clips[i] - area).max() < 0.08  # the one-pixel ramp against the true pixel area
        assert clips[i].max() == 1.0 and clips[i][area == 0].max() < 0.08
    np.testing.assert_allclose(clips.sum((1, 2)), np.pi * r**2, rtol=0.015)


def test_bezier_against_de_casteljau_and_the_shape_follows_it():
    control = np.asarray(SM_SAMPLE(jax.random.PRNGKey(2))[1]["control"])
    t = np.arange(16) / 15
    want = np.array([[_de_casteljau(c, tk) for tk in t] for c in control])
    np.testing.assert_allclose(np.asarray(bezier(control, t)), want, atol=1e-4)
    clips, f = SM_SAMPLE(jax.random.PRNGKey(2))
    np.testing.assert_allclose(np.asarray(f["position"])[:, :, 0], want, atol=1e-4)
    _, com = _mass_and_com(clips)
    np.testing.assert_allclose(com, want, atol=0.04)  # the clip's centre of mass is the trajectory
    # Random curves (not just the straight ones a naive check would pass) at t = 1/3 by hand:
    c = np.array([[0, 0], [3, 6], [9, 3], [27, 27]], np.float32)
    np.testing.assert_allclose(np.asarray(bezier(c, [1 / 3]))[0], [(12 * 3 + 6 * 9 + 27) / 27,
                                                                  (12 * 6 + 6 * 3 + 27) / 27], rtol=1e-6)


def test_directions_move_along_columns_or_rows_monotonically_from_edge_to_edge():
    clips, f = SM_SAMPLE(jax.random.PRNGKey(3))
    d = np.asarray(f["direction"])
    assert 0 < d.sum() < N  # both directions occur
    pos = np.asarray(f["position"])[:, :, 0]  # [n, T, 2]
    _, com = _mass_and_com(clips)
    m, far = SM.margin, 64 - SM.margin
    assert m == 10.0
    for i in range(N):
        along = 1 - d[i]  # left->right: columns (axis 1); top->bottom: rows (axis 0)
        np.testing.assert_allclose(pos[i, [0, -1], along], [m, far], atol=1e-4)
        assert (np.diff(pos[i, :, along]) >= -1e-4).all()
        assert (np.diff(com[i, :, along]) > -0.06).all() and com[i, -1, along] - com[i, 0, along] > 43.9
        assert (pos[i] >= m - 1e-4).all() and (pos[i] <= far + 1e-4).all()
    control = np.asarray(f["control"])
    lr = control[d == 0]
    assert (np.diff(lr[:, :, 1], axis=1) >= 0).all() and (lr[:, 0, 1] == m).all() and (lr[:, 3, 1] == far).all()


def test_content_is_constant_and_drawn_from_the_documented_ranges():
    clips, f = SM_SAMPLE(jax.random.PRNGKey(4))
    clips = np.asarray(clips)
    assert 0.0 <= clips.min() and clips.max() <= 1.0
    colour, size, shape = np.asarray(f["colour"]), np.asarray(f["size"]), np.asarray(f["shape"])
    # Every frame holds a fully covered pixel, whose value is the clip's colour: constant content.
    np.testing.assert_allclose(clips.max(axis=(2, 3)), np.repeat(colour[:, None], 16, 1), atol=1e-6)
    np.testing.assert_allclose(colour.max(-1), 1.0, atol=1e-6)  # full value
    np.testing.assert_allclose(colour.min(-1), 0.0, atol=1e-6)  # full saturation
    assert (size >= 4).all() and (size <= 10).all() and set(shape.tolist()) == {0, 1}
    mass, _ = _mass_and_com(clips / np.maximum(colour.sum(-1), 1e-6)[:, None, None, None, None])
    area = np.where(shape == 0, np.pi * size**2, 4 * size**2)
    np.testing.assert_allclose(mass, np.repeat(area[:, None], 16, 1), rtol=0.015)


def test_shape_motion_sample_shared():
    key = jax.random.PRNGKey(5)
    a, b = (np.asarray(x) for x in SM_SHARED(key, "content"))
    mass_a, com_a = _mass_and_com(a)
    mass_b, com_b = _mass_and_com(b)
    np.testing.assert_array_equal(a.max(axis=(1, 2, 3)), b.max(axis=(1, 2, 3)))  # same colour
    np.testing.assert_allclose(mass_a, mass_b, rtol=0.02)  # same shape and size
    assert np.abs(com_a - com_b).max(axis=(1, 2)).min() > 0.5  # every pair moves differently
    a, b = (np.asarray(x) for x in SM_SHARED(key, "motion"))
    _, com_a = _mass_and_com(a)
    _, com_b = _mass_and_com(b)
    np.testing.assert_allclose(com_a, com_b, atol=0.06)  # same trajectory
    assert np.abs(a.max(axis=(1, 2, 3)) - b.max(axis=(1, 2, 3))).max(-1).min() > 0  # other colours


# ---------------------------------------------------------------------------- bouncing digits


def _bounce_loop(p, v, steps, lo, hi):
    """numpy: move by v each frame and mirror at the walls, as often as needed within a step."""
    out = [p]
    for _ in range(steps - 1):
        p = p + v
        while p < lo or p > hi:
            p, v = (2 * lo - p, -v) if p < lo else (2 * hi - p, -v)
        out.append(p)
    return np.array(out)


def test_bouncing_positions_against_a_frame_by_frame_loop():
    lo, hi = 14.0, 50.0
    cases = [(20.0, 3.0), (49.0, 2.5), (14.0, -1.0), (30.0, 0.0), (33.0, 17.0), (16.0, -50.0), (45.0, 80.0)]
    t = np.arange(12)
    for p0, v in cases:
        got = np.asarray(bounce(np.float32(p0), np.float32(v), t, lo, hi))
        want = _bounce_loop(p0, v, 12, lo, hi)
        np.testing.assert_allclose(got, want, atol=2e-4, err_msg=f"start {p0}, velocity {v}")
    assert len(set(np.sign(np.diff(_bounce_loop(33.0, 17.0, 12, lo, hi))))) == 2  # it does bounce
    # The dataset's trajectories: two digits, both axes, every drawn start and velocity.
    ds = BouncingDigits(num_frames=12)
    motion = ds.sample_motion(jax.random.PRNGKey(6), 8)
    motion["velocity"] = motion["velocity"].at[0, 0].set(jnp.array([30.0, -45.0]))  # several walls per step
    traj = np.asarray(ds.trajectories(None, motion))
    start, vel = np.asarray(motion["start"]), np.asarray(motion["velocity"])
    for i in range(8):
        for j in range(2):
            for a in range(2):
                want = _bounce_loop(float(start[i, j, a]), float(vel[i, j, a]), 12, lo, hi)
                np.testing.assert_allclose(traj[i, :, j, a], want, atol=5e-4)


def _place(glyph, top, size=64):
    """numpy: sum_{i,k} w(r - top_r - i) w(c - top_c - k) g[i, k] with the hat w(x) = max(0, 1 - |x|)."""
    pix = np.arange(size)[:, None].astype(np.float64)
    idx = np.arange(glyph.shape[0])[None, :]
    wr = np.maximum(0, 1 - np.abs(pix - top[0] - idx))
    wc = np.maximum(0, 1 - np.abs(pix - top[1] - idx))
    return wr @ glyph @ wc.T


def test_digits_are_placed_exactly_at_whole_pixels_and_bilinearly_between():
    glyphs = np.asarray(BD.glyph_images(jnp.array([[3, 100], [7, 7]])))  # [2, 2, 28, 28]
    start = np.array([[[14.0, 14.0], [50.0, 30.0]], [[20.0, 31.0], [40.0, 15.0]]], np.float32)
    vel = np.array([[[3.0, 5.0], [-7.0, 2.0]], [[1.0, -1.0], [0.0, 11.0]]], np.float32)
    clips = np.asarray(render_digits(glyphs, start, vel, 8, 64))
    for i in range(2):
        for t in range(8):
            for j in range(2):
                p = [_bounce_loop(float(start[i, j, a]), float(vel[i, j, a]), 8, 14.0, 50.0)[t] for a in range(2)]
                r0, c0 = int(p[0]) - 14, int(p[1]) - 14
                want = np.zeros((64, 64), np.float32)
                want[r0 : r0 + 28, c0 : c0 + 28] = glyphs[i, j]
                np.testing.assert_allclose(clips[i, t, ..., j], want, atol=1e-6)
    np.testing.assert_array_equal(clips[..., 2], 0.0)
    # Fractional positions, the walls included.
    rng = np.random.default_rng(2)
    start = rng.uniform(14, 50, (2, 2, 2)).astype(np.float32)
    start[0, 0] = [14.0, 49.99]
    vel = rng.uniform(-9, 9, (2, 2, 2)).astype(np.float32)
    clips = np.asarray(render_digits(glyphs, start, vel, 8, 64))
    traj = np.asarray(BouncingDigits(num_frames=8).trajectories(None, {"start": start, "velocity": vel}))
    for i in range(2):
        for t in range(8):
            for j in range(2):
                want = _place(glyphs[i, j].astype(np.float64), traj[i, t, j] - 14.0)
                np.testing.assert_allclose(clips[i, t, ..., j], want, atol=2e-5)


def test_each_digit_in_its_own_channel_moving_with_its_mass_and_centre():
    clips, f = BD_SAMPLE(jax.random.PRNGKey(7))
    clips = np.asarray(clips)
    assert 0.0 <= clips.min() and clips.max() <= 1.0
    np.testing.assert_array_equal(clips[..., 2], 0.0)
    glyphs = np.asarray(BD.glyph_images(f["glyph"]), np.float64)  # [n, 2, 28, 28]
    np.testing.assert_array_equal(np.asarray(f["digit"]), np.asarray(BD.labels)[np.asarray(f["glyph"])])
    pos = np.asarray(f["position"])
    g_mass = glyphs.sum((-2, -1))
    g_com = np.stack([(glyphs.sum(-1) * (np.arange(28) + 0.5)).sum(-1),
                      (glyphs.sum(-2) * (np.arange(28) + 0.5)).sum(-1)], -1) / g_mass[..., None]
    for j in range(2):
        mass, com = _mass_and_com(clips[..., j : j + 1])
        np.testing.assert_allclose(mass, np.repeat(g_mass[:, None, j], 10, 1), rtol=1e-5)
        # Bilinear placement keeps the first moment: the digit's centre is the patch's plus the glyph's.
        np.testing.assert_allclose(com, pos[:, :, j] - 14.0 + g_com[:, None, j], atol=1e-3)
    lo, hi = BD.position_range
    assert (pos >= lo - 1e-4).all() and (pos <= hi + 1e-4).all()
    speed = np.linalg.norm(np.asarray(f["velocity"]), axis=-1)
    assert (speed >= 2 - 1e-5).all() and (speed <= 4 + 1e-5).all()


def test_bouncing_digits_sample_shared():
    key = jax.random.PRNGKey(8)
    a, b = (np.asarray(x) for x in BD_SHARED(key, "content"))
    for j in range(2):
        mass_a, com_a = _mass_and_com(a[..., j : j + 1])
        mass_b, com_b = _mass_and_com(b[..., j : j + 1])
        np.testing.assert_allclose(mass_a, mass_b, rtol=1e-5)  # the same glyphs (mass is position-free)
        assert np.abs(com_a - com_b).max(axis=(1, 2)).min() > 0.5
    a, b = (np.asarray(x) for x in BD_SHARED(key, "motion"))
    for j in range(2):
        mass_a, com_a = _mass_and_com(a[..., j : j + 1])
        mass_b, com_b = _mass_and_com(b[..., j : j + 1])
        # Same motion: the displacement of each digit's centre from frame 0 agrees, whatever the glyph.
        np.testing.assert_allclose(com_a - com_a[:, :1], com_b - com_b[:, :1], atol=1e-3)
        assert np.abs(mass_a - mass_b).min() > 1e-3  # other glyphs


def test_splits_take_the_digits_train_and_test_glyphs():
    images, labels = mechanism_digit_arrays()
    train, test = split_indices()
    test_ds = BouncingDigits("test")
    np.testing.assert_array_equal(np.asarray(BD.glyphs), images[train, ..., 0])
    np.testing.assert_array_equal(np.asarray(test_ds.glyphs), images[test, ..., 0])
    np.testing.assert_array_equal(np.asarray(test_ds.labels), labels[test])
    assert BD.num_glyphs == train.size and test_ds.num_glyphs == test.size
    g = np.asarray(test_ds.sample_content(jax.random.PRNGKey(0), 500)["glyph"])
    assert g.min() >= 0 and g.max() < test.size and np.unique(g).size > 0.85 * test.size  # uniform over the split


# ------------------------------------------------------------------------------- both datasets


@pytest.mark.parametrize("sample", [SM_SAMPLE, BD_SAMPLE], ids=["shape_motion", "bouncing_digits"])
def test_determinism(sample):
    a, fa = sample(jax.random.PRNGKey(11))
    b, fb = sample(jax.random.PRNGKey(11))
    c, _ = sample(jax.random.PRNGKey(12))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for k in fa:
        np.testing.assert_array_equal(np.asarray(fa[k]), np.asarray(fb[k]))
    assert (np.abs(np.asarray(a) - np.asarray(c)).max(axis=(1, 2, 3, 4)) > 0).all()


def test_eager_render_equals_jitted_and_renders_only_its_own_settings():
    key = jax.random.PRNGKey(13)
    ds = ShapeMotion(num_frames=5, image_size=32)
    content, motion = ds.sample_content(key, 3), ds.sample_motion(key, 3)
    clips = np.asarray(ds.render(content, motion))
    assert clips.shape == (3, 5, 32, 32, 3) and ds.size_range == (2.0, 5.0)
    np.testing.assert_array_equal(clips, np.asarray(jax.jit(ds.render)(content, motion)))
    vmapped = jax.vmap(lambda c, m: ds.render(jax.tree.map(lambda x: x[None], c), jax.tree.map(lambda x: x[None], m)))
    np.testing.assert_allclose(np.asarray(vmapped(content, motion))[:, 0], clips, atol=1e-6)


def test_hashable_equal_by_settings_and_immutable():
    assert ShapeMotion() == ShapeMotion(16, 64) and hash(ShapeMotion()) == hash(ShapeMotion(16, 64))
    assert ShapeMotion(8) != ShapeMotion() and ShapeMotion(image_size=32) != ShapeMotion()
    assert BouncingDigits() == BouncingDigits("train", 10, 64, "digits")
    assert hash(BouncingDigits()) == hash(BD) and BouncingDigits("test") != BD and BouncingDigits(num_frames=5) != BD
    assert ShapeMotion() != BD and len({SM, ShapeMotion(), BD, BouncingDigits()}) == 2
    with pytest.raises(AttributeError, match="immutable"):
        SM.num_frames = 3
    # Usable as a static argument of jit.
    f = jax.jit(lambda ds, k: ds.sample(k, 2)[0], static_argnums=0)
    assert f(ShapeMotion(num_frames=3, image_size=32), jax.random.PRNGKey(0)).shape == (2, 3, 32, 32, 3)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ShapeMotion(num_frames=1), "num_frames must be a python int >= 2"),
        (lambda: ShapeMotion(num_frames=2.0), "num_frames"),
        (lambda: ShapeMotion(image_size=16), "image_size must be a python int >= 32"),
        (lambda: BouncingDigits(num_frames=1), "num_frames"),
        (lambda: BouncingDigits("validation"), "split 'validation'; allowed: train, test"),
        (lambda: BouncingDigits(source="emnist"), "source 'emnist'; allowed: digits, mnist"),
        (lambda: BouncingDigits(image_size=30), "image_size must be a python int >= 32"),
        (lambda: SM.sample_shared(jax.random.PRNGKey(0), 2, "both"), "shared must be one of content, motion"),
        (lambda: BD.sample_shared(jax.random.PRNGKey(0), 2, "style"), "shared must be one of content, motion"),
        (lambda: SM.sample(jax.random.PRNGKey(0), 0), "n must be a python int >= 1"),
    ],
)
def test_bad_arguments_give_one_line_errors(make, match):
    with pytest.raises(ValueError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_mnist_source_without_tensorflow_datasets_is_a_one_line_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # makes the import fail
    with pytest.raises(MissingExtraError, match="pip install 'disentax\\[tfds\\]'") as info:
        BouncingDigits(source="mnist")
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------- pictures


def test_clip_strip_and_gif_have_the_right_size_and_frames(tmp_path):
    clips = np.asarray(SM.sample(jax.random.PRNGKey(14), 3)[0])[:, :6]  # [3, 6, 64, 64, 3], all moving
    path = viz.save_clip_strip(tmp_path / "strip.png", clips)
    with Image.open(path) as im:
        assert im.size == (6 * 66 + 2, 3 * 66 + 2)
        tile = np.asarray(im.convert("RGB"))[2 + 66 : 2 + 66 + 64, 2 + 2 * 66 : 2 + 2 * 66 + 64]
    np.testing.assert_array_equal(tile, viz._to_uint8(clips[1, 2]))  # row = clip, column = frame
    path = viz.save_clip_strip(tmp_path / "labelled.png", clips, labels=["a", "b", "c"])
    with Image.open(path) as im:
        assert im.size == (6 * 66 + 2 + 110, 3 * 66 + 2)
    path = viz.save_clip_gif(tmp_path / "clips.gif", clips, duration_ms=80)
    with Image.open(path) as im:
        assert im.size == (3 * 66 + 2, 66 + 2) and im.n_frames == 6 and im.info["duration"] == 80
        im.seek(5)
        last = np.asarray(im.convert("RGB"))[2 : 2 + 64, 2 + 66 : 2 + 66 + 64].astype(int)
    # Palette quantisation aside, GIF frame 5 shows clip 1 at time step 5.
    assert np.abs(last - viz._to_uint8(clips[1, 5]).astype(int)).mean() < 3
    one = viz.save_clip_gif(tmp_path / "one.gif", clips[0])  # a single clip [T, H, W, C]
    with Image.open(one) as im:
        assert im.size == (68, 68) and im.n_frames == 6
    with pytest.raises(ValueError, match="one string per clip"):
        viz.save_clip_strip(tmp_path / "bad.png", clips, labels=["a"])
    with pytest.raises(ValueError, match="clips must have shape"):
        viz.save_clip_gif(tmp_path / "bad.gif", clips[0, 0])
