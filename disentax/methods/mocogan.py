"""MoCoGAN (Tulyakov, Liu, Yang & Kautz (2018), "MoCoGAN: decomposing motion and content for video
generation") on the adversarial step.

A clip is generated frame by frame from z^(k) = [z_C; z_M^(k)] (Eq. 1): one content code z_C ~ N(0,
I_{d_C}) per clip and motion codes from a one-layer GRU R_M driven by ε^(k) ~ N(0, I_{d_E})
(`disentax.models.video_gan`). Two critics, one `Critics` dict on `make_adversarial_step`:

- "image": D_I, the DCGAN discriminator on single frames, one per clip drawn by S_1
  (`sample_frame`) from the real and from the generated clips;
- "video": D_V, the 3-D convolutional `VideoDiscriminator`, on T = 16 consecutive frames drawn by
  S_T (`sample_window`; a random start when a clip is longer than T).

The losses are the standard GAN ones (Sec. 3: D_I and D_V output 1 for real and 0 for generated
input), which the paper does not write out; here, with `disentax.objectives.adversarial`:

    critic loss    = [softplus(−D_I(S_1 v)) + softplus(D_I(S_1 ṽ))] + [softplus(−D_V(S_T v)) + softplus(D_V(S_T ṽ))]
    generator loss = softplus(−D_I(S_1 ṽ)) + softplus(−D_V(S_T ṽ))        (batch means; non-saturating)

v real clips, ṽ generated ones. The two critics' parameters are disjoint, so the sum gives each
exactly the gradient of its own cross-entropy; the generator (R_M and G_I, one parameter tree)
gets the sum of the image and the video term, each with weight 1, as in the authors' released
code. One batch of B generated clips per update feeds both critics' terms (chosen: the released
code draws separate fakes for each).

What a GAN learns is no encoder, so there is no representation for the metrics (`no_code`); the
evaluation is the paper's Table 1 measure, the average content distance (ACD) of generated clips
(`disentax.metrics.content_distance`; shape motion: the mean pairwise L2 distance between the
per-frame colours of the shape, in 0-255 colour units). Table 1 reports 0 for real clips, 5.02 for
VGAN and 1.79 for MoCoGAN. The evaluation scores real clips the same way, as the check on the
metric. A frame's colour is the per-channel median of the shape's pixels (`acd`, the metric's
default): with `shape_motion`'s anti-aliased edges the paper's literal mean (`acd_mean`) moves
with the share of dim edge pixels, and 128 real clips measured 6.6 with it (circles 3.3, squares
9.3) but exactly 0 with the median, the paper's reference. Both are reported. An untrained
generator that paints every frame the same grey also scores about 0, so the ACD is read next to
the pictures. Next to it a disentanglement check that the paper shows only
in pictures: pairs of clips sharing z_C with different motion noise should show the same object,
so the L2 distance between the two clips' mean colours should be small.

Batch norm: every network's running statistics are held in the state (`disentax.train.adversarial`)
and the pictures and the evaluation draw with the generator in inference mode.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import viz
from disentax.errors import ConfigError
from disentax.methods.contract import Check, Hyperparameter, Method, MethodSpec, at_least, one_of
from disentax.methods.gan import critic_optimizer_hyperparameters, generator_variables, real_minibatch
from disentax.methods.registry import register
from disentax.metrics import content_distance as cd
from disentax.metrics.content_distance import DEFAULT_THRESHOLD
from disentax.models.gan import DCGANDiscriminator
from disentax.models.video_gan import TIME_PADDINGS, VideoDiscriminator, VideoGenerator
from disentax.objectives import adversarial
from disentax.train.adversarial import Critics, apply_network, init_adversarial_state, make_adversarial_step
from disentax.train.optim import make_optimizer

__all__ = ["MOCOGAN", "MoCoGANParts", "clip_colours", "content_motion_grid", "draws", "generator_noise", "make_losses",
           "pair_colour_distance", "sample_frame", "sample_window"]

NO_CODE = ("MoCoGAN learns a video generator and two critics but no encoder, so no representation of a clip exists "
           "to score; its evaluation (average content distance of generated clips) is in evaluation.json")


# ----------------------------------------------------------------------------- S_1, S_T and the noise


def sample_frame(key, clips):
    """S_1 (Tulyakov et al. (2018), Sec. 3): one frame of each clip, the index uniform over its K
    frames. clips [B, K, H, W, C] -> (frames [B, H, W, C], index [B] int32), frames[b] = clips[b, index[b]]."""
    b, k = clips.shape[:2]
    index = jax.random.randint(key, (b,), 0, k, dtype=jnp.int32)
    return clips[jnp.arange(b), index], index


def sample_window(key, clips, length: int):
    """S_T (Sec. 3): `length` consecutive frames of each clip from a start uniform over the K − T + 1
    positions. clips [B, K, ...] -> (windows [B, T, ...], start [B] int32), windows[b] = clips[b,
    start[b] : start[b] + T]. With K = T the window is the whole clip (start 0)."""
    b, k = clips.shape[:2]
    length = int(length)
    if not 1 <= length <= k:
        raise ValueError(f"S_T takes windows of 1 to K = {k} frames, got T = {length}")
    start = jax.random.randint(key, (b,), 0, k - length + 1, dtype=jnp.int32)
    if length == k:
        return clips, start
    windows = jax.vmap(lambda c, s: jax.lax.dynamic_slice_in_dim(c, s, length, axis=0))(clips, start)
    return windows, start


def generator_noise(key, n: int, num_frames: int, content_dim: int, noise_dim: int, motion_dim: int,
                    random_initial_state: bool = True) -> dict:
    """The generator's inputs for n clips of K frames: {"z_content" [n, d_C] ~ N(0, I) (Eq. 1),
    "eps" [n, K, d_E] ~ N(0, I) (Sec. 2), "h0" [n, d_M] ~ N(0, I), the GRU's initial state (as the
    released code draws it), or None when `random_initial_state` is off (zeros)}."""
    k_c, k_e, k_h = jax.random.split(key, 3)
    return {"z_content": jax.random.normal(k_c, (n, content_dim)),
            "eps": jax.random.normal(k_e, (n, num_frames, noise_dim)),
            "h0": jax.random.normal(k_h, (n, motion_dim)) if random_initial_state else None}


def draws(key, n: int, parts: "MoCoGANParts") -> dict:
    """Every random choice of one critic or generator update from its key: the generator's noise for
    n fake clips ("noise") and the S_1 / S_T keys for the real ("real_frame", "real_window") and the
    fake clips ("fake_frame", "fake_window"). The losses and the tests that recompute them use this."""
    k_noise, k_rf, k_rw, k_ff, k_fw = jax.random.split(key, 5)
    return {"noise": generator_noise(k_noise, n, parts.num_frames, parts.content_dim, parts.noise_dim,
                                     parts.motion_dim, parts.random_initial_state),
            "real_frame": k_rf, "real_window": k_rw, "fake_frame": k_ff, "fake_window": k_fw}


# ----------------------------------------------------------------------------- networks and losses


class MoCoGANParts:
    """The networks and sizes of one MoCoGAN: `generator` (R_M + G_I), `image_critic` (D_I),
    `video_critic` (D_V), clips of `num_frames` (K) frames judged by D_V in windows of `clip_length` (T)."""

    def __init__(self, hp, image_shape, num_frames: int):
        self.content_dim, self.motion_dim = int(hp.content_dim), int(hp.motion_dim)
        self.noise_dim, self.random_initial_state = int(hp.noise_dim), bool(hp.random_initial_state)
        self.num_frames, self.clip_length = int(num_frames), int(hp.clip_length)
        if self.clip_length > self.num_frames:
            raise ConfigError(f"config.mocogan.clip_length={self.clip_length} exceeds the dataset's "
                              f"{self.num_frames} frames per clip; allowed: 1 to {self.num_frames}")
        base = int(hp.base)
        self.generator = VideoGenerator(content_dim=self.content_dim, motion_dim=self.motion_dim,
                                        image_shape=tuple(image_shape), base=base)
        self.image_critic = DCGANDiscriminator(base=base)
        self.video_critic = VideoDiscriminator(base=base, time_padding=str(hp.time_padding))

    def fake_clips(self, gen_params, gen_state, noise: dict, train: bool):
        """(clips [n, K, H, W, C], generator state) from `generator_noise`'s arrays."""
        return apply_network(self.generator, gen_params, gen_state, noise["z_content"], noise["eps"], noise["h0"],
                             train=train)

    def init_variables(self, key, real_clips) -> tuple[dict, dict]:
        """Flax variables of the generator and of {"image", "video"} critics, from one real batch."""
        k_g, k_i, k_v = jax.random.split(key, 3)
        noise = generator_noise(jax.random.PRNGKey(0), 1, self.num_frames, self.content_dim, self.noise_dim,
                                self.motion_dim, self.random_initial_state)
        g = self.generator.init(k_g, noise["z_content"], noise["eps"], noise["h0"], train=False)
        d_i = self.image_critic.init(k_i, real_clips[:1, 0], train=False)
        d_v = self.video_critic.init(k_v, real_clips[:1, :self.clip_length], train=False)
        return g, {"image": d_i, "video": d_v}


