"""Sequence networks for sentences: RNN encoders and decoders, an attention decoder, CNN encoders, an LM.

A batch of sentences is int tokens [B, L] (words, EOS, then PAD = 0) with `lengths` [B] counting the
real tokens including the EOS (`disentax.objectives.text`). Every module also takes a distribution
over the vocabulary per position, x [B, L, V] (a relaxed or one-hot sentence): its embedding is
x @ E, E the [V, embed_dim] table, so a generated soft sentence can be fed to an encoder or a
classifier with gradients flowing back into the generator; a one-hot x gives exactly the embedding of
the token (the product is taken at full float32 precision).

- `RNNEncoder`: a GRU or LSTM over the embedded tokens; the code is the hidden state after the last
  real token (tokens after `lengths` cannot change it), optionally through a Dense to `code_dim`.
- `RNNDecoder`: p(y_t | y_<t, c) of a conditional language model (Sutskever et al. (2014)); the
  code c sets the initial state and is concatenated to every input (Zhao et al. (2018), App.: the
  ARAE decoder). Teacher forcing, greedy decoding and Gumbel-softmax sampling (Jang et al. (2017))
  are one scanned step each, and all three run the same step on the same parameters.
- `AttentionDecoder`: a decoder with Luong et al. (2015) global attention on encoder states and an
  embedded discrete condition (the sentiment of Melnyk et al. (2018)).
- `CNNSentenceEncoder` / `CNNClassifier`: convolutions over time of several heights, max-pooled over
  the real positions (Kim (2014)).
- `LanguageModel`: an unconditional RNN language model (for perplexities).

Loops are `nn.scan`s (through `nn.RNN` or directly), so a sequence compiles one step, not L.

Choices where the papers leave details open:
- initial states: GRU h_0 = tanh(W v + b); LSTM (c_0, h_0) = (W_c v + b_c, tanh(W_h v + b_h)), v the
  code (or the attention decoder's [last encoder state; condition embedding]). The tanh keeps h_0 in
  the range the cells produce; the LSTM's memory cell is unbounded, so it stays linear.
- `lengths` are clipped to [1, L]: a sentence always has its EOS, and an encoder needs one step.
- after the first EOS, greedy and soft decoding emit PAD (the one-hot of PAD in `soft`, without
  gradient) and feed it back, so their outputs are valid padded sentences; the logits there are
  still returned (the caller masks them with `lengths_of`).
- attention scores are Luong's "dot" h_t · m_s when the memory has the decoder's width and his
  "general" h_t · W m_s otherwise; there is no input feeding (the attentional state h̃_t only goes to
  the output layer), which keeps the step a plain RNN cell.
- embeddings start from N(0, 1/embed_dim) like Flax's `nn.Embed`; the PAD row is an ordinary row
  (padding is masked where it matters, never read through the embedding).
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax.objectives.text import BOS, EOS, PAD, gumbel_softmax, length_mask

__all__ = [
    "AttentionDecoder",
    "CNNClassifier",
    "CNNSentenceEncoder",
    "LanguageModel",
    "RNNDecoder",
    "RNNEncoder",
    "embed_tokens",
    "teacher_inputs",
]

EMBED_INIT = nn.initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)
# A masked attention score: finite (no NaN when a row is all padding), and exp(NEG − max) is exactly 0.
_NEG = -1e30
_CELLS = ("gru", "lstm")


def embed_tokens(table, x):
    """Embeddings of tokens [B, L] (rows of `table` [V, E]) or of distributions [B, L, V] (x @ table)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.integer):
        return jnp.take(table, x, axis=0)
    if x.shape[-1] != table.shape[0]:
        raise ValueError(f"a distribution input needs the vocabulary ({table.shape[0]}) as its last axis, got {x.shape}")
    return jnp.einsum("...v,ve->...e", x.astype(table.dtype), table, precision=jax.lax.Precision.HIGHEST)


