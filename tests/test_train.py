import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods, objectives
from disentax.data import get_dataset
from disentax.runner import loop
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics

from helpers import QUICK, configure, same_leaves, train_until_interrupted


def small_config(method="beta_vae", **overrides):
    return configure(f"{method}_dsprites", **{**QUICK, **overrides})


def test_hundred_steps_lower_the_loss(tmp_path):
    c = small_config(num_steps=100, log_every=10, checkpoint_every=100, **{"optimizer.learning_rate": 1e-3})
    result = loop.train(c, tmp_path, finish=True)
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == list(range(10, 101, 10))
    first, last = records[0]["loss"], np.mean([r["loss"] for r in records[-2:]])
    assert last < 0.8 * first, (first, last)
    assert result["step"] == 100
    for name in ("reconstructions.png", "traversals.png", "config.json"):
        assert (tmp_path / name).exists()
    assert list((tmp_path / "tb").iterdir()), "no TensorBoard event file"
    assert Checkpointer(tmp_path / "checkpoints").latest_step() == 100


def test_interrupt_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    c = small_config(num_steps=20)
    straight = loop.train(c, tmp_path / "straight", finish=False)

    # Interrupt after the metrics of step 15 are written: between checkpoints (10, 20).
    train_until_interrupted(c, tmp_path / "resumed", 15, monkeypatch)
    assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == 15

    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert resumed["step"] == 20
    assert same_leaves(straight["state"].params, resumed["state"].params)
    assert same_leaves(straight["state"].opt_state, resumed["state"].opt_state)
    a = read_metrics(tmp_path / "straight")
    b = read_metrics(tmp_path / "resumed")
    assert [r["step"] for r in b] == [5, 10, 15, 20]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]


def test_resume_with_a_different_config_is_refused(tmp_path):
    loop.train(small_config(num_steps=5, checkpoint_every=5), tmp_path, finish=False)
    with pytest.raises(cfg.ConfigError, match=r"config\.beta_vae\.beta=4\.0, not 8\.0"):
        loop.train(small_config(num_steps=10, **{"hp.beta": 8.0}), tmp_path, finish=False)
    # Changing only the length is a resumption.
    assert loop.train(small_config(num_steps=10), tmp_path, finish=False)["step"] == 10


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    def build(config, dataset):
        def objective(x, o, step):
            loss, aux = objectives.elbo(x, o["out"], o["mu"], o["logvar"])
            return jnp.where(step >= 7, jnp.nan, loss), aux

        return methods.vae_method(config, dataset, objective)

    methods.register(methods.MethodSpec(name="nan_after_7_for_test", build=build, summary="", paper=""))
    c = configure(cfg.base_config("nan_after_7_for_test"), **{**QUICK, "num_steps": 20, "checkpoint_every": 5,
                                                              "log_every": 100})
    with pytest.raises(loop.NonFiniteLossError, match="step 8") as info:
        loop.train(c, tmp_path, finish=False)
    assert info.value.step == 8 and info.value.last_checkpoint == 5
    ckpt = Checkpointer(tmp_path / "checkpoints")
    assert ckpt.all_steps() == [5]
    state = methods.build(c, get_dataset("dsprites")).init_state(jax.random.PRNGKey(0), jnp.zeros((16, 64, 64, 1)))
    restored = ckpt.restore(state)
    assert int(restored.step) == 5
    assert all(np.all(np.isfinite(np.asarray(l))) for l in jax.tree.leaves(restored.params))


def test_same_seed_same_parameters_different_seed_differs(tmp_path):
    a = loop.train(small_config(num_steps=3, checkpoint_every=3), tmp_path / "a", finish=False)
    b = loop.train(small_config(num_steps=3, checkpoint_every=3), tmp_path / "b", finish=False)
    c = loop.train(small_config(num_steps=3, checkpoint_every=3, seed=1), tmp_path / "c", finish=False)
    assert same_leaves(a["state"].params, b["state"].params)
    assert not same_leaves(a["state"].params, c["state"].params)


@pytest.mark.parametrize("method", ["vae", "annealed_vae"])
def test_other_configs_train_without_nan(tmp_path, method):
    result = loop.train(small_config(method, num_steps=10, checkpoint_every=10), tmp_path, finish=False)
    assert np.isfinite(result["metrics"]["loss"])
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["method"] == method