def make_losses(parts: MoCoGANParts, steps: int = 1):
    """`(critic_loss, generator_loss)` in the signatures of `make_adversarial_step` (module docstring).

    The critics see each input in its own call in train mode (real frames, then fake frames; the
    batch-norm state threads through both, as for the DCGAN critic); the generator's clips are drawn
    in train mode, its running averages kept only from its own update.
    """
    t = parts.clip_length

    def critic_loss(cp, cs, gp, gs, batch, key, k):
        real = real_minibatch(batch, "x", k, steps)
        d = draws(key, real.shape[0], parts)
        fake, _ = parts.fake_clips(gp, gs, d["noise"], True)
        real_img, fake_img = sample_frame(d["real_frame"], real)[0], sample_frame(d["fake_frame"], fake)[0]
        real_vid, fake_vid = sample_window(d["real_window"], real, t)[0], sample_window(d["fake_window"], fake, t)[0]
        ri, s_i = apply_network(parts.image_critic, cp["image"], cs["image"], real_img, train=True)
        fi, s_i = apply_network(parts.image_critic, cp["image"], s_i, fake_img, train=True)
        rv, s_v = apply_network(parts.video_critic, cp["video"], cs["video"], real_vid, train=True)
        fv, s_v = apply_network(parts.video_critic, cp["video"], s_v, fake_vid, train=True)
        loss_i, aux_i = adversarial.discriminator_loss(ri, fi)
        loss_v, aux_v = adversarial.discriminator_loss(rv, fv)
        aux = {**{f"image_{n}": v for n, v in aux_i.items()}, **{f"video_{n}": v for n, v in aux_v.items()},
               "image_loss": loss_i, "video_loss": loss_v}
        return loss_i + loss_v, (aux, {"image": s_i, "video": s_v})

    def generator_loss(gp, gs, cp, cs, batch, key):
        n = batch["x"].shape[0]
        d = draws(key, n, parts)
        fake, gs = parts.fake_clips(gp, gs, d["noise"], True)
        li, _ = apply_network(parts.image_critic, cp["image"], cs["image"], sample_frame(d["fake_frame"], fake)[0],
                              train=True)
        lv, _ = apply_network(parts.video_critic, cp["video"], cs["video"],
                              sample_window(d["fake_window"], fake, t)[0], train=True)
        loss_i, aux_i = adversarial.generator_loss(li)
        loss_v, aux_v = adversarial.generator_loss(lv)
        aux = {"image_loss": loss_i, "video_loss": loss_v, "image_d_fake": aux_i["d_fake"],
               "video_d_fake": aux_v["d_fake"]}
        return loss_i + loss_v, (aux, gs)

    return critic_loss, generator_loss