def teacher_inputs(tokens):
    """The decoder inputs of teacher forcing: BOS, then the targets shifted right (tokens[:, :-1]).

    Step t reads y_{t−1} (y_0 = BOS) and predicts y_t (Sutskever et al. (2014)). Distributions
    [B, L, V] get a one-hot BOS in front.
    """
    tokens = jnp.asarray(tokens)
    if jnp.issubdtype(tokens.dtype, jnp.integer):
        bos = jnp.full(tokens.shape[:1] + (1,), BOS, tokens.dtype)
    else:
        bos = jnp.broadcast_to(jax.nn.one_hot(BOS, tokens.shape[-1], dtype=tokens.dtype),
                               tokens.shape[:1] + (1, tokens.shape[-1]))
    return jnp.concatenate([bos, tokens[:, :-1]], axis=1)


def _check_cell(kind: str) -> None:
    if kind not in _CELLS:
        raise ValueError(f"cell must be one of {_CELLS}, got {kind!r}")


def _make_cell(kind: str, hidden: int, name: str | None = None):
    _check_cell(kind)
    if kind == "gru":
        return nn.GRUCell(features=hidden, name=name)
    return nn.OptimizedLSTMCell(features=hidden, name=name)


def _hidden_of(kind: str, carry):
    # An LSTM's carry is (c, h); the GRU's is h.
    return carry[1] if kind == "lstm" else carry


def _state_from(kind: str, hidden: int, projected):
    if kind == "lstm":
        return projected[..., :hidden], jnp.tanh(projected[..., hidden:])
    return jnp.tanh(projected)


def _state_width(kind: str, hidden: int) -> int:
    return 2 * hidden if kind == "lstm" else hidden


def _lengths(lengths, batch: int, max_length: int):
    if lengths is None:
        return jnp.full((batch,), max_length, jnp.int32)
    return jnp.clip(jnp.asarray(lengths).astype(jnp.int32), 1, max_length)


def _scan(body, length: int | None = None):
    # Parameters are broadcast: every step (and every decoding mode) reads the same ones.
    return nn.scan(body, variable_broadcast="params", split_rngs={"params": False}, in_axes=0, out_axes=0,
                   length=length)


def _time_major(x):
    return jnp.swapaxes(x, 0, 1)


class RNNEncoder(nn.Module):
    """x [B, L] or [B, L, V], lengths [B] -> (code [B, code_dim or hidden], states [B, L, hidden]).

    code = h_{|x|}, the hidden state after the last real token (through a Dense when `code_dim`
    is set); `states` are h_1..h_L with zeros past the length (the attention memory).
    """

    vocab_size: int
    embed_dim: int = 128
    hidden: int = 256
    cell: str = "gru"
    code_dim: int | None = None

    @nn.compact
    def __call__(self, x, lengths=None):
        table = self.param("embedding", EMBED_INIT, (self.vocab_size, self.embed_dim))
        e = embed_tokens(table, x)
        batch, max_length = e.shape[:2]
        lengths = _lengths(lengths, batch, max_length)
        carry, states = nn.RNN(_make_cell(self.cell, self.hidden, name="rnn_cell"), return_carry=True)(
            e, seq_lengths=lengths)
        code = _hidden_of(self.cell, carry)
        states = jnp.where(length_mask(lengths, max_length)[..., None], states, 0.0)
        if self.code_dim is not None:
            code = nn.Dense(self.code_dim, name="to_code")(code)
        return code, states


