"""Melnyk et al. (2018)'s attribute transfer: Eq. 2 against an explicit loop over positions, Eq. 7's
weights (a zero weight removes exactly its term's gradient), the gradient routes of the sampled
sentences (straight-through into the encoder and the decoder, none when stopped), the encoder's two
input forms, and the method through the loop, a resume and `disentax evaluate`."""
import functools
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from disentax import cli
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods import attribute_transfer as at
from disentax.objectives.attribute_transfer import (
    TERMS,
    attribute_cross_entropy,
    attribute_transfer_objective,
    noun_alignment,
    noun_preservation_loss,
)
from disentax.train.logging import read_json

from helpers import configure, straight_and_resumed, tiny_config

# ----------------------------------------------------------------------------- Eq. 2 by hand


def _eq2_by_loop(log_probs, attention, source, noun_mask, target_mask):
    """Eq. 2 as the paper states it, one position at a time (float64)."""
    b_size, l_out, _ = attention.shape
    total, nouns, hits = 0.0, 0, 0
    for b in range(b_size):
        real = [r2 for r2 in range(l_out) if target_mask[b, r2]]
        for r in range(source.shape[1]):
            if not noun_mask[b, r] or not real:
                continue
            best = real[0]
            for r2 in real:  # the earliest of the most-attending real output steps
                if attention[b, r2, r] > attention[b, best, r]:
                    best = r2
            total += -float(log_probs[b, best, source[b, r]])
            nouns += 1
            hits += int(np.argmax(log_probs[b, best]) == source[b, r])
    return total / b_size, nouns, hits


def _tiny_case(seed=0, b=4, l_out=6, l_src=5, v=7):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(b, l_out, v)) * 2
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    attention = rng.dirichlet(np.ones(l_src), size=(b, l_out))
    source = rng.integers(0, v, size=(b, l_src))
    noun_mask = rng.uniform(size=(b, l_src)) < 0.4
    noun_mask[0] = False  # a sentence without nouns
    noun_mask[1, 0] = True
    target_len = np.array([l_out, 3, 1, 4])[:b]
    target_mask = np.arange(l_out)[None] < target_len[:, None]
    return (log_probs.astype(np.float32), attention.astype(np.float32), source, noun_mask, target_mask)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noun_preservation_equals_the_loop_over_positions(seed):
    case = _tiny_case(seed)
    loss, aux = noun_preservation_loss(*(jnp.asarray(a) for a in case))
    want, nouns, hits = _eq2_by_loop(*case)
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)
    np.testing.assert_allclose(float(aux["nouns_per_sentence"]), nouns / case[0].shape[0], rtol=1e-6)
    np.testing.assert_allclose(float(aux["noun_accuracy"]), hits / nouns, rtol=1e-6)
    np.testing.assert_allclose(float(aux["noun_nll"]), want * case[0].shape[0] / nouns, rtol=1e-5)


def test_a_noun_whose_attention_peaks_on_padding_is_aligned_to_a_real_step():
    # One sentence, output of 2 real steps then padding; the noun at source position 1 is attended most
    # by padding step 3, then by real step 1, then real step 0.
    attention = np.zeros((1, 4, 3), np.float32)
    attention[0, :, 1] = [0.2, 0.3, 0.1, 0.9]
    log_probs = np.log(np.full((1, 4, 5), 0.2, np.float32))
    log_probs[0, 1, 4] = np.log(0.6)
    log_probs[0, 3, 4] = np.log(0.99)  # what the padding step would have scored
    source = np.array([[0, 4, 2]])
    noun_mask = np.array([[False, True, False]])
    target_mask = np.array([[True, True, False, False]])
    args = (jnp.asarray(log_probs), jnp.asarray(attention), jnp.asarray(source), jnp.asarray(noun_mask))
    assert noun_alignment(jnp.asarray(attention), jnp.asarray(target_mask))[0, 1] == 1
    loss, aux = noun_preservation_loss(*args, jnp.asarray(target_mask))
    np.testing.assert_allclose(float(loss), -np.log(0.6), rtol=1e-6)
    assert float(aux["noun_accuracy"]) == 1.0
    # An output without a single real step has nothing to align to: no term, and no NaN.
    loss, aux = noun_preservation_loss(*args, jnp.zeros((1, 4), bool))
    assert float(loss) == 0.0 and float(aux["nouns_per_sentence"]) == 0.0 and float(aux["noun_accuracy"]) == 1.0


def test_without_nouns_eq2_is_zero_with_zero_gradient_and_extreme_log_probs_stay_finite():
    log_probs, attention, source, _, target_mask = _tiny_case(3)
    no_nouns = np.zeros_like(source, bool)
    grad_fn = jax.grad(lambda lp: noun_preservation_loss(lp, attention, source, no_nouns, target_mask)[0])
    assert float(noun_preservation_loss(log_probs, attention, source, no_nouns, target_mask)[0]) == 0.0
    assert not np.any(np.asarray(grad_fn(jnp.asarray(log_probs))))
    # A word of probability e^-80 at the aligned step: the loss is exactly its 80 nats.
    nouns = np.zeros_like(no_nouns)
    nouns[2, 0] = True
    lp = np.full_like(log_probs, -80.0)
    loss, _ = noun_preservation_loss(jnp.asarray(lp), attention, source, nouns, target_mask)
    np.testing.assert_allclose(float(loss), 80.0 / lp.shape[0], rtol=1e-6)


