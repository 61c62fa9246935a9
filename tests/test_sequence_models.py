"""The sentence networks against explicit loops on a tiny vocabulary (V = 5, L = 4, hidden 3).

GRU and LSTM steps are rewritten in numpy from the cell equations, so teacher forcing, the encoder's
code and the attention decoder are checked against a Python loop over the same parameters; greedy
and Gumbel-softmax decoding against a loop that calls the teacher-forced decoder on each prefix (the
same parameters by construction); the sentence probability against the product of step
probabilities; the masking (encoder code, CNN pooling, attention) by changing what lies past the
lengths; and one-hot distributions against tokens, bit for bit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.models.sequence import (
    AttentionDecoder,
    CNNClassifier,
    CNNSentenceEncoder,
    LanguageModel,
    RNNDecoder,
    RNNEncoder,
    teacher_inputs,
)
from disentax.objectives.text import BOS, EOS, PAD, length_mask, lengths_of, sequence_nll

V, L, H, E = 5, 4, 3, 2
TOKENS = np.array([[4, 3, 2, 0], [3, 4, 4, 2], [2, 0, 0, 0]], np.int32)
LENGTHS = np.array([3, 4, 1], np.int32)


def _np(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _dense(p, x):
    return x @ p["kernel"] + p.get("bias", 0.0)


def _gru(p, h, x):
    r = _sig(_dense(p["ir"], x) + _dense(p["hr"], h))
    z = _sig(_dense(p["iz"], x) + _dense(p["hz"], h))
    n = np.tanh(_dense(p["in"], x) + r * _dense(p["hn"], h))
    return (1 - z) * n + z * h


def _lstm(p, carry, x):
    c, h = carry
    i = _sig(_dense(p["ii"], x) + _dense(p["hi"], h))
    f = _sig(_dense(p["if"], x) + _dense(p["hf"], h))
    g = np.tanh(_dense(p["ig"], x) + _dense(p["hg"], h))
    o = _sig(_dense(p["io"], x) + _dense(p["ho"], h))
    c = f * c + i * g
    return c, o * np.tanh(c)


def _cell_step(kind, p, state, x):
    if kind == "gru":
        state = _gru(p, state, x)
        return state, state
    state = _lstm(p, state, x)
    return state, state[1]


def _initial(kind, p, v):
    a = _dense(p, v)
    return (a[..., :H], np.tanh(a[..., H:])) if kind == "lstm" else np.tanh(a)


def _loop_decoder(kind, p, code, inputs):
    """Teacher forcing by hand: s_t = cell(s_{t−1}, [E[y_{t−1}]; c]), logits_t = W s_t + b."""
    state = _initial(kind, p["initial"], code)
    out = []
    for t in range(inputs.shape[1]):
        x = np.concatenate([p["embedding"][inputs[:, t]], code], axis=-1)
        state, h = _cell_step(kind, p["rnn_cell"], state, x)
        out.append(_dense(p["output"], h))
    return np.stack(out, axis=1)


def _decoder(kind, seed=0, code_dim=4, batch=3):
    code = jax.random.normal(jax.random.key(seed + 100), (batch, code_dim))
    dec = RNNDecoder(V, E, H, cell=kind)
    params = dec.init(jax.random.key(seed), code, teacher_inputs(TOKENS[:batch]))
    return dec, params, code


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_teacher_forced_logits_equal_a_loop_over_the_cell(kind):
    dec, params, code = _decoder(kind)
    inputs = np.asarray(teacher_inputs(TOKENS))
    got = dec.apply(params, code, inputs)
    want = _loop_decoder(kind, _np(params["params"]), np.asarray(code, np.float64), inputs)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    assert inputs[0, 0] == BOS and np.array_equal(inputs[:, 1:], TOKENS[:, :-1])


def test_sentence_probability_is_the_product_of_step_probabilities():
    dec, params, code = _decoder("gru", seed=1)
    for b in range(TOKENS.shape[0]):
        y = TOKENS[b:b + 1]
        logits = dec.apply(params, code[b:b + 1], teacher_inputs(y))
        loss, _ = sequence_nll(logits, y, LENGTHS[b:b + 1])
        product = 1.0
        for t in range(LENGTHS[b]):
            # the decoder run on the prefix y_<t alone: step t's distribution cannot see the future
            prefix = dec.apply(params, code[b:b + 1], teacher_inputs(y)[:, :t + 1])
            row = np.asarray(prefix[0, t], np.float64)
            product *= float(np.exp(row[y[0, t]] - row.max()) / np.exp(row - row.max()).sum())
        np.testing.assert_allclose(np.exp(-float(loss)), product, rtol=1e-5)


def _loop_greedy(dec, params, code, max_length):
    tokens = np.zeros((code.shape[0], 0), np.int32)
    done = np.zeros(code.shape[0], bool)
    for t in range(max_length):
        step = np.asarray(dec.apply(params, code, teacher_inputs(np.pad(tokens, ((0, 0), (0, 1))))))[:, t]
        new = np.where(done, PAD, step.argmax(-1)).astype(np.int32)
        done |= new == EOS
        tokens = np.concatenate([tokens, new[:, None]], axis=1)
    return tokens


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_greedy_is_an_argmax_loop_with_the_teacher_forcing_parameters_and_pads_after_eos(kind):
    dec, params, code = _decoder(kind, seed=2, batch=3)
    code = jax.random.normal(jax.random.key(5), (8, 4)) * 2
    max_length = 6
    # raise the EOS bias until some sentence ends before the last step (a mid-sentence EOS)
    for shift in np.linspace(0, 4, 21):
        p = jax.tree_util.tree_map(lambda a: a, params)
        p["params"]["output"]["bias"] = params["params"]["output"]["bias"].at[EOS].add(shift)
        tokens, logits = dec.apply(p, code, max_length, method=dec.greedy)
        first = np.asarray(lengths_of(tokens))
        if np.any((first > 1) & (first < max_length - 1)):
            break
    else:
        pytest.fail("no EOS in the middle of a sentence")
    tokens = np.asarray(tokens)
    np.testing.assert_array_equal(tokens, _loop_greedy(dec, p, code, max_length))
    for b, n in enumerate(first):
        assert np.all(tokens[b, n:] == PAD) and (n == max_length or tokens[b, n - 1] == EOS)
    forced = dec.apply(p, code, teacher_inputs(tokens))
    np.testing.assert_allclose(np.asarray(logits), np.asarray(forced), atol=1e-6)


def test_soft_decoding_is_a_gumbel_loop_over_the_teacher_forced_decoder():
    dec, params, code = _decoder("gru", seed=3)
    key = jax.random.key(11)
    probs, logits = dec.apply(params, code, L, key, 0.5, method=dec.soft)
    keys = jax.random.split(key, L)
    from disentax.objectives.text import gumbel_softmax
    fed = jnp.zeros((code.shape[0], 0, V))
    done = np.zeros(code.shape[0], bool)
    for t in range(L):
        step = dec.apply(params, code, teacher_inputs(jnp.concatenate([fed, jnp.zeros((code.shape[0], 1, V))], 1)))
        np.testing.assert_allclose(np.asarray(logits[:, t]), np.asarray(step[:, t]), atol=1e-6)
        y = np.asarray(gumbel_softmax(keys[t], step[:, t], 0.5, True))
        y = np.where(done[:, None], np.eye(V)[PAD], y)
        done |= y.argmax(-1) == EOS
        fed = jnp.concatenate([fed, jnp.asarray(y)[:, None]], axis=1)
    np.testing.assert_array_equal(np.asarray(probs), np.asarray(fed))
    p = np.asarray(probs)
    assert set(np.unique(p)) <= {0.0, 1.0} and np.all(p.sum(-1) == 1)
    # the sentence is differentiable in the parameters (straight-through)
    w = jax.random.normal(jax.random.key(1), probs.shape)
    g = jax.grad(lambda q: (w * dec.apply(q, code, L, key, 0.5, method=dec.soft)[0]).sum())(params)
    flat = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(g)])
    assert np.all(np.isfinite(flat)) and np.abs(flat).max() > 0
    soft, _ = dec.apply(params, code, L, key, 0.5, False, method=dec.soft)
    np.testing.assert_allclose(np.asarray(soft).sum(-1), 1, rtol=1e-6)


def _loop_encoder(kind, p, tokens, lengths):
    codes, states = [], np.zeros(tokens.shape + (H,))
    for b in range(tokens.shape[0]):
        state = (np.zeros(H), np.zeros(H)) if kind == "lstm" else np.zeros(H)
        for t in range(lengths[b]):
            state, h = _cell_step(kind, p["rnn_cell"], state, p["embedding"][tokens[b, t]])
            states[b, t] = h
        codes.append(h)
    return _dense(p["to_code"], np.stack(codes)), states


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_encoder_code_is_the_state_after_the_last_real_token(kind):
    enc = RNNEncoder(V, E, H, cell=kind, code_dim=4)
    params = enc.init(jax.random.key(0), TOKENS, LENGTHS)
    code, states = enc.apply(params, TOKENS, LENGTHS)
    want_code, want_states = _loop_encoder(kind, _np(params["params"]), TOKENS, LENGTHS)
    np.testing.assert_allclose(np.asarray(code), want_code, atol=1e-5)
    np.testing.assert_allclose(np.asarray(states), want_states, atol=1e-5)
    changed = np.where(np.asarray(length_mask(LENGTHS, L)), TOKENS, 4)
    code2, states2 = enc.apply(params, changed, LENGTHS)
    np.testing.assert_array_equal(np.asarray(code2), np.asarray(code))
    np.testing.assert_array_equal(np.asarray(states2), np.asarray(states))


def test_cnn_pooling_ignores_padding_and_matches_a_loop():
    enc = CNNSentenceEncoder(V, E, heights=(1, 3), filters=2)
    params = enc.init(jax.random.key(0), TOKENS, LENGTHS)
    feats = np.asarray(enc.apply(params, TOKENS, LENGTHS))
    changed = np.where(np.asarray(length_mask(LENGTHS, L)), TOKENS, 4)
    np.testing.assert_array_equal(np.asarray(enc.apply(params, changed, LENGTHS)), feats)
    p = _np(params["params"])
    want = []
    for b in range(TOKENS.shape[0]):
        row = []
        for h in (1, 3):
            kernel, bias = p[f"conv{h}"]["kernel"], p[f"conv{h}"]["bias"]  # [h, E, F]
            emb = np.zeros((max(LENGTHS[b], h), E))
            emb[:LENGTHS[b]] = p["embedding"][TOKENS[b, :LENGTHS[b]]]
            windows = [np.einsum("he,hef->f", emb[t:t + h], kernel) + bias for t in range(emb.shape[0] - h + 1)]
            row.append(np.maximum(np.max(windows, axis=0), 0))
        want.append(np.concatenate(row))
    np.testing.assert_allclose(feats, np.stack(want), atol=1e-5)


def _loop_attention(p, memory, mask, condition, inputs):
    cond = p["condition_embedding"][condition]
    keys = memory if memory.shape[-1] == H else memory @ p["memory_key"]["kernel"]
    logits, weights = [], []
    for b in range(memory.shape[0]):
        n = int(mask[b].sum())
        state = np.tanh(_dense(p["initial"], np.concatenate([memory[b, n - 1], cond[b]])))
        lb, wb = [], []
        for t in range(inputs.shape[1]):
            state = _gru(p["rnn_cell"], state, np.concatenate([p["embedding"][inputs[b, t]], cond[b]]))
            scores = keys[b, :n] @ state
            a = np.exp(scores - scores.max())
            a /= a.sum()
            context = a @ memory[b, :n]
            lb.append(_dense(p["output"], np.tanh(_dense(p["combine"], np.concatenate([context, state])))))
            wb.append(np.concatenate([a, np.zeros(memory.shape[1] - n)]))
        logits.append(lb)
        weights.append(wb)
    return np.array(logits), np.array(weights)


@pytest.mark.parametrize("width", [H, 4])
def test_attention_decoder_equals_a_loop_and_attends_only_to_real_memory(width):
    memory = np.asarray(jax.random.normal(jax.random.key(1), (3, L, width)))
    mask = np.asarray(length_mask(LENGTHS, L))
    memory = np.where(mask[..., None], memory, 0.0).astype(np.float32)
    condition = np.array([0, 1, 1])
    dec = AttentionDecoder(V, E, H, num_conditions=2, condition_dim=2)
    inputs = teacher_inputs(TOKENS)
    params = dec.init(jax.random.key(0), memory, mask, condition, inputs)
    logits, attention = dec.apply(params, memory, mask, condition, inputs)
    want_logits, want_attention = _loop_attention(_np(params["params"]), memory.astype(np.float64), mask,
                                                  condition, np.asarray(inputs))
    np.testing.assert_allclose(np.asarray(logits), want_logits, atol=1e-5)
    a = np.asarray(attention)
    np.testing.assert_allclose(a, want_attention, atol=1e-6)
    np.testing.assert_allclose(a.sum(-1), 1, rtol=1e-6)
    assert np.all(a[~np.broadcast_to(mask[:, None], a.shape)] == 0)
    garbage = np.where(mask[..., None], memory, 50.0).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(dec.apply(params, garbage, mask, condition, inputs)[0]), np.asarray(logits))
    # greedy = argmax loop through teacher forcing; soft rows one-hot; both return attention too
    tokens, g_logits, g_att = dec.apply(params, memory, mask, condition, 5, method=dec.greedy)
    forced, forced_att = dec.apply(params, memory, mask, condition, teacher_inputs(tokens))
    np.testing.assert_allclose(np.asarray(g_logits), np.asarray(forced), atol=1e-6)
    np.testing.assert_allclose(np.asarray(g_att), np.asarray(forced_att), atol=1e-6)
    step0 = np.asarray(dec.apply(params, memory, mask, condition, np.full((3, 1), BOS))[0])[:, 0]
    np.testing.assert_array_equal(np.asarray(tokens)[:, 0], step0.argmax(-1))
    probs, s_logits, s_att = dec.apply(params, memory, mask, condition, 5, jax.random.key(2), 0.5,
                                       method=dec.soft)
    forced = dec.apply(params, memory, mask, condition, teacher_inputs(probs))[0]
    np.testing.assert_allclose(np.asarray(s_logits), np.asarray(forced), atol=1e-6)
    assert probs.shape == (3, 5, V) and s_att.shape == (3, 5, L)


def test_one_hot_distributions_give_exactly_the_token_path():
    one_hot = jax.nn.one_hot(TOKENS, V)
    dec, params, code = _decoder("lstm", seed=4)
    assert np.array_equal(np.asarray(dec.apply(params, code, teacher_inputs(one_hot))),
                          np.asarray(dec.apply(params, code, teacher_inputs(TOKENS))))
    enc = RNNEncoder(V, E, H)
    pe = enc.init(jax.random.key(0), TOKENS, LENGTHS)
    for a, b in zip(enc.apply(pe, one_hot, LENGTHS), enc.apply(pe, TOKENS, LENGTHS)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    clf = CNNClassifier(V, 2, E, filters=2)
    pc = clf.init(jax.random.key(0), TOKENS, LENGTHS)
    assert np.array_equal(np.asarray(clf.apply(pc, one_hot, LENGTHS)), np.asarray(clf.apply(pc, TOKENS, LENGTHS)))
    lm = LanguageModel(V, E, H)
    pl = lm.init(jax.random.key(0), TOKENS)
    assert np.array_equal(np.asarray(lm.apply(pl, one_hot)), np.asarray(lm.apply(pl, TOKENS)))
    # and gradients reach the distribution
    g = jax.grad(lambda x: clf.apply(pc, x, LENGTHS).sum())(one_hot)
    assert np.abs(np.asarray(g)).max() > 0


def test_language_model_is_causal_and_classifier_dropout_only_in_training():
    lm = LanguageModel(V, E, H)
    params = lm.init(jax.random.key(0), TOKENS)
    logits = np.asarray(lm.apply(params, TOKENS))
    changed = TOKENS.copy()
    changed[:, 2:] = 1
    np.testing.assert_array_equal(np.asarray(lm.apply(params, changed))[:, :2], logits[:, :2])
    clf = CNNClassifier(V, 3, E, filters=4)
    pc = clf.init(jax.random.key(0), TOKENS, LENGTHS)
    a = clf.apply(pc, TOKENS, LENGTHS)
    assert np.array_equal(np.asarray(a), np.asarray(clf.apply(pc, TOKENS, LENGTHS))) and a.shape == (3, 3)
    b = clf.apply(pc, TOKENS, LENGTHS, train=True, rngs={"dropout": jax.random.key(1)})
    assert not np.allclose(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNEncoder(V, E, H, cell="rnn").init(jax.random.key(0), TOKENS, LENGTHS)


def test_jit_equals_eager_and_autoencoder_gradients_are_finite():
    enc, dec = RNNEncoder(V, E, H, code_dim=4), RNNDecoder(V, E, H)
    pe = enc.init(jax.random.key(0), TOKENS, LENGTHS)
    pd = dec.init(jax.random.key(1), jnp.zeros((3, 4)), teacher_inputs(TOKENS))

    def loss(params, tokens, lengths):
        code, _ = enc.apply(params[0], tokens, lengths)
        return sequence_nll(dec.apply(params[1], code, teacher_inputs(tokens)), tokens, lengths)[0]

    eager = loss((pe, pd), TOKENS, LENGTHS)
    np.testing.assert_allclose(float(jax.jit(loss)((pe, pd), TOKENS, LENGTHS)), float(eager), rtol=1e-6)
    grads = jax.jit(jax.grad(loss))((pe, pd), TOKENS, LENGTHS)
    flat = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(grads)])
    assert np.all(np.isfinite(flat)) and np.abs(flat).max() > 0
    code = jnp.ones((3, 4))
    greedy = jax.jit(lambda p, c: dec.apply(p, c, L, method=dec.greedy))(pd, code)
    for a, b in zip(greedy, dec.apply(pd, code, L, method=dec.greedy)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