class RNNDecoder(nn.Module):
    """A code-conditioned RNN language model: teacher forcing, greedy decoding, Gumbel-softmax sampling.

    Step t: s_t = cell(s_{t−1}, [emb(y_{t−1}); c]), logits_t = W s_t + b, with s_0 from c (see the
    module docstring) and y_0 = BOS.
    """

    vocab_size: int
    embed_dim: int = 128
    hidden: int = 256
    cell: str = "gru"

    def setup(self):
        _check_cell(self.cell)
        self.embedding = self.param("embedding", EMBED_INIT, (self.vocab_size, self.embed_dim))
        self.initial = nn.Dense(_state_width(self.cell, self.hidden))
        self.rnn_cell = _make_cell(self.cell, self.hidden)
        self.output = nn.Dense(self.vocab_size)

    def initial_state(self, code):
        return _state_from(self.cell, self.hidden, self.initial(code))

    def step(self, state, inputs, code):
        """One step from embedded inputs [B, E]: (state, logits [B, V])."""
        state, h = self.rnn_cell(state, jnp.concatenate([inputs, code], axis=-1))
        return state, self.output(h)

    def __call__(self, code, inputs):
        """Teacher forcing: code [B, C], inputs [B, L] or [B, L, V] (`teacher_inputs`) -> logits [B, L, V]."""
        e = _time_major(embed_tokens(self.embedding, inputs))

        def body(mdl, state, e_t):
            return mdl.step(state, e_t, code)

        _, logits = _scan(body)(self, self.initial_state(code), e)
        return _time_major(logits)

    def greedy(self, code, max_length: int):
        """Greedy decoding from BOS: (tokens [B, L] int32, logits [B, L, V]); PAD after the first EOS."""
        batch = code.shape[0]
        start = (self.initial_state(code), jnp.full((batch,), BOS, jnp.int32), jnp.zeros((batch,), bool))

        def body(mdl, carry, _):
            state, previous, done = carry
            state, logits = mdl.step(state, embed_tokens(mdl.embedding, previous), code)
            token = jnp.where(done, PAD, jnp.argmax(logits, axis=-1).astype(jnp.int32))
            return (state, token, done | (token == EOS)), (token, logits)

        _, (tokens, logits) = _scan(body)(self, start, jnp.arange(int(max_length)))
        return _time_major(tokens), _time_major(logits)

    def soft(self, code, max_length: int, key, temperature=1.0, hard: bool = True):
        """Sampling with Gumbel-softmax samples fed back: (probs [B, L, V], logits [B, L, V]).

        y_t = gumbel_softmax(logits_t, τ) (straight-through one-hot when `hard`, Jang et al.
        (2017)) is the next input (its embedding y_t @ E), so the whole sentence is differentiable
        in the parameters. After the first EOS (argmax) the rows are the one-hot of PAD.
        """
        batch = code.shape[0]
        bos = jax.nn.one_hot(jnp.full((batch,), BOS), self.vocab_size, dtype=jnp.float32)
        start = (self.initial_state(code), bos, jnp.zeros((batch,), bool))
        pad = jax.nn.one_hot(PAD, self.vocab_size, dtype=jnp.float32)

        def body(mdl, carry, step_key):
            state, previous, done = carry
            state, logits = mdl.step(state, embed_tokens(mdl.embedding, previous), code)
            y = gumbel_softmax(step_key, logits, temperature, hard)
            y = jnp.where(done[:, None], pad, y)
            done = done | (jnp.argmax(y, axis=-1) == EOS)
            return (state, y, done), (y, logits)

        _, (probs, logits) = _scan(body)(self, start, jax.random.split(key, int(max_length)))
        return _time_major(probs), _time_major(logits)


