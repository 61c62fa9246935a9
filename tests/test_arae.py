"""ARAE (Zhao, Kim, Zhang, Rush & LeCun (2018)): its losses against numpy, Alg. 1's blocks each
updating exactly their own parameters, the critic's clipping, the plain-AE config, the decoders'
routing, resume and `disentax evaluate`."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods import arae
from disentax.objectives import adversarial
from disentax.objectives import arae as obj
from disentax.train.logging import read_json

from helpers import METHOD_TINY, TINY_MODEL, configure, same_leaves, straight_and_resumed, tiny_config


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


# ----------------------------------------------------------------------------- losses


def test_code_adversary_loss_is_the_negative_critic_loss():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=7).astype(np.float32), rng.normal(size=5).astype(np.float32)
    real[0], fake[1] = 1e6, -1e6  # extreme scores: still the plain difference of means
    loss, aux = obj.code_adversary_loss(jnp.asarray(real), jnp.asarray(fake))
    want = real.astype(np.float64).mean() - fake.astype(np.float64).mean()
    np.testing.assert_allclose(float(loss), want, rtol=1e-6)
    np.testing.assert_allclose(float(aux["wasserstein"]), want, rtol=1e-6)
    critic, _ = adversarial.wgan_critic_loss(jnp.asarray(real), jnp.asarray(fake))  # Alg. 1 (2): −mean f(c) + mean f(c̃)
    np.testing.assert_allclose(float(critic), -want, rtol=1e-6)
    # ∂/∂real_i = 1/B, ∂/∂fake_j = −1/B'
    g_real, g_fake = jax.grad(lambda r, f: obj.code_adversary_loss(r, f)[0], argnums=(0, 1))(real, fake)
    np.testing.assert_allclose(np.asarray(g_real), np.full(7, 1 / 7), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(g_fake), np.full(5, -1 / 5), rtol=1e-6)
    with pytest.raises(ValueError, match="real_scores"):
        obj.code_adversary_loss(jnp.zeros((3, 1)), jnp.zeros(3))


def test_classifier_and_confusion_losses_match_numpy_at_extreme_logits():
    logits = np.array([[2.0, -1.0], [0.3, 0.3], [1e4, -1e4], [-1e4, 1e4], [-50.0, 20.0]], np.float32)
    labels = np.array([0, 1, 1, 1, 0])
    logp = _log_softmax(logits)
    loss, aux = obj.code_classifier_loss(jnp.asarray(logits), jnp.asarray(labels))
    np.testing.assert_allclose(float(loss), -np.mean(logp[np.arange(5), labels]), rtol=1e-6)
    # argmax: [0, 0 (tie), 0, 1, 1] against labels [0, 1, 1, 1, 0]
    assert float(aux["accuracy"]) == pytest.approx(2 / 5)
    loss_c, aux_c = obj.classifier_confusion_loss(jnp.asarray(logits), jnp.asarray(labels))
    np.testing.assert_allclose(float(loss_c), -np.mean(logp[np.arange(5), 1 - labels]), rtol=1e-6)
    assert float(aux_c["fooled"]) == pytest.approx(3 / 5)
    assert np.isfinite(float(loss)) and float(loss) > 1e3  # row 2: −log p(1|c) = 2e4 nats, not inf
    for fn in (obj.code_classifier_loss, obj.classifier_confusion_loss):
        g = np.asarray(jax.grad(lambda x: fn(x, jnp.asarray(labels))[0])(jnp.asarray(logits)))
        assert np.all(np.isfinite(g))
        # ∂/∂logits of a mean cross-entropy: (softmax − onehot) / B
        target = labels if fn is obj.code_classifier_loss else 1 - labels
        want = (np.exp(logp) - np.eye(2)[target]) / 5
        np.testing.assert_allclose(g, want, atol=1e-6)
    with pytest.raises(ValueError, match="binary"):
        obj.code_classifier_loss(jnp.zeros((2, 3)), jnp.zeros(2, jnp.int32))


def test_unit_sphere():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1e-20, 0.0], [-1e20, 1e20], [1e-9, -1e-9]], np.float32)
    y = np.asarray(obj.unit_sphere(jnp.asarray(x)))
    np.testing.assert_allclose(y[0], [0.6, 0.8], rtol=1e-6)
    assert np.all(y[1] == 0)
    np.testing.assert_allclose(y[2], [1e-8, 0.0], rtol=1e-6)  # below eps = 1e-12: c / eps
    np.testing.assert_allclose(y[3], [-2 ** -0.5, 2 ** -0.5], rtol=1e-6)  # the squares would overflow
    np.testing.assert_allclose(y[4], [2 ** -0.5, -2 ** -0.5], rtol=1e-6)
    # The Jacobian of c/‖c‖ is (I − u uᵀ)/‖c‖: the gradient of u·a is (a − (u·a) u)/‖c‖.
    a = np.array([0.3, -1.0], np.float32)
    for row in (x[0], x[4]):
        g = np.asarray(jax.grad(lambda c: jnp.dot(obj.unit_sphere(c), a))(jnp.asarray(row)))
        r = row.astype(np.float64)
        u = r / np.linalg.norm(r)
        np.testing.assert_allclose(g, (a - (u @ a) * u) / np.linalg.norm(r), rtol=1e-5)
    g = jax.grad(lambda c: jnp.sum(obj.unit_sphere(c) ** 2))(jnp.asarray(x))
    assert np.all(np.isfinite(np.asarray(g)))


# ----------------------------------------------------------------------------- the blocks of Alg. 1


def _tiny(name="arae_sentiment_text", **settings):
    return configure(name, **{**TINY_MODEL, **METHOD_TINY["arae"], **settings})


@pytest.fixture(scope="module")
def built():
    c = _tiny()
    dataset = get_dataset(c.dataset)
    blocks = arae.make_blocks(c, dataset)
    key = jax.random.PRNGKey(0)
    batch = jax.jit(lambda k: blocks.sample_batch(k, 8))(key)
    state = jax.jit(blocks.init_state)(key, batch)
    return c, dataset, blocks, batch, state


def test_batches_are_balanced_and_hold_one_minibatch_per_block(built):
    c, dataset, blocks, batch, _ = built
    k = c.arae.critic_steps
    assert blocks.slots == {"autoencoder": (0,), "critic": tuple(range(1, 1 + k)), "classifier": (1 + k,),
                            "adversarial": (2 + k,), "confusion": (3 + k,)}
    assert batch["tokens"].shape == (8, 4 + k, dataset.max_length)
    s = np.asarray(batch["sentiment"])
    assert np.all(s[:4] == 0) and np.all(s[4:] == 1)
    # the exact sentiment of every drawn sentence agrees with its label
    flat = np.asarray(batch["tokens"]).reshape(-1, dataset.max_length)
    assert np.all(dataset.sentiment_of(flat) == s.reshape(-1))
    # fresh sentences per block: not one minibatch repeated
    assert not np.array_equal(np.asarray(batch["tokens"])[:, 0], np.asarray(batch["tokens"])[:, 1])


def _parts(state):
    parts = {"opt_state": state.opt_state, **{f"params.{n}": v for n, v in state.params.items()}}
    parts.update({f"extra.{n}": v for n, v in state.extra.items()})
    return parts


@pytest.mark.parametrize("block, touched", [
    ("autoencoder_step", {"params.encoder", "params.decoder_0", "params.decoder_1", "opt_state"}),
    ("critic_step", {"extra.critic"}),
    ("classifier_step", {"extra.classifier"}),
    ("adversarial_step", {"params.encoder", "extra.generator", "extra.encoder_adversarial"}),
    ("confusion_step", {"params.encoder", "extra.encoder_confusion"}),
])
def test_each_block_updates_exactly_its_own_parameters(built, block, touched):
    """Alg. 1: (1) φ, ψ; (2) w; (2b) u; (3) φ, θ; (3b) φ. Every other network bit for bit unchanged."""
    _, _, blocks, batch, state = built
    after, metrics = jax.jit(getattr(blocks, block))(state, arae.minibatch(batch, 0), jax.random.PRNGKey(1))
    before_parts, after_parts = _parts(state), _parts(after)
    assert set(before_parts) == set(after_parts) == {
        "opt_state", "params.encoder", "params.decoder_0", "params.decoder_1", "extra.generator", "extra.critic",
        "extra.classifier", "extra.encoder_adversarial", "extra.encoder_confusion"}
    for name in before_parts:
        same = same_leaves(before_parts[name], after_parts[name])
        assert same != (name in touched), f"{block}: {name} {'unchanged' if same else 'changed'}"
    assert int(after.step) == int(state.step)  # the step counts iterations, advanced by train_step
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_train_step_runs_the_blocks_in_order(built):
    """train_step = (1), (2) × k, (2b), (3), (3b) on the batch's minibatches, then step + 1."""
    c, _, blocks, batch, state = built
    key = jax.random.PRNGKey(2)
    got, metrics = jax.jit(blocks.train_step)(state, batch, key)

    @jax.jit
    def by_hand(s, batch, key):
        keys = jax.random.split(key, 5)
        s, _ = blocks.autoencoder_step(s, arae.minibatch(batch, 0), keys[0])
        for i, j in enumerate(blocks.slots["critic"]):
            s, _ = blocks.critic_step(s, arae.minibatch(batch, j), jax.random.fold_in(keys[1], i))
        s, _ = blocks.classifier_step(s, arae.minibatch(batch, blocks.slots["classifier"][0]), keys[2])
        s, _ = blocks.adversarial_step(s, arae.minibatch(batch, blocks.slots["adversarial"][0]), keys[3])
        s, _ = blocks.confusion_step(s, arae.minibatch(batch, blocks.slots["confusion"][0]), keys[4])
        return s

    s = by_hand(state, batch, key)
    assert int(got.step) == 1
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(s.replace(step=s.step + 1))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert {"loss", "critic_loss", "wasserstein", "classifier_loss", "adversary_loss", "confusion_loss"} <= set(metrics)


