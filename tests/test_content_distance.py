"""MoCoGAN's average content distance (Tulyakov et al. 2018) against explicit loops and hand-computed values."""
import math

import jax
import numpy as np
import pytest

from disentax import metrics


def loop_content_distances(clips, threshold, scale, statistic="mean"):
    """Per-clip ACD with Python loops over frames, pixels and frame pairs (NaN: fewer than 2 shape frames)."""
    out = []
    for clip in np.asarray(clips, np.float64):
        colours = []
        for frame in clip:
            pixels = [frame[r, c] for r in range(frame.shape[0]) for c in range(frame.shape[1])
                      if max(frame[r, c]) > threshold]
            if pixels and statistic == "mean":
                colours.append([scale * sum(p[ch] for p in pixels) / len(pixels) for ch in range(3)])
            elif pixels:
                colours.append([scale * float(np.median([p[ch] for p in pixels])) for ch in range(3)])
        dists = [math.dist(colours[f], colours[g]) for f in range(len(colours)) for g in range(f + 1, len(colours))]
        out.append(sum(dists) / len(dists) if dists else math.nan)
    return np.array(out)


def square_clip(colours, positions, size=4, image=12):
    """One clip [T, image, image, 3]: a size x size square of colours[t] at positions[t] on black."""
    clip = np.zeros((len(colours), image, image, 3), np.float32)
    for t, (colour, (r, c)) in enumerate(zip(colours, positions)):
        clip[t, r:r + size, c:c + size] = colour
    return clip


def test_matches_loops_on_random_clips():
    rng = np.random.default_rng(0)
    clips = rng.random((4, 5, 6, 7, 3)).astype(np.float32) * (rng.random((4, 5, 6, 7, 1)) < 0.3)
    clips[1, 2] = 0.0  # a frame with no shape pixel
    clips[2, 1:] = 0.0  # a clip with a single shape frame
    for threshold, scale, statistic in [(0.1, 255.0, "mean"), (0.5, 1.0, "mean"), (0.0, 3.0, "mean"),
                                        (0.1, 255.0, "median"), (0.5, 1.0, "median")]:
        want = loop_content_distances(clips, threshold, scale, statistic)
        got = metrics.content_distances(clips, threshold=threshold, scale=scale, statistic=statistic)
        assert np.isnan(got[2]) and np.isnan(want[2])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)
        summary = metrics.content_distance_summary(clips, threshold=threshold, scale=scale, statistic=statistic)
        assert summary["num_left_out"] == 1 and summary["num_clips"] == 4
        assert summary["acd"] == pytest.approx(np.nanmean(want), rel=1e-5)
        assert metrics.average_content_distance(clips, threshold, scale, statistic) == summary["acd"]


def test_moving_shape_of_constant_colour_scores_zero():
    positions = [(0, 0), (1, 3), (5, 2), (8, 8), (3, 7)]
    exact = square_clip([(0.5, 0.25, 0.75)] * 5, positions)  # dyadic: every mean exact in float32
    rng = np.random.default_rng(1)
    anyc = square_clip([tuple(rng.random(3))] * 5, positions)
    assert metrics.average_content_distance(exact[None]) == 0.0
    assert metrics.average_content_distance(anyc[None]) == pytest.approx(0.0, abs=1e-3)


def test_soft_edges_move_the_mean_not_the_median():
    # An anti-aliased disc (coverage clip(r + 0.5 - d, 0, 1)) of one colour, moving by sub-pixel
    # steps: the mean colour changes with the share of edge pixels, the per-channel median (most
    # pixels fully covered) is the colour itself.
    colour = np.array([1.0, 0.5, 0.0], np.float32)
    rows, cols = np.mgrid[0:24, 0:24] + 0.5
    frames = []
    for t in range(8):
        d = np.hypot(rows - 8.0 - 0.37 * t, cols - 6.0 - 1.29 * t)
        frames.append(np.clip(4.0 + 0.5 - d, 0.0, 1.0)[..., None] * colour)
    clip = np.stack(frames)[None].astype(np.float32)
    assert metrics.average_content_distance(clip, statistic="mean") > 0.5
    assert metrics.average_content_distance(clip, statistic="median") == 0.0
    colours, counts = metrics.shape_colours(clip, 0.1, statistic="median")
    np.testing.assert_array_equal(np.asarray(colours)[0], np.broadcast_to(colour, (8, 3)))


def test_colour_switch_known_value():
    # T = 4: red, red, green, green. Of the 6 frame pairs, the 4 across the switch are sqrt(2)
    # apart (255 sqrt(2) in 0-255 units), the other 2 coincide: ACD = 4/6 * 255 sqrt(2) = 240.416...
    red, green = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    clip = square_clip([red, red, green, green], [(0, 0), (2, 2), (4, 4), (6, 6)])
    assert metrics.average_content_distance(clip[None]) == pytest.approx(170 * math.sqrt(2), rel=1e-6)
    assert metrics.average_content_distance(clip[None], scale=1.0) == pytest.approx(2 * math.sqrt(2) / 3, rel=1e-6)
    # T = 3 alternating (0.2, 0.4, 0.4) and (0.6, 0.4, 0.1): distance sqrt(0.16 + 0 + 0.09) = 0.5,
    # two of the three pairs differ: 2/3 * 0.5 * 255 = 85.
    a, b = (0.2, 0.4, 0.4), (0.6, 0.4, 0.1)
    clip3 = square_clip([a, b, a], [(0, 0), (0, 4), (0, 8)])
    assert metrics.average_content_distance(clip3[None]) == pytest.approx(85.0, rel=1e-5)
    # Mean over clips: (0 + 85) / 2.
    still = square_clip([a, a, a], [(0, 0), (4, 4), (8, 8)])
    assert metrics.average_content_distance(np.stack([clip3, still])) == pytest.approx(42.5, rel=1e-5)