class AttentionDecoder(nn.Module):
    """A conditioned decoder with global attention on a memory of encoder states (Luong et al. (2015)).

    Step t: s_t = cell(s_{t−1}, [emb(y_{t−1}); e_k]) with e_k the embedding of the condition k,
    a_t = softmax over the real memory positions of h_t · m_s (or h_t · W m_s), c_t = Σ_s a_{t,s} m_s,
    h̃_t = tanh(W_c [c_t; h_t]), logits_t = W_o h̃_t. s_0 comes from [m_last; e_k], m_last the
    memory at the last real position (the encoder's code). Every method also returns the
    attention weights [B, L, Lm] (zero on padded memory).
    """

    vocab_size: int
    embed_dim: int = 128
    hidden: int = 256
    cell: str = "gru"
    num_conditions: int = 2
    condition_dim: int | None = None

    def setup(self):
        _check_cell(self.cell)
        self.embedding = self.param("embedding", EMBED_INIT, (self.vocab_size, self.embed_dim))
        self.condition_embedding = self.param("condition_embedding", EMBED_INIT,
                                              (self.num_conditions, self.condition_dim or self.embed_dim))
        self.initial = nn.Dense(_state_width(self.cell, self.hidden))
        self.rnn_cell = _make_cell(self.cell, self.hidden)
        self.memory_key = nn.Dense(self.hidden, use_bias=False)
        self.combine = nn.Dense(self.hidden)
        self.output = nn.Dense(self.vocab_size)

    def prepare(self, memory, memory_mask, condition):
        """(initial state, attention keys [B, Lm, H], condition embedding [B, D]) of a batch."""
        memory = jnp.asarray(memory)
        memory_mask = jnp.asarray(memory_mask, bool)
        keys = memory if memory.shape[-1] == self.hidden else self.memory_key(memory)
        cond = jnp.take(self.condition_embedding, jnp.asarray(condition).astype(jnp.int32), axis=0)
        last = jnp.maximum(memory_mask.sum(axis=1) - 1, 0)
        m_last = jnp.take_along_axis(memory, last[:, None, None], axis=1)[:, 0]
        state = _state_from(self.cell, self.hidden, self.initial(jnp.concatenate([m_last, cond], axis=-1)))
        return state, keys, cond

    def step(self, state, inputs, cond, memory, keys, memory_mask):
        """One step from embedded inputs [B, E]: (state, logits [B, V], attention [B, Lm])."""
        state, h = self.rnn_cell(state, jnp.concatenate([inputs, cond], axis=-1))
        scores = jnp.einsum("bh,bmh->bm", h, keys)
        attention = jax.nn.softmax(jnp.where(memory_mask, scores, _NEG), axis=-1)
        attention = jnp.where(memory_mask, attention, 0.0)
        context = jnp.einsum("bm,bmd->bd", attention, memory)
        attended = jnp.tanh(self.combine(jnp.concatenate([context, h], axis=-1)))
        return state, self.output(attended), attention

    def __call__(self, memory, memory_mask, condition, inputs):
        """Teacher forcing -> (logits [B, L, V], attention [B, L, Lm])."""
        memory_mask = jnp.asarray(memory_mask, bool)
        state, keys, cond = self.prepare(memory, memory_mask, condition)
        e = _time_major(embed_tokens(self.embedding, inputs))

        def body(mdl, state, e_t):
            state, logits, attention = mdl.step(state, e_t, cond, memory, keys, memory_mask)
            return state, (logits, attention)

        _, (logits, attention) = _scan(body)(self, state, e)
        return _time_major(logits), _time_major(attention)

    def greedy(self, memory, memory_mask, condition, max_length: int):
        """Greedy decoding -> (tokens [B, L] int32, logits [B, L, V], attention [B, L, Lm]); PAD after EOS."""
        memory_mask = jnp.asarray(memory_mask, bool)
        state, keys, cond = self.prepare(memory, memory_mask, condition)
        batch = state[0].shape[0] if self.cell == "lstm" else state.shape[0]
        start = (state, jnp.full((batch,), BOS, jnp.int32), jnp.zeros((batch,), bool))

        def body(mdl, carry, _):
            state, previous, done = carry
            state, logits, attention = mdl.step(state, embed_tokens(mdl.embedding, previous), cond, memory, keys,
                                                memory_mask)
            token = jnp.where(done, PAD, jnp.argmax(logits, axis=-1).astype(jnp.int32))
            return (state, token, done | (token == EOS)), (token, logits, attention)

        _, (tokens, logits, attention) = _scan(body)(self, start, jnp.arange(int(max_length)))
        return _time_major(tokens), _time_major(logits), _time_major(attention)

    def soft(self, memory, memory_mask, condition, max_length: int, key, temperature=1.0, hard: bool = True):
        """Gumbel-softmax sampling fed back (as `RNNDecoder.soft`) -> (probs, logits, attention)."""
        memory_mask = jnp.asarray(memory_mask, bool)
        state, keys, cond = self.prepare(memory, memory_mask, condition)
        batch = cond.shape[0]
        bos = jax.nn.one_hot(jnp.full((batch,), BOS), self.vocab_size, dtype=jnp.float32)
        pad = jax.nn.one_hot(PAD, self.vocab_size, dtype=jnp.float32)
        start = (state, bos, jnp.zeros((batch,), bool))

        def body(mdl, carry, step_key):
            state, previous, done = carry
            state, logits, attention = mdl.step(state, embed_tokens(mdl.embedding, previous), cond, memory, keys,
                                                memory_mask)
            y = jnp.where(done[:, None], pad, gumbel_softmax(step_key, logits, temperature, hard))
            done = done | (jnp.argmax(y, axis=-1) == EOS)
            return (state, y, done), (y, logits, attention)

        _, (probs, logits, attention) = _scan(body)(self, start, jax.random.split(key, int(max_length)))
        return _time_major(probs), _time_major(logits), _time_major(attention)