# ----------------------------------------------------------------------------- the method


def _build_mocogan(config, dataset) -> Method:
    hp = config.mocogan
    if not hasattr(dataset, "num_frames"):
        raise ConfigError(f"mocogan needs a clip dataset (shape_motion, bouncing_digits); {config.dataset!r} "
                          f"gives single images")
    parts = MoCoGANParts(hp, dataset.image_shape, dataset.num_frames)
    steps = int(hp.critic_steps)
    critics = Critics({"image": make_optimizer(hp.critic.optimizer), "video": make_optimizer(hp.critic.optimizer)})
    tx = make_optimizer(config.optimizer)
    critic_loss, generator_loss = make_losses(parts, steps)

    def init_state(key, batch):
        g, c = parts.init_variables(key, real_minibatch(batch, "x", 0, steps))
        return init_adversarial_state(g, tx, c, critics)

    def sample_batch(key, batch_size):
        if steps == 1:
            return {"x": dataset.sample(key, batch_size)[0]}
        # One real minibatch per critic update, on axis 1 (the data-parallel split stays on axis 0).
        x = jax.vmap(lambda k: dataset.sample(k, batch_size)[0])(jax.random.split(key, steps))
        return {"x": jnp.swapaxes(x, 0, 1)}

    return Method(
        name=config.method, model=parts.generator, dataset=dataset, init_state=jax.jit(init_state),
        train_step=make_adversarial_step(generator_loss, critic_loss, tx, critics, critic_steps=steps,
                                         unroll=bool(hp.unroll)),
        sample_batch=sample_batch, codes={}, no_code=NO_CODE, variables_of=generator_variables,
        pictures=_pictures(parts, int(hp.picture_rows)),
        evaluations=_evaluations(parts, dataset, hp),
    )