def test_eq2_gradient_is_minus_one_over_b_at_exactly_the_aligned_entries():
    case = _tiny_case(4)
    log_probs, attention, source, noun_mask, target_mask = case
    grad = np.asarray(jax.grad(lambda lp: noun_preservation_loss(lp, *case[1:])[0])(jnp.asarray(log_probs)))
    want = np.zeros_like(log_probs)
    aligned = np.asarray(noun_alignment(jnp.asarray(attention), jnp.asarray(target_mask)))
    for b in range(source.shape[0]):
        for r in range(source.shape[1]):
            if noun_mask[b, r] and target_mask[b].any():
                want[b, aligned[b, r], source[b, r]] -= 1.0 / source.shape[0]
    np.testing.assert_allclose(grad, want, atol=1e-7)


# ----------------------------------------------------------------------------- Eqs. 3-4-6 and Eq. 7


def test_classifier_cross_entropy_and_eq7_weighted_sum():
    logits = np.array([[2.0, -1.0], [0.0, 0.0], [-50.0, 50.0]], np.float32)
    labels = np.array([0, 1, 0])
    loss, aux = attribute_cross_entropy(jnp.asarray(logits), jnp.asarray(labels))
    want = np.mean([np.logaddexp(2, -1) - 2, np.log(2), 100.0])
    np.testing.assert_allclose(float(loss), want, rtol=1e-6)
    np.testing.assert_allclose(float(aux["accuracy"]), 1 / 3, rtol=1e-6)

    terms = {k: jnp.asarray(float(i + 1)) for i, k in enumerate(TERMS)}
    weights = dict(zip(TERMS, (0.5, 0.0, 2.0, 1.0, 3.0, 0.25)))
    loss, aux = attribute_transfer_objective(terms, weights)
    np.testing.assert_allclose(float(loss), 0.5 * 1 + 2 * 3 + 4 + 3 * 5 + 0.25 * 6)
    assert {k: float(v) for k, v in aux.items()} == {k: float(i + 1) for i, k in enumerate(TERMS)}
    with pytest.raises(ValueError, match="Eq. 7 takes exactly the terms"):
        attribute_transfer_objective({k: terms[k] for k in TERMS[:5]}, weights)


# ----------------------------------------------------------------------------- the networks and routes


@pytest.fixture(scope="module")
def tiny():
    dataset = get_dataset("sentiment_text")
    hp = ml_collections.ConfigDict(dict(embed_dim=8, hidden=8, cell="gru", classifier_heights=(3,),
                                        classifier_filters=4))
    nets = at.build_networks(hp, dataset)
    batch = dataset.sample(jax.random.PRNGKey(0), 6)
    batch = {k: batch[k] for k in ("tokens", "length", "sentiment", "noun_mask")}
    params = nets.init(jax.random.PRNGKey(1), batch["tokens"][:1], batch["length"][:1], batch["sentiment"][:1])
    return dataset, nets, batch, params["params"]


def test_the_encoder_reads_tokens_and_one_hot_sentences_alike(tiny):
    dataset, nets, batch, params = tiny
    enc = lambda x: nets.apply({"params": params}, x, batch["length"], batch["sentiment"],  # noqa: E731
                               method=at.AttributeTransferNetworks.encode)
    (h_int, m_int), (h_hot, m_hot) = enc(batch["tokens"]), enc(jax.nn.one_hot(batch["tokens"], dataset.vocab.size))
    np.testing.assert_allclose(np.asarray(h_int), np.asarray(h_hot), atol=1e-6)
    assert np.array_equal(np.asarray(m_int), np.asarray(m_hot))
    assert np.array_equal(np.asarray(m_int), np.arange(16)[None] < np.asarray(batch["length"])[:, None])
    # The attribute is read: the other value gives other states.
    h_other, _ = nets.apply({"params": params}, batch["tokens"], batch["length"], 1 - batch["sentiment"],
                            method=at.AttributeTransferNetworks.encode)
    assert not np.allclose(np.asarray(h_other), np.asarray(h_int))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _grad_of(nets, params, batch, weights, soft):
    return jax.grad(lambda q: at.transfer_losses(nets, q, batch, jax.random.PRNGKey(7), weights=weights,
                                                 soft_gradients=soft)[0])(params)


def _grads(nets, params, batch, weights, soft=True):
    """The gradient of Eq. 7 in every parameter; the weights traced, so one compilation serves them all."""
    return _grad_of(nets, params, batch, {k: jnp.asarray(v, jnp.float32) for k, v in weights.items()}, soft)