class CNNSentenceEncoder(nn.Module):
    """x [B, L] or [B, L, V], lengths [B] -> features [B, len(heights)·filters] (Kim (2014)).

    For each height h: ReLU(conv over time of width h), max-pooled over the windows that lie inside
    the sentence (t + h ≤ |x|). Embeddings past the length are zeroed first, and a sentence shorter
    than h keeps its first window (the sentence then zeros), so nothing after the length is read.
    """

    vocab_size: int
    embed_dim: int = 128
    heights: Sequence[int] = (1, 2, 3, 4)
    filters: int = 75

    @nn.compact
    def __call__(self, x, lengths=None):
        table = self.param("embedding", EMBED_INIT, (self.vocab_size, self.embed_dim))
        e = embed_tokens(table, x)
        batch, max_length = e.shape[:2]
        lengths = _lengths(lengths, batch, max_length)
        e = jnp.where(length_mask(lengths, max_length)[..., None], e, 0.0)
        features = []
        for h in self.heights:
            padded = jnp.pad(e, ((0, 0), (0, int(h) - 1), (0, 0)))
            maps = nn.relu(nn.Conv(self.filters, kernel_size=(int(h),), padding="VALID", name=f"conv{h}")(padded))
            valid = jnp.arange(max_length)[None, :] <= jnp.maximum(lengths - int(h), 0)[:, None]
            features.append(jnp.max(jnp.where(valid[..., None], maps, -jnp.inf), axis=1))
        return jnp.concatenate(features, axis=-1)


class CNNClassifier(nn.Module):
    """x, lengths -> logits [B, num_classes]: Kim (2014)'s CNN-rand (heights 3, 4, 5; 100 filters each).

    Dropout 0.5 on the pooled features when `train` (Kim (2014), Sec. 2.1; it then needs a
    "dropout" rng); Kim's max-norm constraint on the output weights is left out.
    """

    vocab_size: int
    num_classes: int
    embed_dim: int = 128
    heights: Sequence[int] = (3, 4, 5)
    filters: int = 100
    dropout: float = 0.5

    @nn.compact
    def __call__(self, x, lengths=None, train: bool = False):
        features = CNNSentenceEncoder(self.vocab_size, self.embed_dim, self.heights, self.filters, name="encoder")(
            x, lengths)
        features = nn.Dropout(self.dropout, deterministic=not train)(features)
        return nn.Dense(self.num_classes, name="head")(features)


class LanguageModel(nn.Module):
    """inputs [B, L] or [B, L, V] (`teacher_inputs`) -> next-token logits [B, L, V].

    An unconditional RNN language model from a zero state (step t sees inputs ≤ t only, so padding
    after a sentence never changes its logits); an LSTM by default.
    """

    vocab_size: int
    embed_dim: int = 128
    hidden: int = 256
    cell: str = "lstm"

    @nn.compact
    def __call__(self, inputs):
        table = self.param("embedding", EMBED_INIT, (self.vocab_size, self.embed_dim))
        states = nn.RNN(_make_cell(self.cell, self.hidden, name="rnn_cell"))(embed_tokens(table, inputs))
        return nn.Dense(self.vocab_size, name="output")(states)