def _draw(parts: MoCoGANParts):
    """jit(gen_variables, noise) -> clips, the generator in inference mode."""
    return jax.jit(lambda v, noise: parts.generator.apply(v, noise["z_content"], noise["eps"], noise["h0"],
                                                          train=False))


def content_motion_grid(parts: MoCoGANParts, gen_variables, key, n: int):
    """Clips [n, n, K, H, W, C]: clip (i, j) from content code i and motion noise j (z_C fixed along
    each row, the motion noise (h_0, ε) fixed down each column)."""
    k_c, k_m = jax.random.split(key)
    content = generator_noise(k_c, n, parts.num_frames, parts.content_dim, parts.noise_dim, parts.motion_dim,
                              parts.random_initial_state)
    motion = generator_noise(k_m, n, parts.num_frames, parts.content_dim, parts.noise_dim, parts.motion_dim,
                             parts.random_initial_state)
    noise = {"z_content": jnp.repeat(content["z_content"], n, 0), "eps": jnp.tile(motion["eps"], (n, 1, 1)),
             "h0": None if motion["h0"] is None else jnp.tile(motion["h0"], (n, 1))}
    clips = _draw(parts)(gen_variables, noise)
    return clips.reshape(n, n, *clips.shape[1:])


def _mosaic(grid, pad: int = 2):
    """[n, m, K, H, W, C] -> one clip [1, K, n (H + pad) − pad, m (W + pad) − pad, C], grey gaps."""
    n, m, k, h, w, c = grid.shape
    out = np.full((k, n * (h + pad) - pad, m * (w + pad) - pad, c), 0.5, np.float32)
    for i in range(n):
        for j in range(m):
            out[:, i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = grid[i, j]
    return out[None]


def _pictures(parts: MoCoGANParts, n: int):
    """content_motion_grid.gif: an n x n grid of clips, z_C fixed along each row and the motion noise
    down each column (Tulyakov et al. (2018), Fig. 1a); same_content.png / same_motion.png: the first
    row (one z_C, n motions) and the first column (one motion, n z_C) as frame strips."""

    def pictures(gen_variables, key, workdir) -> list[Path]:
        grid = np.asarray(content_motion_grid(parts, gen_variables, key, n))
        workdir = Path(workdir)
        return [
            viz.save_clip_gif(workdir / "content_motion_grid.gif", _mosaic(grid)),
            viz.save_clip_strip(workdir / "same_content.png", grid[0], labels=[f"motion {j}" for j in range(n)]),
            viz.save_clip_strip(workdir / "same_motion.png", grid[:, 0], labels=[f"content {i}" for i in range(n)]),
        ]

    return pictures


def clip_colours(clips, threshold: float = DEFAULT_THRESHOLD, scale: float = 255.0) -> np.ndarray:
    """Mean shape colour of each clip, [N, 3] float64 in `scale` units: the mean over the frames that
    show the shape of their shape colours (`content_distance.shape_colours`); NaN for a clip with no
    such frame."""
    colours, counts = cd.shape_colours(jnp.asarray(clips, jnp.float32), threshold)
    colours, seen = np.asarray(colours, np.float64) * float(scale), np.asarray(counts) > 0  # [N, T, 3], [N, T]
    total = np.where(seen[..., None], colours, 0.0).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen.any(1)[:, None], total / seen.sum(1)[:, None], np.nan)