def test_a_zero_weight_removes_exactly_its_terms_gradient(tiny):
    _, nets, batch, params = tiny
    ones = dict.fromkeys(TERMS, 1.0)
    full = _grads(nets, params, batch, ones)
    for k in TERMS:
        without = _grads(nets, params, batch, {**ones, k: 0.0})
        alone = _grads(nets, params, batch, {**dict.fromkeys(TERMS, 0.0), k: 1.0})
        assert any(np.any(np.asarray(a) != 0) for a in jax.tree.leaves(alone)), k
        for f, w, a in zip(jax.tree.leaves(full), jax.tree.leaves(without), jax.tree.leaves(alone)):
            f, w, a = (np.asarray(v, np.float64) for v in (f, w, a))
            np.testing.assert_allclose(f - w, a, atol=2e-5 * max(1.0, np.abs(f).max()), err_msg=k)


def test_back_transfer_reaches_the_encoder_through_the_sampled_sentence_only_when_not_stopped(tiny):
    dataset, nets, batch, params = tiny
    # Every source negative: the encoder's attribute-0 token and the decoder's condition 1 are read only by
    # the forward transfer E(x, 0) -> G(., 1); Eq. 5 reads E(x̂, 1) and G(., 0). Their gradients under
    # L_back_rec alone must come through x̂.
    batch = {**batch, "sentiment": jnp.zeros_like(batch["sentiment"])}
    v = dataset.vocab.size
    only = {**dict.fromkeys(TERMS, 0.0), "back_rec": 1.0}
    soft = _grads(nets, params, batch, only)
    stopped = _grads(nets, params, batch, only, soft=False)
    assert np.abs(np.asarray(soft["encoder"]["embedding"][v + 0])).max() > 0
    assert np.abs(np.asarray(soft["decoder"]["condition_embedding"][1])).max() > 0
    assert not np.any(np.asarray(stopped["encoder"]["embedding"][v + 0]))
    assert not np.any(np.asarray(stopped["decoder"]["condition_embedding"][1]))
    # The second pass learns either way; the classifier takes no part in Eq. 5.
    assert np.abs(np.asarray(stopped["encoder"]["embedding"][v + 1])).max() > 0
    for g in (soft, stopped):
        assert not any(np.any(np.asarray(a)) for a in jax.tree.leaves(g["classifier"]))
    # Eq. 3 (C on x̂): the decoder learns from C only through the sample; C learns either way.
    only = {**dict.fromkeys(TERMS, 0.0), "class_td": 1.0}
    soft, stopped = _grads(nets, params, batch, only), _grads(nets, params, batch, only, soft=False)
    assert any(np.any(np.asarray(a)) for a in jax.tree.leaves(soft["decoder"]))
    assert not any(np.any(np.asarray(a)) for a in jax.tree.leaves(stopped["decoder"]))
    assert not any(np.any(np.asarray(a)) for a in jax.tree.leaves(stopped["encoder"]))
    assert any(np.any(np.asarray(a)) for a in jax.tree.leaves(stopped["classifier"]))


# ----------------------------------------------------------------------------- the method


def test_config_holds_the_choices_and_refuses_bad_values():
    c = configure("attribute_transfer_sentiment_text")
    hp = c.attribute_transfer
    assert c.dataset == "sentiment_text" and c.method == "attribute_transfer"
    assert all(hp[f"lambda_{k}"] == 1.0 for k in TERMS) and hp.temperature == 1.0 and hp.soft_gradients
    assert at.PAPER_TABLE_1["yelp"]["melnyk_et_al"] == {"sentiment": 94.4, "content": 77.1, "perplexity": 80.1}
    assert at.PAPER_TABLE_1["amazon"]["shen_et_al"]["sentiment"] == 32.8
    with pytest.raises(ConfigError, match="attribute_transfer.temperature"):
        configure("attribute_transfer_sentiment_text", **{"hp.temperature": 0.0})
    with pytest.raises(ConfigError, match="attribute_transfer.lambda_cnt_rec"):
        configure("attribute_transfer_sentiment_text", **{"hp.lambda_cnt_rec": -1.0})
    with pytest.raises(ConfigError, match="at least one of the weights"):
        configure("attribute_transfer_sentiment_text", **{f"hp.lambda_{k}": 0.0 for k in TERMS})


def test_trains_resumes_exactly_and_evaluate_writes_the_evaluation(tmp_path, monkeypatch, capsys):
    c = tiny_config("attribute_transfer")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["loss"]) and all(np.isfinite(r[k]) for k in TERMS) for r in rows)
    assert sorted(p.name for p in straight["pictures"]) == ["attention.png", "transfers.md"]
    assert "| source sentiment |" in (tmp_path / "straight" / "transfers.md").read_text()
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["step"] == 4 and written["num"] == 20
    for k in ("sentiment", "content", "perplexity"):
        assert np.isfinite(written["table_1"][k])
    assert 0 <= written["table_1"]["content"] <= 100
    assert written["table_1"]["content"] == 100 * written["any_noun_kept"]
    assert written["paper_table_1"]["yelp"]["melnyk_et_al"]["content"] == 77.1
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'attribute_transfer'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["num"] == 20
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3