def test_critic_weights_are_clipped_after_its_update(built):
    c, _, blocks, batch, state = built
    eps = c.arae.clip
    assert max(float(jnp.max(jnp.abs(w))) for w in jax.tree.leaves(state.extra["critic"]["params"])) > eps
    after, _ = jax.jit(blocks.critic_step)(state, arae.minibatch(batch, 1), jax.random.PRNGKey(3))
    after, _ = jax.jit(blocks.train_step)(after, batch, jax.random.PRNGKey(4))
    for w in jax.tree.leaves(after.extra["critic"]["params"]):
        # `clip_params`: within one rounding of the addition of ε
        assert float(jnp.max(jnp.abs(w))) <= eps * (1 + 1e-6)


def test_reconstruction_routes_each_half_to_its_own_decoder(built):
    """L_rec = ½ (mean NLL of decoder 0 on the negatives + of decoder 1 on the positives), each the
    summed token NLL of a sentence, against an explicit numpy loop."""
    _, _, blocks, batch, state = built
    nets, mb = blocks.networks, arae.minibatch(batch, 0)
    _, metrics = jax.jit(blocks.autoencoder_step)(state, mb, jax.random.PRNGKey(0))
    codes = nets.encode(state.params["encoder"], mb["tokens"], mb["length"])
    tokens, lengths = np.asarray(mb["tokens"]), np.asarray(mb["length"])
    per_sentence = []
    for i in range(8):
        value = int(mb["sentiment"][i])
        logp = _log_softmax(nets.logits(state.params, value, codes[i:i + 1], mb["tokens"][i:i + 1])[0])
        per_sentence.append(-sum(logp[t, tokens[i, t]] for t in range(lengths[i])))
    want = 0.5 * (np.mean(per_sentence[:4]) + np.mean(per_sentence[4:]))
    np.testing.assert_allclose(float(metrics["loss"]), want, rtol=1e-5)


