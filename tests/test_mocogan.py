"""MoCoGAN (Tulyakov et al. (2018)): the GRU motion model against its equations, the shared content
code, the 3-D convolution against a loop, S_1 / S_T, the losses and each critic's gradient against
closed forms, the content-colour evaluation against brute force, and training, resuming and
`disentax evaluate` through the loop."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods import mocogan
from disentax.models.gan import DCGANGenerator
from disentax.models.video_gan import MotionModel, VideoDiscriminator, VideoGenerator, conv3d_4x4x4
from disentax.train.logging import read_json

from helpers import configure, straight_and_resumed, tiny_config


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def test_motion_model_is_the_gru_equations_run_over_time():
    d_e, d_m, b, k = 2, 3, 3, 6
    rng = np.random.default_rng(0)
    eps = rng.normal(size=(b, k, d_e)).astype(np.float32)
    eps[2] *= 40.0  # saturated gates on one clip
    h0 = rng.normal(size=(b, d_m)).astype(np.float32)
    model = MotionModel(motion_dim=d_m)
    params = model.init(jax.random.PRNGKey(0), jnp.asarray(eps), jnp.asarray(h0))["params"]["gru"]
    # Non-zero biases, so each one's place in the equations matters.
    params = jax.tree.map(lambda a: a + 0.3 * rng.normal(size=a.shape).astype(np.float32), params)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)

    def loop_gru(h):
        out = []
        for t in range(k):
            x = eps[:, t].astype(np.float64)
            r = _sigmoid(x @ p["ir"]["kernel"] + p["ir"]["bias"] + h @ p["hr"]["kernel"])
            u = _sigmoid(x @ p["iz"]["kernel"] + p["iz"]["bias"] + h @ p["hz"]["kernel"])
            n = np.tanh(x @ p["in"]["kernel"] + p["in"]["bias"] + r * (h @ p["hn"]["kernel"] + p["hn"]["bias"]))
            h = (1 - u) * n + u * h
            out.append(h)
        return np.stack(out, 1)

    variables = {"params": {"gru": params}}
    got = model.apply(variables, jnp.asarray(eps), jnp.asarray(h0))
    np.testing.assert_allclose(got, loop_gru(h0.astype(np.float64)), rtol=1e-5, atol=1e-6)
    zeros = model.apply(variables, jnp.asarray(eps))  # no h0: the state starts at zero
    np.testing.assert_allclose(zeros, loop_gru(np.zeros((b, d_m))), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="h0 must be"):
        model.apply(variables, jnp.asarray(eps), jnp.zeros((b, d_m + 1)))


def test_generator_feeds_every_frame_the_clip_content_code_and_its_own_motion_code():
    d_c, d_m, b, k = 4, 3, 2, 5
    gen = VideoGenerator(content_dim=d_c, motion_dim=d_m, image_shape=(8, 8, 3), base=4)
    rng = np.random.default_rng(1)
    z_c = jnp.asarray(rng.normal(size=(b, d_c)), jnp.float32)
    eps = jnp.asarray(rng.normal(size=(b, k, 2)), jnp.float32)
    h0 = jnp.asarray(rng.normal(size=(b, d_m)), jnp.float32)
    v = gen.init(jax.random.PRNGKey(0), z_c, eps, h0, train=False)
    seen = []

    def record(next_fun, args, kwargs, context):
        if isinstance(context.module, DCGANGenerator) and context.method_name == "__call__":
            seen.append(np.asarray(args[0]))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        clips = gen.apply(v, z_c, eps, h0, train=False)
    (z,) = seen  # one call of G_I for all B·K frames
    z = z.reshape(b, k, d_c + d_m)
    for i in range(b):
        for t in range(k):
            np.testing.assert_array_equal(z[i, t, :d_c], np.asarray(z_c[i]))
    z_m = MotionModel(d_m).apply({"params": {"gru": v["params"]["motion"]["gru"]}}, eps, h0)
    np.testing.assert_allclose(z[..., d_c:], z_m, rtol=1e-6, atol=1e-7)
    assert np.min(np.abs(np.diff(z[..., d_c:], axis=1))) > 0  # the motion code moves at every frame
    frames = DCGANGenerator(d_c + d_m, (8, 8, 3), base=4).apply({"params": v["params"]["image_generator"],
                                                                 "batch_stats": v["batch_stats"]["image_generator"]},
                                                                jnp.asarray(z.reshape(b * k, -1)), False)
    np.testing.assert_allclose(clips, np.asarray(frames).reshape(b, k, 8, 8, 3), rtol=1e-5, atol=1e-6)
    assert clips.shape == (b, k, 8, 8, 3) and 0 <= float(clips.min()) and float(clips.max()) <= 1


@pytest.mark.parametrize("time_pad", [(0, 0), (1, 2)])
def test_conv3d_against_a_loop_and_both_ways_agree(time_pad):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 4, 4, 2)).astype(np.float32)
    kernel = rng.normal(size=(4, 4, 4, 2, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    xp = np.pad(x.astype(np.float64), ((0, 0), time_pad, (1, 1), (1, 1), (0, 0)))
    t_out = xp.shape[1] - 3
    want = np.zeros((2, t_out, 2, 2, 3))
    for t in range(t_out):
        for i in range(2):
            for j in range(2):
                patch = xp[:, t:t + 4, 2 * i:2 * i + 4, 2 * j:2 * j + 4]  # [B, 4, 4, 4, Ci]
                want[:, t, i, j] = np.einsum("nabcd,abcde->ne", patch, kernel) + bias
    for impl in ("conv", "stack"):
        got = conv3d_4x4x4(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias), time_pad=time_pad, impl=impl,
                           down_impl="matmul" if impl == "stack" else "conv")
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # The gradients of the two ways agree too ("stack" on CPU takes the 2-D layer's custom gradient).
    loss = lambda impl: lambda x, k: jnp.sum(jnp.sin(conv3d_4x4x4(x, k, bias, time_pad=time_pad, impl=impl,  # noqa: E731
                                                                  down_impl="adjoint")))
    g_conv = jax.grad(loss("conv"), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(kernel))
    g_stack = jax.grad(loss("stack"), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(kernel))
    for a, b in zip(g_conv, g_stack):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_video_discriminator_one_logit_per_clip_and_short_clips():
    d = VideoDiscriminator(base=2)
    clips = jnp.asarray(np.random.default_rng(3).uniform(size=(3, 7, 16, 16, 3)), jnp.float32)
    v = d.init(jax.random.PRNGKey(0), clips, train=False)  # 16x16: two layers, 7 -> 4 -> 1 frames
    assert d.apply(v, clips, train=False).shape == (3,)
    assert v["params"]["head"]["kernel"].shape == (1 * 4 * 4 * 4, 1)
    with pytest.raises(ValueError, match="at least 7 frames"):
        d.init(jax.random.PRNGKey(0), clips[:, :6], train=False)
    same = VideoDiscriminator(base=2, time_padding="same")
    v = same.init(jax.random.PRNGKey(0), clips[:, :3], train=False)
    assert v["params"]["head"]["kernel"].shape == (3 * 4 * 4 * 4, 1)  # time keeps its length


def test_s1_and_st_pick_the_frames_they_say():
    b, k, t = 5, 7, 3
    clips = jnp.asarray(np.arange(b)[:, None] * 100 + np.arange(k)[None, :], jnp.float32)[..., None, None, None]
    starts, frames_seen = set(), set()
    for seed in range(40):
        frames, index = mocogan.sample_frame(jax.random.PRNGKey(seed), clips)
        windows, start = mocogan.sample_window(jax.random.PRNGKey(seed + 1000), clips, t)
        index, start = np.asarray(index), np.asarray(start)
        for i in range(b):
            assert float(frames[i].squeeze()) == 100 * i + index[i]
            np.testing.assert_array_equal(np.asarray(windows[i]).ravel(), 100 * i + start[i] + np.arange(t))
        frames_seen |= set(index.tolist())
        starts |= set(start.tolist())
    assert frames_seen == set(range(k)) and starts == set(range(k - t + 1))  # every position can be drawn
    whole, start = mocogan.sample_window(jax.random.PRNGKey(0), clips, k)
    assert np.all(np.asarray(start) == 0) and np.array_equal(whole, clips)
    with pytest.raises(ValueError, match="windows of 1 to K = 7"):
        mocogan.sample_window(jax.random.PRNGKey(0), clips, k + 1)


class _LinearCritic(nn.Module):
    """logit = a · mean(x) + c per example: logits written in closed form, pushed to extremes by a."""

    @nn.compact
    def __call__(self, x, train: bool):
        a = self.param("a", lambda k: jnp.float32(300.0))
        c = self.param("c", lambda k: jnp.float32(-150.0))
        return a * jnp.mean(x.reshape(x.shape[0], -1), axis=1) + c


def _parts_with_linear_critics():
    c = tiny_config("mocogan")
    dataset = get_dataset(c.dataset)
    parts = mocogan.MoCoGANParts(c.mocogan, dataset.image_shape, dataset.num_frames)
    parts.image_critic, parts.video_critic = _LinearCritic(), _LinearCritic()
    real = jax.jit(lambda k: dataset.sample(k, 4)[0])(jax.random.PRNGKey(0))
    g, critics = jax.jit(parts.init_variables)(jax.random.PRNGKey(1), real)
    return parts, {"x": real}, g, critics


def test_losses_and_each_critics_gradient_against_closed_forms():
    parts, batch, g, critics = _parts_with_linear_critics()
    critic_loss, generator_loss = mocogan.make_losses(parts)
    gp, gs = g["params"], {"batch_stats": g["batch_stats"]}
    cp = {n: v["params"] for n, v in critics.items()}
    cs = {n: {} for n in critics}
    key = jax.random.PRNGKey(5)
    (loss, (aux, _)), grads = jax.jit(jax.value_and_grad(critic_loss, has_aux=True))(cp, cs, gp, gs, batch, key, 0)

    # By hand: the same draws, the sampled frames and windows, the logits a·mean + c, float64.
    d = mocogan.draws(key, 4, parts)
    draw = jax.jit(lambda gp, noise: parts.fake_clips(gp, gs, noise, True)[0])
    fake = np.asarray(draw(gp, d["noise"]), np.float64)
    real = np.asarray(batch["x"], np.float64)
    i_r, i_f = np.asarray(mocogan.sample_frame(d["real_frame"], real)[1]), np.asarray(
        mocogan.sample_frame(d["fake_frame"], fake)[1])
    m = {"image": (real[np.arange(4), i_r].mean((1, 2, 3)), fake[np.arange(4), i_f].mean((1, 2, 3))),
         "video": (real.mean((1, 2, 3, 4)), fake.mean((1, 2, 3, 4)))}  # K = T: the whole clip
    total = 0.0
    for name, (m_real, m_fake) in m.items():
        r, f = 300.0 * m_real - 150.0, 300.0 * m_fake - 150.0
        assert np.max(np.abs(np.concatenate([r, f]))) > 20  # extreme logits
        term = np.mean(_softplus(-r)) + np.mean(_softplus(f))
        np.testing.assert_allclose(aux[f"{name}_loss"], term, rtol=1e-5)
        total += term
        # Each critic's gradient is that of its own cross-entropy only.
        d_c = np.mean(-_sigmoid(-r)) + np.mean(_sigmoid(f))
        d_a = np.mean(-_sigmoid(-r) * m_real) + np.mean(_sigmoid(f) * m_fake)
        np.testing.assert_allclose(grads[name]["c"], d_c, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(grads[name]["a"], d_a, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loss, total, rtol=1e-5)

    (g_loss, (g_aux, _)), g_grads = jax.jit(jax.value_and_grad(generator_loss, has_aux=True))(gp, gs, cp, cs, batch,
                                                                                              key)
    fake = draw(gp, d["noise"])  # the generator update's own draws (same key)
    i_f = np.asarray(mocogan.sample_frame(d["fake_frame"], fake)[1])
    f_i = 300.0 * np.asarray(fake, np.float64)[np.arange(4), i_f].mean((1, 2, 3)) - 150.0
    f_v = 300.0 * np.asarray(fake, np.float64).mean((1, 2, 3, 4)) - 150.0
    np.testing.assert_allclose(g_aux["image_loss"], np.mean(_softplus(-f_i)), rtol=1e-5)
    np.testing.assert_allclose(g_aux["video_loss"], np.mean(_softplus(-f_v)), rtol=1e-5)
    np.testing.assert_allclose(g_loss, np.mean(_softplus(-f_i)) + np.mean(_softplus(-f_v)), rtol=1e-5)

    # The generator's gradient is the sum of the image and video terms' (each through its own critic).
    def term(name):
        def f(gp):
            clips, _ = parts.fake_clips(gp, gs, d["noise"], True)
            x = mocogan.sample_frame(d["fake_frame"], clips)[0] if name == "image" else clips
            return jnp.mean(jax.nn.softplus(-(cp[name]["a"] * jnp.mean(x.reshape(4, -1), 1) + cp[name]["c"])))
        return jax.jit(jax.grad(f))(gp)

    summed = jax.tree.map(jnp.add, term("image"), term("video"))
    for a, b in zip(jax.tree.leaves(g_grads), jax.tree.leaves(summed)):  # float32 sums in another order
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * float(np.max(np.abs(b))))


def test_pair_colour_distance_against_brute_force():
    rng = np.random.default_rng(4)
    n, t = 5, 4
    colours_a, colours_b = rng.uniform(0.3, 1.0, (n, 3)), rng.uniform(0.3, 1.0, (n, 3))

    def clips(colours):
        x = np.zeros((n, t, 8, 8, 3), np.float32)
        for i in range(n):
            for f in range(t):
                x[i, f, f:f + 3, 2:5] = colours[i]  # a moving 3x3 patch of one colour
        return x

    a, b = clips(colours_a), clips(colours_b)
    b[1, 0, 0, 0] = colours_a[1]  # one edge pixel of another colour: the frame's median colour ignores it
    want = [np.linalg.norm(colours_a[i] - colours_b[i]) * 255 for i in range(n)]
    a[4] = 0.0  # a black clip shows no shape: its pair is left out
    got = mocogan.pair_colour_distance(a, b)
    assert got["num_left_out"] == 1 and got["num_pairs"] == n
    np.testing.assert_allclose(got["distance"], np.mean(want[:4]), rtol=1e-5)
    assert mocogan.pair_colour_distance(a, a)["distance"] == 0.0


def test_config_holds_the_released_defaults_and_bad_settings_say_why():
    c = configure("mocogan_shape_motion")
    hp = c.mocogan
    assert (hp.content_dim, hp.motion_dim, hp.noise_dim, hp.clip_length, hp.base) == (50, 10, 10, 16, 64)
    assert (c.optimizer.learning_rate, c.optimizer.b1, hp.critic.optimizer.learning_rate, hp.critic.optimizer.b1) == (
        2e-4, 0.5, 2e-4, 0.5)
    with pytest.raises(ConfigError, match="clip_length=17 exceeds the dataset's 16 frames"):
        methods.build(configure("mocogan_shape_motion", **{"hp.clip_length": 17}), get_dataset("shape_motion"))
    with pytest.raises(ConfigError, match="needs a clip dataset"):
        methods.build(configure("mocogan_shape_motion", dataset="dsprites"), get_dataset("dsprites"))
    with pytest.raises(ConfigError, match="time_padding"):
        configure("mocogan_shape_motion", **{"hp.time_padding": "causal"})


def test_trains_resumes_exactly_draws_its_grid_and_evaluate_reports_acd(tmp_path, monkeypatch, capsys):
    c = tiny_config("mocogan")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["critic_image_loss"]) and np.isfinite(r["critic_video_loss"]) for r in rows)
    assert {p.name for p in straight["pictures"]} == {"content_motion_grid.gif", "same_content.png",
                                                      "same_motion.png"}
    assert all(p.exists() for p in straight["pictures"])

    # Grid clip (i, j) is content code i with motion noise j.
    method = straight["method"]
    parts = mocogan.MoCoGANParts(c.mocogan, method.dataset.image_shape, method.dataset.num_frames)
    v = method.scored_params(straight["state"])
    grid = np.asarray(mocogan.content_motion_grid(parts, v, jax.random.PRNGKey(7), 2))
    k_c, k_m = jax.random.split(jax.random.PRNGKey(7))
    noise = lambda k: mocogan.generator_noise(k, 2, 16, 4, 2, 3)  # noqa: E731
    zc, mo = noise(k_c), noise(k_m)
    one = parts.generator.apply(v, zc["z_content"][1:2], mo["eps"][0:1], mo["h0"][0:1], train=False)
    np.testing.assert_allclose(grid[1, 0], np.asarray(one)[0], rtol=1e-5, atol=1e-6)

    evaluation = read_json(tmp_path / "straight" / "evaluation.json")
    assert evaluation["step"] == 4 and evaluation["acd"]["generated"]["num_clips"] == 8
    assert evaluation["same_content_colour_distance"]["real"]["num_pairs"] == 4
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "do not apply to method 'mocogan'" in out and "no encoder" in out and '"acd"' in out
    again = read_json(tmp_path / "straight" / "evaluation.json")
    assert again["seed"] == 3 and np.isfinite(again["acd"]["real"]["acd"])
