"""The GAN methods (dcgan and its WGAN variants, sd_gan, icm) through the loop and `disentax evaluate`,
and their evaluations against hand-made judges."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import methods
from disentax.data.registry import get_dataset
from disentax.evaluation.verification import same_identity_probability, verification_scores
from disentax.methods.icm import specialised, win_matrix
from disentax.runner import evaluate as run_evaluate
from disentax.train.logging import read_json

from helpers import configure, same_leaves, straight_and_resumed, tiny_config


@pytest.mark.parametrize("name", ["sd_gan", "icm"])
def test_trains_resumes_exactly_and_evaluate_says_why_no_metric_applies(name, tmp_path, monkeypatch):
    # icm: identity steps 0-1, competing from step 2, so the resume at 2 crosses the switch.
    straight, rows = straight_and_resumed(tiny_config(name), tmp_path, 2, monkeypatch)
    # (A metric not measured at a step, the critic's during icm's identity phase, is written as "nan".)
    finite = lambda v: isinstance(v, float) and np.isfinite(v)  # noqa: E731
    assert all(finite(r["loss"]) and finite(r["grad_norm"]) and finite(r["critic_loss"]) == (name != "icm" or r["step"] > 2)
               for r in rows)
    assert straight["pictures"] and all(p.exists() for p in straight["pictures"])
    assert read_json(tmp_path / "straight" / "evaluation.json")["step"] == 4

    record = run_evaluate.evaluate_run(tmp_path / "straight", seed=3)
    assert record["code"] is None and "\n" not in record["not_applicable"]
    assert f"do not apply to method {name!r}" in record["not_applicable"]
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3


def test_icm_identity_phase_leaves_the_discriminator_alone_then_only_winners_move():
    c = tiny_config("icm", **{"hp.identity_steps": 1})
    method = methods.build(c, get_dataset(c.dataset))
    batch = jax.jit(lambda k: method.sample_batch(k, 8))(jax.random.PRNGKey(0))
    state = jax.jit(method.init_state)(jax.random.PRNGKey(1), batch)
    step = jax.jit(method.train_step)
    s1, m1 = step(state, batch, jax.random.PRNGKey(2))
    assert same_leaves(s1.extra["critics"], state.extra["critics"])  # step 0: identity training only
    assert np.isnan(m1["critic_loss"]) and np.isfinite(m1["identity_error"])
    assert not same_leaves(s1.params, state.params)
    s2, m2 = step(s1, batch, jax.random.PRNGKey(3))  # step 1: competing
    assert not same_leaves(s2.extra["critics"], s1.extra["critics"]) and np.isfinite(m2["critic_loss"])


def test_wgan_clips_the_critic_and_wgan_gp_critic_has_no_batch_norm():
    c = configure("wgan_identity_sprites", **{"hp.base": 4, "hp.latent_dim": 8, "hp.identity_dim": 4,
                                              "hp.critic_steps": 2, "batch_size": 4,
                                              "hp.critic.optimizer.learning_rate": 0.5})
    method = methods.build(c, get_dataset(c.dataset))
    batch = jax.jit(lambda k: method.sample_batch(k, 4))(jax.random.PRNGKey(0))
    assert batch["x"].shape[:2] == (4, 2)  # one real minibatch per critic update, on axis 1
    state = jax.jit(method.init_state)(jax.random.PRNGKey(1), batch)
    new, _ = jax.jit(method.train_step)(state, batch, jax.random.PRNGKey(2))
    leaves = jax.tree.leaves(new.extra["critics"]["critic"]["params"])
    assert max(float(jnp.max(jnp.abs(a))) for a in leaves) <= 0.01 * (1 + 1e-6)
    gp = configure("wgan_gp_identity_sprites", **{"hp.base": 4, "hp.latent_dim": 8, "hp.identity_dim": 4})
    critic = methods.gan._dcgan_parts(gp, get_dataset(gp.dataset))[1]
    assert critic.batch_norm is False


def test_gan_configs_hold_the_published_defaults():
    sd = configure("sd_gan_identity_sprites")
    assert (sd.sd_gan.identity_dim, sd.sd_gan.observation_dim, sd.batch_size) == (50, 50, 16)
    assert (sd.optimizer.learning_rate, sd.optimizer.b1) == (2e-4, 0.5)
    assert (sd.sd_gan.critic.optimizer.learning_rate, sd.sd_gan.critic.optimizer.b1) == (2e-4, 0.5)
    gp = configure("wgan_gp_identity_sprites")
    assert (gp.dcgan.loss, gp.dcgan.critic_steps, gp.dcgan.gp_weight, gp.optimizer.b1, gp.optimizer.b2) == (
        "wgan_gp", 5, 10.0, 0.0, 0.9)
    w = configure("wgan_identity_sprites")
    assert (w.dcgan.clip, w.optimizer.name, w.optimizer.learning_rate) == (0.01, "rmsprop", 5e-5)
    icm = configure("icm_mechanism_digits")
    assert (icm.icm.num_experts, icm.icm.identity_steps, icm.num_steps, icm.optimizer.learning_rate) == (
        10, 200, 2200, 1e-3)
    with pytest.raises(Exception, match="identity_dim=100 must be below"):
        configure("dcgan_identity_sprites", **{"hp.identity_dim": 100})
    with pytest.raises(Exception, match="needs a dataset with identities"):
        methods.build(configure("sd_gan_identity_sprites", dataset="dsprites"), get_dataset("dsprites"))


class _Judge:
    """A judge that reads the identity factors off a lookup (`probabilities` as a trained one)."""

    def __init__(self, table):
        self.table = table  # image id -> list of per-factor probability rows

    def probabilities(self, ids):
        return [jnp.asarray(np.stack([self.table[int(i)][k] for i in ids])) for k in range(2)]


def test_same_identity_probability_and_verification_against_brute_force():
    rng = np.random.default_rng(0)
    p1 = [rng.dirichlet(np.ones(3), 7), rng.dirichlet(np.ones(4), 7)]
    p2 = [rng.dirichlet(np.ones(3), 7), rng.dirichlet(np.ones(4), 7)]
    brute = [sum(p1[0][b, u] * p1[1][b, v] * p2[0][b, u] * p2[1][b, v] for u in range(3) for v in range(4))
             for b in range(7)]
    np.testing.assert_allclose(same_identity_probability(p1, p2), brute, rtol=1e-6)

    # A judge that knows every image's identity (one-hot rows) verifies perfectly.
    ident = {i: (i % 3, i // 3 % 2) for i in range(12)}
    onehot = {i: [np.eye(3)[a], np.eye(2)[b]] for i, (a, b) in ident.items()}
    x1, x2 = np.arange(12), (np.arange(12) + np.array([0, 1] * 6)) % 12  # partners: itself, or the next one
    same = np.array([ident[a] == ident[b] for a, b in zip(x1, x2)])
    scores = verification_scores(_Judge(onehot), x1, x2, same)
    assert scores == {"auc": 1.0, "accuracy": 1.0, "pairs": 12}
    with pytest.raises(ValueError, match="both same and different"):
        verification_scores(_Judge(onehot), x1, x1, np.ones(12, bool))


def test_specialised_reads_a_permutation_and_nothing_else():
    assert specialised(np.eye(4)[[2, 0, 3, 1]])
    assert not specialised(np.eye(4)[[2, 2, 3, 1]])  # one expert takes two mechanisms
    assert not specialised(0.1 * np.eye(3) + 0.9 / 3)  # nobody holds a majority
    assert specialised(np.eye(3, 5))  # spare experts win nothing


def test_win_matrix_counts_each_mechanisms_winners():
    rng = np.random.default_rng(0)
    mechanism, winner = rng.integers(0, 10, 500), rng.integers(0, 4, 500)
    wins = win_matrix(mechanism, winner, 4)
    for m in range(10):
        for e in range(4):
            assert wins[m, e] == pytest.approx(np.sum((mechanism == m) & (winner == e)) / np.sum(mechanism == m))
    assert np.all(win_matrix(np.zeros(3, int), np.zeros(3, int), 2)[1:] == 0)  # unseen mechanisms: zero rows
