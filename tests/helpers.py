"""Shared test utilities: small configs of every method, exact pytree comparison, interrupting a
training run mid-way, and launching the processes of a simulated multi-host run."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods
from disentax.data.registry import get_dataset
from disentax.runner import loop
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics, write_json

# A short run: what most training tests start from.
# A small pool for the decomposition logged at each logging step (1,024 by default): tests log often.
QUICK = {"batch_size": 16, "num_steps": 20, "log_every": 5, "checkpoint_every": 10, "progress": False,
         "diagnostics_points": 64}
# The smallest model of every method that uses config.model's encoder.
TINY_MODEL = {"model.encoder": "mlp", "model.mlp_hidden": (32,), "model.latent_dim": 4}
_MVAE_TINY = {"hp.enc_channels": (4, 4, 4, 4), "hp.head_channels": 4, "hp.g_hidden": (16,), "hp.map_shape": (8, 8, 2),
              "hp.g_channels": (4, 4), "hp.h_channels": (4, 4)}
# Per-method settings on top of TINY_MODEL that keep a method's test runs quick.
METHOD_TINY: dict[str, dict] = {
    "mvae": {**_MVAE_TINY, "hp.count_threshold_examples": 64, "hp.count_test_examples": 64},
    "mvae_baseline": _MVAE_TINY,
    "auxiliary_vae": {"hp.global_dim": 3, "hp.local_dim": 2, "hp.swap_examples": 60},
    "auxiliary_vae_clustering": {"hp.global_dim": 3, "hp.local_dim": 2, "hp.swap_examples": 60},
    "factor_vae": {"hp.discriminator.hidden": (16, 16)},
    # GANs: DCGAN widths 4 (64, 32, 16, 8 channels -> 4, 8, 16, 32), small codes, a short judge.
    "dcgan": {"hp.base": 4, "hp.latent_dim": 8, "hp.identity_dim": 4, "hp.judge_steps": 5,
              "hp.verification_pairs": 20, "batch_size": 8},
    "sd_gan": {"hp.base": 4, "hp.identity_dim": 4, "hp.observation_dim": 4, "hp.judge_steps": 5,
               "hp.verification_pairs": 20, "batch_size": 4},
    # MoCoGAN: width 4 on 16-frame 64x64 clips, small codes, a short evaluation.
    "mocogan": {"hp.base": 4, "hp.content_dim": 4, "hp.motion_dim": 3, "hp.noise_dim": 2, "hp.acd_clips": 8,
                "hp.eval_chunk": 4, "hp.picture_rows": 2, "batch_size": 4},
    "icm": {"hp.num_experts": 3, "hp.features": 4, "hp.num_layers": 1, "hp.identity_steps": 2,
            "hp.critic_widths": (4, 4, 4), "hp.critic_hidden": 16,
            "hp.classifier_steps": 5, "batch_size": 8},
    # Embeddings: 4 identities x 3 images, a conv trunk of width 4, small evaluation sets.
    "f_statistic": {"hp.identities_per_batch": 4, "batch_size": 12, "hp.eval_images_per_identity": 4,
                    "hp.auc_images": 128, "model.encoder": "conv", "model.conv_channels": (4, 4, 4, 4),
                    "model.hidden": (16,), "model.latent_dim": 6},
}
METHOD_TINY["triplet"] = METHOD_TINY["f_statistic"]
# JADE: CNNs of width 4 at the digits' own 8x8 (three pools down to 1x1), a 16-unit classifier.
METHOD_TINY["jade"] = {"hp.primary_channels": (4, 4, 4, 4), "hp.secondary_channels": (4, 4, 4),
                       "hp.classifier_hidden": (16,), "hp.image_size": 8, "batch_size": 8}
# independent_prediction: DCGAN widths 4, factors of 2 dims, 3-frame clips, a small evaluation.
METHOD_TINY["independent_prediction"] = {
    "hp.encoder_widths": (4, 4, 4, 4), "hp.features": 8, "hp.generator_widths": (4, 4, 4, 4), "hp.factor_dim": 2,
    "hp.transition_hidden": 16, "hp.transition_layers": 2, "hp.num_frames": 3, "hp.eval_clips": 16,
    "hp.partitions": 3, "batch_size": 8}
# dynamics_content: 8-unit MLPs, small pools, a 2-run planning evaluation of 3 steps.
METHOD_TINY["dynamics_content"] = {
    "hp.encoder_hidden": (8,), "hp.decoder_hidden": (8,), "hp.transition_hidden": (8,), "hp.backward_hidden": (8,),
    "hp.x_examples": 64, "hp.y_examples": 32, "hp.eval_examples": 8, "hp.plan_runs": 2, "hp.plan_steps": 3,
    "hp.plan_horizon": 3, "hp.plan_iterations": 1}
# controllable_factors: conv width 4, 8-unit heads, 8 sampled factors, a small evaluation.
METHOD_TINY["controllable_factors"] = {"hp.channels": (4, 4, 4, 4), "hp.hidden": 8, "hp.num_factors": 8,
                                       "hp.eval_states": 16, "hp.eval_factors": 32, "batch_size": 8}
METHOD_TINY["attribute_transfer"] = {"hp.embed_dim": 8, "hp.hidden": 8, "hp.classifier_heights": (3,), "hp.classifier_filters": 4, "hp.eval_sentences": 20, "hp.judge_steps": 5, "hp.lm_steps": 5, "hp.picture_sentences": 4, "batch_size": 8}
METHOD_TINY["mmd_traversal"] = {"hp.embed_dim": 8, "hp.heights": (1, 2), "hp.filters": 4, "hp.hidden": 8, "hp.autoencoder_steps": 2, "hp.reference_per_class": 6, "hp.eval_sentences": 8, "hp.judge_steps": 5, "hp.lm_steps": 5, "hp.bfgs_maxiter": 10, "hp.bfgs_restarts": 1, "hp.lam_sweep": (1e-3,), "hp.picture_sentences": 12, "hp.picture_paths": 2, "hp.examples_md": 3, "batch_size": 8}
METHOD_TINY["multitask_seq2seq"] = {"hp.hidden": 8, "hp.representation_dim": 4, "hp.embed_dim": 4, "hp.per_template": 3, "hp.kmeans_runs": 2, "hp.eval_sentences": 6, "batch_size": 8}
METHOD_TINY["arae"] = {"hp.embed_dim": 8, "hp.hidden": 8, "hp.code_dim": 4, "hp.z_dim": 2, "hp.generator_hidden": (8,), "hp.critic_hidden": (8,), "hp.classifier_hidden": (8,), "hp.critic_steps": 2, "hp.eval_sentences": 20, "hp.judge_steps": 3, "hp.lm_steps": 3, "hp.reverse_steps": 3, "hp.probe_sentences": 40, "hp.picture_sentences": 4, "batch_size": 8}
# The config file of each method (most are `<method>_dsprites`).
CONFIG_FOR = {
    "arae": "arae_sentiment_text",
    "attribute_transfer": "attribute_transfer_sentiment_text",
    "controllable_factors": "controllable_factors_gridworld",
    "dynamics_content": "dynamics_content_planar",
    "independent_prediction": "independent_prediction_bouncing_digits",
    "mvae": "mvae_multi_dsprites",
    "mvae_baseline": "vae_multi_dsprites",
    "auxiliary_vae": "auxiliary_vae_coloured_dsprites",
    "auxiliary_vae_clustering": "auxiliary_vae_clustering_coloured_dsprites",
    "dcgan": "dcgan_identity_sprites",
    "sd_gan": "sd_gan_identity_sprites",
    "icm": "icm_mechanism_digits",
    "mocogan": "mocogan_shape_motion",
    "f_statistic": "f_statistic_identity_sprites",
    "triplet": "triplet_identity_sprites",
    "jade": "jade_digits",
    "multitask_seq2seq": "multitask_seq2seq_multitask_text",
    "mmd_traversal": "mmd_traversal_sentiment_text",
}


def configure(config, **settings):
    """`config` (a ConfigDict, or a config file's name) with dotted `settings` applied, validated.

    A key starting with `hp.` sets a key of the method's own group: `hp.beta` is
    `config.<method>.beta`. Pass dotted keys with `**{"model.encoder": "mlp"}`.
    """
    c = cfg.load_config_file(config) if isinstance(config, str) else config
    for key, value in settings.items():
        if key.startswith("hp."):
            key = f"{c.method}.{key[3:]}"
        node = c
        *path, leaf = key.split(".")
        for part in path:
            node = node[part]
        node[leaf] = value
    return cfg.validate(c)


def tiny_config(method, **settings):
    """A few-step config of `method` from its own config file, with the smallest model."""
    try:
        c = cfg.load_config_file(CONFIG_FOR.get(method, f"{method}_dsprites"))
    except cfg.ConfigError:
        c = cfg.base_config(method)
    return configure(c, **{**QUICK, "num_steps": 4, "log_every": 2, "checkpoint_every": 2, **TINY_MODEL,
                           **METHOD_TINY.get(method, {}), **settings})


def untrained_run(config, workdir) -> None:
    """A run folder as `disentax train` writes it (config.json, a checkpoint with the config) holding
    the initial state at step 0: for tests of what reads runs, without compiling a training step."""
    workdir = Path(workdir)
    method = methods.build(config, get_dataset(config.dataset))
    init_key, data_key = loop.run_keys(int(config.seed))[:2]
    batch = jax.jit(lambda k: method.sample_batch(k, int(config.batch_size)))(jax.random.fold_in(data_key, 0))
    state = jax.jit(method.init_state)(init_key, batch)
    current = loop._config_dict(config)
    workdir.mkdir(parents=True, exist_ok=True)
    write_json(workdir / "config.json", current, sort_keys=True)
    ckpt = Checkpointer(workdir / "checkpoints")
    try:
        ckpt.save(0, state, current)
        ckpt.wait()
    finally:
        ckpt.close()


def images_and_logits(B, seed=0):
    """Binary 4x4 images, decoder logits and their Bernoulli reconstruction loss (float64 reference)."""
    rng = np.random.default_rng(seed)
    x = (rng.uniform(size=(B, 4, 4, 1)) > 0.5).astype(np.float32)
    out = rng.normal(size=(B, 4, 4, 1)).astype(np.float32)
    rec = -np.sum(x * -np.logaddexp(0, -out) + (1 - x) * -np.logaddexp(0, out), axis=(1, 2, 3))
    return x, out, rec


def same_leaves(a, b) -> bool:
    """True when two pytrees have the same number of leaves and every leaf is bitwise equal."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def train_until_interrupted(config, workdir, at_step: int, monkeypatch) -> None:
    """Run `loop.train` and raise KeyboardInterrupt right after the metrics of `at_step` are
    written (as Ctrl-C between two checkpoints would); the loop must save and re-raise."""
    real_write = loop.MetricWriter.write

    def write_then_interrupt(self, step, metrics):
        real_write(self, step, metrics)
        if step == at_step:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(loop.MetricWriter, "write", write_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            loop.train(config, workdir, finish=False)


def straight_and_resumed(config, tmp_path, at_step: int, monkeypatch):
    """Train `config` straight through in tmp_path/straight and, in tmp_path/resumed, until an
    interruption after `at_step` then on to the end; assert that both end in the same state, bit
    for bit, having logged the same losses. Returns (the straight run's result, its metric rows)."""
    straight = loop.train(config, tmp_path / "straight")
    train_until_interrupted(config, tmp_path / "resumed", at_step, monkeypatch)
    resumed = loop.train(config, tmp_path / "resumed", finish=False)
    assert same_leaves(straight["state"], resumed["state"])
    rows = read_metrics(tmp_path / "straight")
    assert [r["loss"] for r in rows] == [r["loss"] for r in read_metrics(tmp_path / "resumed")]
    return straight, rows


def free_port() -> int:
    """A TCP port on localhost nobody listens on now (for a multi-host run's coordinator)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def child_env(devices: int | None = None, keep_jax: bool = True) -> dict:
    """The environment of a subprocess: this one's, with this process's XLA flags (the suite's
    optimisation level, so its numbers match in-process runs) but its simulated device count
    replaced by `devices` (none: one device); `keep_jax=False` drops the JAX_ variables too."""
    env = {k: v for k, v in os.environ.items() if keep_jax or not k.startswith("JAX_")}
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    if devices is not None:
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    return env


def launch_python(args, devices: int, process_id: int | None = None, port: int | None = None) -> subprocess.Popen:
    """`python ARGS` on `devices` simulated CPU devices; with `process_id`, as that process of a
    two-process run coordinated on localhost:`port` (sharding.process_layout's variables)."""
    env = child_env(devices, keep_jax=False)
    env.update(JAX_PLATFORMS="cpu")
    if process_id is not None:
        env.update(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(process_id))
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen) -> None:
    """Wait for `proc`; fail with the tail of its output unless it exited 0."""
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