def test_frames_without_shape_are_left_out():
    a, b = (0.2, 0.4, 0.4), (0.6, 0.4, 0.1)
    clip = square_clip([a, b, a, a], [(0, 0), (0, 4), (0, 8), (4, 4)])
    clip[3] = 0.0  # frame 3 empty: the clip counts as (a, b, a), ACD 85
    clip[2, 0, 0] = 0.05  # a dim pixel below the threshold does not join the shape
    assert metrics.average_content_distance(clip[None]) == pytest.approx(85.0, rel=1e-5)
    # With a threshold below that pixel, frame 2's colour moves: the loop reference agrees.
    low = metrics.content_distances(clip[None], threshold=0.01, statistic="mean")
    assert low[0] != pytest.approx(85.0, rel=1e-3)
    np.testing.assert_allclose(low, loop_content_distances(clip[None], 0.01, 255.0), rtol=1e-5)
    one = square_clip([a] * 4, [(0, 0), (4, 4), (8, 8), (2, 2)])
    one[1:] = 0.0  # a single shape frame: no pair, clip left out and counted
    summary = metrics.content_distance_summary(np.stack([clip, one]))
    assert summary["num_left_out"] == 1
    assert np.isnan(summary["per_clip"][1]) and summary["acd"] == pytest.approx(85.0, rel=1e-5)
    empty = metrics.content_distance_summary(np.zeros((2, 3, 4, 4, 3), np.float32))
    assert math.isnan(empty["acd"]) and empty["num_left_out"] == 2


def test_scale_is_linear():
    rng = np.random.default_rng(2)
    clips = rng.random((3, 4, 5, 5, 3)).astype(np.float32)
    unit = metrics.content_distances(clips, scale=1.0)
    np.testing.assert_allclose(metrics.content_distances(clips), 255.0 * unit, rtol=1e-12)
    # Colours in [0, 1] are at most sqrt(3) apart; in 0-255 units at most 255 sqrt(3).
    assert np.all(unit <= math.sqrt(3)) and np.all(unit > 0)


def test_random_colour_per_frame_matches_mean_distance_in_cube():
    # A solid shape of an independent uniform colour in each frame: every frame pair is two uniform
    # points in the unit cube, whose mean distance is Robbins' constant 0.66170718... (x 255).
    rng = np.random.default_rng(3)
    n, t = 400, 16
    colours = rng.random((n, t, 1, 1, 3)).astype(np.float32)
    clips = np.broadcast_to(colours * 0.8 + 0.2, (n, t, 2, 2, 3))  # keep each frame above the threshold
    robbins = 0.66170718226717623
    assert metrics.average_content_distance(clips) == pytest.approx(0.8 * 255 * robbins, rel=0.01)


def test_shape_colours_jit_vmap():
    rng = np.random.default_rng(4)
    clips = rng.random((2, 3, 4, 4, 3)).astype(np.float32)
    colours, counts = metrics.shape_colours(clips, 0.5, "mean")
    jc, jn = jax.jit(metrics.shape_colours, static_argnames="statistic")(clips, 0.5, "mean")
    vc, vn = jax.vmap(lambda c: metrics.shape_colours(c, 0.5, "mean"))(clips)
    np.testing.assert_allclose(jc, colours, rtol=1e-6)
    np.testing.assert_allclose(vc, colours, rtol=1e-6)
    np.testing.assert_array_equal(jn, counts)
    np.testing.assert_array_equal(vn, counts)
    mask = clips.max(-1) > 0.5
    np.testing.assert_array_equal(counts, mask.sum((-2, -1)))
    want = (clips * mask[..., None]).sum((2, 3)) / np.maximum(mask.sum((2, 3)), 1)[..., None]
    np.testing.assert_allclose(colours, want, rtol=1e-5)


@pytest.mark.parametrize(
    "clips, kwargs, match",
    [
        (np.zeros((2, 3, 4, 4)), {}, r"clips must have shape \[N, T, H, W, 3\]"),
        (np.zeros((2, 3, 4, 4, 1)), {}, r"clips must have shape \[N, T, H, W, 3\]"),
        (np.full((1, 2, 2, 2, 3), np.nan), {}, "NaN or infinite"),
        (np.zeros((1, 2, 2, 2, 3)), {"scale": 0.0}, "scale must be"),
        (np.zeros((1, 2, 2, 2, 3)), {"threshold": 1.0}, r"threshold must be in \[0, 1\)"),
        (np.zeros((1, 2, 2, 2, 3)), {"threshold": -0.1}, r"threshold must be in \[0, 1\)"),
        (np.zeros((1, 2, 2, 2, 3)), {"statistic": "mode"}, r"statistic must be one of \('mean', 'median'\)"),
    ],
)
def test_errors(clips, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.average_content_distance(clips, **kwargs)