def pair_colour_distance(a, b, threshold: float = DEFAULT_THRESHOLD, scale: float = 255.0) -> dict:
    """{"distance": mean over pairs i of ||colour(a_i) − colour(b_i)||_2 (`clip_colours`, `scale`
    units), "num_left_out": pairs where a clip never shows the shape, "num_pairs"}. Clips that share
    their content (z_C, or the real content factors) should score near 0."""
    return _colour_distance(clip_colours(a, threshold, scale), clip_colours(b, threshold, scale))


def _colour_distance(colours_a, colours_b) -> dict:
    d = np.linalg.norm(colours_a - colours_b, axis=-1)
    kept = ~np.isnan(d)
    return {"distance": float(np.mean(d[kept])) if kept.any() else float("nan"),
            "num_left_out": int(np.sum(~kept)), "num_pairs": int(d.size)}


def _acd(chunks, threshold: float) -> dict:
    """ACD of the clips with each frame's shape colour as the per-channel median (the default, 0 on
    real anti-aliased clips) and as the mean (the paper's literal statistic), chunk by chunk."""
    per_clip = {s: [] for s in cd.STATISTICS}
    for c in chunks:
        for s in cd.STATISTICS:
            per_clip[s].append(cd.content_distances(c, threshold, statistic=s))
    out = cd.summarise(np.concatenate(per_clip["median"]))
    mean = cd.summarise(np.concatenate(per_clip["mean"]))
    return {**out, "acd_mean": mean["acd"], "num_left_out_mean": mean["num_left_out"]}