def test_lambda_weights_the_encoders_adversarial_gradient():
    """Block (3b) under SGD without clipping: the encoder's step is λ(2) times the gradient step."""
    steps = {}
    for lam in (1.0, 0.25):
        c = _tiny(**{"hp.lambda_class": lam, "optimizer.grad_clip": 0.0})
        dataset = get_dataset(c.dataset)
        blocks = arae.make_blocks(c, dataset)
        batch = blocks.sample_batch(jax.random.PRNGKey(0), 8)
        state = blocks.init_state(jax.random.PRNGKey(0), batch)
        after, _ = blocks.confusion_step(state, arae.minibatch(batch, 0), jax.random.PRNGKey(1))
        steps[lam] = jax.tree.map(lambda a, b: np.asarray(a) - np.asarray(b), after.params["encoder"],
                                  state.params["encoder"])
    for a, b in zip(jax.tree.leaves(steps[1.0]), jax.tree.leaves(steps[0.25])):
        # (p + Δ) − p in float32: Δ up to one rounding of p (|p| ≲ 1)
        np.testing.assert_allclose(b, 0.25 * a, rtol=1e-3, atol=2e-7)
    assert max(float(np.max(np.abs(a))) for a in jax.tree.leaves(steps[1.0])) > 0


def test_transfer_decodes_with_the_target_decoder(built):
    _, dataset, blocks, batch, state = built
    nets, mb = blocks.networks, arae.minibatch(batch, 0)
    target = 1 - np.asarray(mb["sentiment"])
    out = arae.transfer_tokens(nets, state.params, mb["tokens"], mb["length"], target)
    codes = nets.encode(state.params["encoder"], mb["tokens"], mb["length"])
    for value in (0, 1):
        rows = target == value
        np.testing.assert_array_equal(out[rows], np.asarray(nets.greedy(state.params, value, codes))[rows])
    assert out.shape == (8, dataset.max_length) and out.dtype == np.int32


