"""The sentence objectives against explicit loops: the masked sequence NLL (extreme logits, length 1,
full length), its soft-target form, the length helpers, and the Gumbel-softmax relaxation (one-hot
forward value, the soft gradient, and its argmax a sample of softmax(logits) in a frequency test)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.objectives.text import (
    EOS,
    PAD,
    gumbel_softmax,
    length_mask,
    lengths_of,
    sequence_nll,
    soft_sequence_nll,
    token_nll,
)

V, L = 5, 4


def _log_softmax64(row):
    row = np.asarray(row, np.float64)
    m = row.max()
    return row - m - math.log(np.exp(row - m).sum())


def _loop_nll(logits, targets, lengths):
    """Per sentence Σ_{t<len} −log softmax, the per-token mean, and argmax accuracy, by hand."""
    per_sentence, tokens, correct = [], [], []
    for b in range(logits.shape[0]):
        total = 0.0
        for t in range(int(lengths[b])):
            nll = -_log_softmax64(logits[b, t])[int(targets[b, t])]
            total += nll
            tokens.append(nll)
            correct.append(float(np.argmax(logits[b, t]) == targets[b, t]))
        per_sentence.append(total)
    return np.mean(per_sentence), np.mean(tokens), np.mean(correct)


def _case(seed=0, batch=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, L, V)).astype(np.float32) * 3
    # extreme logits: a confident right token, a confident wrong one, a tie of huge values
    logits[0, 0] = [1e4, -1e4, 0, 0, 0]
    logits[1, 0] = [-1e4, 1e4, -1e4, 0, 0]
    logits[2, 1] = [1e4, 1e4, -1e4, -1e4, 1e4]
    targets = rng.integers(0, V, size=(batch, L)).astype(np.int32)
    targets[0, 0], targets[1, 0], targets[2, 1] = 0, 0, 1
    lengths = np.array([1, L, 2, 3][:batch], np.int32)  # length 1 and full length
    return logits, targets, lengths


def test_sequence_nll_equals_a_loop_of_log_softmax_over_the_real_tokens():
    logits, targets, lengths = _case()
    loss, aux = sequence_nll(logits, targets, lengths)
    want, token_nll, accuracy = _loop_nll(logits, targets, lengths)
    # sentence 1 pays 2e4 nats for its confident wrong first token: relative tolerance
    np.testing.assert_allclose(float(loss), want, rtol=1e-6)
    np.testing.assert_allclose(float(aux["token_nll"]), token_nll, rtol=1e-6)
    np.testing.assert_allclose(float(aux["token_accuracy"]), accuracy, rtol=1e-6)
    assert np.isinf(float(aux["perplexity"])) or float(aux["perplexity"]) > 1e30
    # without the extreme row the perplexity is finite and exp(token_nll)
    loss2, aux2 = sequence_nll(logits[2:], targets[2:], lengths[2:])
    want2, token_nll2, _ = _loop_nll(logits[2:], targets[2:], lengths[2:])
    np.testing.assert_allclose(float(loss2), want2, rtol=1e-5)
    np.testing.assert_allclose(float(aux2["perplexity"]), math.exp(token_nll2), rtol=1e-5)
    # the tie of three logits at 1e4: −log(1/3) exactly
    _, aux3 = sequence_nll(logits[2:3, 1:2], targets[2:3, 1:2], np.array([1]))
    np.testing.assert_allclose(float(aux3["token_nll"]), math.log(3), rtol=1e-6)


def test_token_nll_is_minus_log_softmax_at_every_position_padding_included():
    logits, targets, _ = _case()
    got = np.asarray(token_nll(logits, targets))
    lg = np.asarray(logits, np.float64)
    for b in range(lg.shape[0]):
        for t in range(lg.shape[1]):
            row = lg[b, t]
            log_z = row.max() + math.log(np.exp(row - row.max()).sum())
            np.testing.assert_allclose(got[b, t], log_z - row[int(targets[b, t])], rtol=1e-6, atol=1e-6)
    # bfloat16 logits are scored in float32
    assert token_nll(jnp.asarray(logits, jnp.bfloat16), targets).dtype == jnp.float32


def test_sequence_nll_ignores_whatever_lies_past_the_length():
    logits, targets, lengths = _case(1)
    loss, aux = sequence_nll(logits, targets, lengths)
    mask = np.asarray(length_mask(lengths, L))
    garbage_logits = np.where(mask[..., None], logits, np.float32(np.nan))
    garbage_targets = np.where(mask, targets, 4)
    loss2, aux2 = sequence_nll(garbage_logits, garbage_targets, lengths)
    assert float(loss2) == float(loss)
    assert all(float(aux2[k]) == float(aux[k]) for k in aux)
    g = jax.grad(lambda z: sequence_nll(z, targets, lengths)[0])(jnp.asarray(logits))
    assert np.all(np.asarray(g)[~mask] == 0) and np.all(np.isfinite(np.asarray(g)))


def test_soft_sequence_nll_is_the_cross_entropy_and_one_hot_targets_give_sequence_nll():
    logits, targets, lengths = _case(2)
    one_hot = jax.nn.one_hot(targets, V)
    loss, aux = sequence_nll(logits, targets, lengths)
    loss_soft, aux_soft = soft_sequence_nll(logits, one_hot, lengths)
    np.testing.assert_allclose(float(loss_soft), float(loss), rtol=1e-6)
    np.testing.assert_allclose(float(aux_soft["token_accuracy"]), float(aux["token_accuracy"]), rtol=1e-6)
    rng = np.random.default_rng(3)
    q = rng.dirichlet(np.ones(V), size=(4, L)).astype(np.float32)
    q[3, 0] = [0, 0, 1, 0, 0]  # zeros against any logit, even −1e4
    logits[3, 0] = [-1e4, -1e4, 0, -1e4, -1e4]
    total = []
    for b in range(4):
        total.append(sum(-(q[b, t] * _log_softmax64(logits[b, t])).sum() for t in range(lengths[b])))
    got, _ = soft_sequence_nll(logits, q, lengths)
    np.testing.assert_allclose(float(got), np.mean(total), rtol=1e-5)
    gq = jax.grad(lambda p: soft_sequence_nll(logits, p, lengths)[0])(jnp.asarray(q))
    assert np.all(np.isfinite(np.asarray(gq)))


def test_length_helpers_by_hand():
    tokens = np.array([[5, 2, 0, 0], [2, 0, 0, 0], [5, 6, 7, 8], [5, 2, 2, 0], [5, 6, 7, 2]])
    np.testing.assert_array_equal(np.asarray(lengths_of(tokens)), [2, 1, 4, 2, 4])
    mask = np.asarray(length_mask(np.array([0, 1, 4]), 4))
    np.testing.assert_array_equal(mask, [[False] * 4, [True, False, False, False], [True] * 4])
    assert EOS == 2 and PAD == 0
    assert lengths_of(jnp.asarray(tokens)).dtype == jnp.int32


def test_gumbel_softmax_hard_is_one_hot_with_the_soft_gradient():
    key = jax.random.key(0)
    logits = jnp.array([[1.0, -2.0, 0.5, 3.0, 0.0], [1e4, -1e4, 0.0, 0.0, 0.0]])
    hard = gumbel_softmax(key, logits, 0.7, hard=True)
    soft = gumbel_softmax(key, logits, 0.7, hard=False)
    h = np.asarray(hard)
    assert set(np.unique(h)) <= {0.0, 1.0} and np.all(h.sum(-1) == 1)
    np.testing.assert_array_equal(h.argmax(-1), np.asarray(soft).argmax(-1))
    np.testing.assert_allclose(np.asarray(soft).sum(-1), 1, rtol=1e-6)
    assert h[1, 0] == 1  # the extreme logit always wins
    w = jnp.asarray(np.random.default_rng(0).normal(size=(2, V)), jnp.float32)
    g_hard = jax.grad(lambda z: (w * gumbel_softmax(key, z, 0.7, True)).sum())(logits)
    g_soft = jax.grad(lambda z: (w * gumbel_softmax(key, z, 0.7, False)).sum())(logits)
    np.testing.assert_array_equal(np.asarray(g_hard), np.asarray(g_soft))
    assert np.all(np.isfinite(np.asarray(g_hard)))


@pytest.mark.parametrize("temperature", [1.0, 0.1])
def test_gumbel_softmax_argmax_is_a_sample_of_softmax(temperature):
    n = 20000
    logits = jnp.array([0.3, -1.0, 1.2, 0.0, -0.4])
    draws = jax.vmap(lambda k: gumbel_softmax(k, logits, temperature, True))(jax.random.split(jax.random.key(7), n))
    freq = np.asarray(draws).mean(axis=0)
    p = np.asarray(jax.nn.softmax(logits), np.float64)
    sd = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 4 * sd), (freq, p)


def test_objectives_jit_equal_eager_and_vmap():
    logits, targets, lengths = _case(4)
    eager = sequence_nll(logits, targets, lengths)
    jitted = jax.jit(sequence_nll)(logits, targets, lengths)
    np.testing.assert_allclose(float(jitted[0]), float(eager[0]), rtol=1e-6)
    q = jax.nn.softmax(jnp.asarray(logits) * 0.3)
    np.testing.assert_allclose(float(jax.jit(soft_sequence_nll)(logits, q, lengths)[0]),
                               float(soft_sequence_nll(logits, q, lengths)[0]), rtol=1e-6)
    per = jax.vmap(lambda z, y, n: sequence_nll(z[None], y[None], n[None])[0])(logits, targets, lengths)
    np.testing.assert_allclose(float(per.mean()), float(eager[0]), rtol=1e-6)
    key = jax.random.key(3)
    np.testing.assert_array_equal(np.asarray(jax.jit(gumbel_softmax, static_argnums=3)(key, logits, 0.5, True)),
                                  np.asarray(gumbel_softmax(key, logits, 0.5, True)))
    np.testing.assert_array_equal(np.asarray(jax.jit(lengths_of)(targets)), np.asarray(lengths_of(targets)))