def _evaluations(parts: MoCoGANParts, dataset, hp):
    """`evaluations(gen_variables, key)`: ACD of generated and of real clips (Table 1), and the
    colour distance of clip pairs that share their content."""
    n, chunk, threshold = int(hp.acd_clips), int(hp.eval_chunk), float(hp.acd_threshold)
    sizes = [min(chunk, n - i) for i in range(0, n, chunk)]
    draw = _draw(parts)
    real_clips = jax.jit(lambda k, m: dataset.sample(k, m)[0], static_argnums=1)
    real_pairs = jax.jit(lambda k, m: dataset.sample_shared(k, m, "content"), static_argnums=1)

    def noise(k, m, shared_content=False):
        out = generator_noise(k, m, parts.num_frames, parts.content_dim, parts.noise_dim, parts.motion_dim,
                              parts.random_initial_state)
        if shared_content:  # clips 2i and 2i + 1 share z_C; each draws its own motion noise
            out["z_content"] = jnp.repeat(out["z_content"][0::2], 2, 0)
        return out

    def evaluations(gen_variables, key) -> dict:
        k_fake, k_real, k_pair, k_real_pair = jax.random.split(key, 4)
        keys = lambda k: jax.random.split(k, len(sizes))  # noqa: E731
        fake = (np.asarray(draw(gen_variables, noise(k, m))) for k, m in zip(keys(k_fake), sizes))
        real = (np.asarray(real_clips(k, m)) for k, m in zip(keys(k_real), sizes))
        # Only each clip's mean colour is kept from the pairs, chunk by chunk.
        pairs = [clip_colours(draw(gen_variables, noise(k, m, True)), threshold) for k, m in zip(keys(k_pair), sizes)]
        shared = [[clip_colours(c, threshold) for c in real_pairs(k, m // 2)] for k, m in zip(keys(k_real_pair), sizes)]
        return {
            "acd": {"generated": _acd(fake, threshold), "real": _acd(real, threshold),
                    "paper_table_1": {"reference": 0.0, "vgan": 5.02, "mocogan": 1.79}},
            "same_content_colour_distance": {
                "generated": _colour_distance(np.concatenate([p[0::2] for p in pairs]),
                                              np.concatenate([p[1::2] for p in pairs])),
                "real": _colour_distance(np.concatenate([a for a, _ in shared]), np.concatenate([b for _, b in shared]))},
            "threshold": threshold, "units": "0-255 colour levels",
        }

    return evaluations


# ----------------------------------------------------------------------------- registration

_CODE = "Tulyakov et al. (2018), released code (sergeytulyakov/mocogan)"

MOCOGAN = register(MethodSpec(
    name="mocogan", build=_build_mocogan, paper="Tulyakov et al. (2018)",
    summary="video GAN: a fixed content code and GRU motion codes per frame; image and video discriminators",
    shared_defaults={"optimizer.learning_rate": 2e-4, "optimizer.b1": 0.5, "batch_size": 16,
                     "dataset": "shape_motion"},
    hyperparameters=(
        Hyperparameter("content_dim", 50, "d_C, dimensions of the content code z_C ~ N(0, I)", _CODE, at_least(1)),
        Hyperparameter("motion_dim", 10, "d_M, dimensions of the motion code (the GRU's hidden state)", _CODE,
                       at_least(1)),
        Hyperparameter("noise_dim", 10, "d_E, dimensions of the GRU's input noise ε ~ N(0, I)", _CODE, at_least(1)),
        Hyperparameter("random_initial_state", True, "draw the GRU's initial state from N(0, I) per clip (else "
                       "zeros)", _CODE),
        Hyperparameter("clip_length", 16, "T, frames per window judged by the video discriminator (S_T)",
                       "Tulyakov et al. (2018), Sec. 3", at_least(1)),
        Hyperparameter("time_padding", "valid", "the video discriminator's temporal padding: valid (the released "
                       "network; clips of >= 13 frames at 64x64) or same (chosen, for shorter clips)", _CODE,
                       one_of(*TIME_PADDINGS)),
        Hyperparameter("base", 64, "width: channels of the first critic layers and the generator's last hidden "
                       "layer (doubling per layer)", _CODE, at_least(1)),
        Hyperparameter("critic_steps", 1, "updates of each critic per generator update", _CODE, at_least(1)),
        Hyperparameter("unroll", True, "critic updates as a Python loop instead of lax.fori_loop (same numbers; "
                       "on CPU a step inside fori_loop measured 3-30x slower)", "chosen"),
        *critic_optimizer_hyperparameters(_CODE + ": Adam 2e-4, β = (0.5, 0.999)", 2e-4, 0.5, 0.999),
        Hyperparameter("acd_clips", 256, "generated (and real) clips scored by the average content distance",
                       "chosen", Check(lambda v: v >= 2 and v % 2 == 0, "an even number >= 2")),
        Hyperparameter("acd_threshold", DEFAULT_THRESHOLD, "ACD: a pixel belongs to the shape when its largest "
                       "channel exceeds this (values in [0, 1])", "disentax.metrics.content_distance",
                       Check(lambda v: 0 <= v < 1, "in [0, 1)")),
        Hyperparameter("eval_chunk", 64, "clips generated per call in the evaluation (memory)", "",
                       Check(lambda v: v >= 2 and v % 2 == 0, "an even number >= 2")),
        Hyperparameter("picture_rows", 6, "content codes (rows) and motion draws (columns) of the picture grid", "",
                       at_least(1)),
    ),
))