def test_the_plain_autoencoder_config_skips_the_adversarial_blocks():
    c = _tiny("arae_ae_sentiment_text")
    assert (c.arae.lambda_adv, c.arae.lambda_class) == (0.0, 0.0)
    blocks = arae.make_blocks(c, get_dataset(c.dataset))
    assert blocks.slots == {"autoencoder": (0,)}
    assert (blocks.critic_step, blocks.classifier_step, blocks.adversarial_step, blocks.confusion_step) == (None,) * 4
    batch = blocks.sample_batch(jax.random.PRNGKey(0), 8)
    assert batch["tokens"].shape[1] == 1
    state = blocks.init_state(jax.random.PRNGKey(0), batch)
    assert state.extra == {}  # no generator, critic, classifier or their optimisers
    key = jax.random.PRNGKey(5)
    got, metrics = jax.jit(blocks.train_step)(state, batch, key)
    assert set(metrics) == {"loss", "token_nll", "token_accuracy", "grad_norm"}
    want, _ = blocks.autoencoder_step(state, arae.minibatch(batch, 0), jax.random.split(key, 5)[0])
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- configs and the run


def test_configs_hold_the_papers_values_and_refuse_bad_ones():
    c = configure("arae_sentiment_text")
    hp = c.arae
    assert c.dataset == "sentiment_text" and hp.lambda_class == 1.0  # Sec. 3: "we always set λ(2) = 1"
    assert hp.lambda_adv > 0 and hp.clip > 0 and hp.critic_steps >= 1
    ae = configure("arae_ae_sentiment_text")
    same = {k: v for k, v in ae.arae.items() if k not in ("lambda_adv", "lambda_class")}
    assert same == {k: v for k, v in hp.items() if k not in ("lambda_adv", "lambda_class")}
    assert (ae.optimizer.to_dict(), ae.batch_size, ae.num_steps) == (c.optimizer.to_dict(), c.batch_size, c.num_steps)
    # `configure` edits the config it is given: a fresh one each time
    with pytest.raises(ConfigError, match="arae.lambda_class"):
        configure("arae_sentiment_text", **{"hp.lambda_class": -1.0})
    with pytest.raises(ConfigError, match="batch_size must be even"):
        configure("arae_sentiment_text", batch_size=7)
    with pytest.raises(ConfigError, match="sentiment"):
        methods.build(configure("arae_sentiment_text", dataset="dsprites"), get_dataset("dsprites"))


def test_trains_resumes_exactly_and_evaluate_prints_the_not_applicable_line(tmp_path, monkeypatch, capsys):
    c = tiny_config("arae")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["wasserstein"]) for r in rows)
    assert sorted(p.name for p in straight["pictures"]) == ["codes.png", "transfers.md"]
    assert "| direction | source |" in (tmp_path / "straight" / "transfers.md").read_text()
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["step"] == 4 and written["row"] == "ARAE" and written["num"] == 20
    for key in ("transfer_accuracy", "bleu_source", "perplexity", "reverse_perplexity"):
        assert written["table_1"][key] == written[key]
    assert 0 <= written["code_sentiment_probe"] <= 1 and 0 <= written["code_classifier_accuracy"] <= 1
    assert written["paper_table_1"]["AE"] == {"transfer_accuracy": 0.593, "bleu_source": 37.28, "perplexity": 31.9,
                                              "reverse_perplexity": 68.9}
    assert written["paper_table_1"]["ARAE lambda_b"]["transfer_accuracy"] == 0.818
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'arae'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["row"] == "ARAE"
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3
