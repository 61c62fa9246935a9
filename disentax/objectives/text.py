"""Objectives on sentences: token likelihoods, length masks and the Gumbel-softmax relaxation.

A batch of sentences is `tokens` int [B, L]: the words, then EOS, then PAD (= 0) to the length L;
`lengths` [B] counts the real tokens including the EOS. Logits are [B, L, V]. Everything here is a
pure function of arrays (jit / vmap / grad safe); the networks are in `disentax.models.sequence`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "UNK",
    "gumbel_softmax",
    "length_mask",
    "lengths_of",
    "sequence_nll",
    "soft_sequence_nll",
]

# The reserved ids of `disentax.data.text.Vocabulary`, repeated here so that the objectives and the
# models do not import the data package.
PAD, BOS, EOS, UNK = 0, 1, 2, 3


def length_mask(lengths, max_length: int):
    """m[b, t] = (t < lengths[b]): True on the real tokens (EOS included), False on the padding.

    The masking that makes every per-token sum of a batch of padded sentences a sum over the real
    tokens only (Sutskever et al. (2014), the sentence likelihood log p(y) = Σ_{t ≤ |y|} log p(y_t | y_<t)).
    """
    lengths = jnp.asarray(lengths)
    return jnp.arange(int(max_length))[None, :] < lengths[:, None]


def lengths_of(tokens):
    """|y| = (index of the first EOS) + 1, or L when a row has no EOS (it fills the whole length).

    The length convention of the dataset: the EOS is the last real token (Sutskever et al. (2014)).
    A generated sentence is cut at its first EOS, whatever follows it.
    """
    tokens = jnp.asarray(tokens)
    length = tokens.shape[-1]
    is_eos = tokens == EOS
    first = jnp.argmax(is_eos, axis=-1)
    return jnp.where(is_eos.any(axis=-1), first + 1, length).astype(jnp.int32)


def _masked_token_mean(values, mask):
    count = mask.sum()
    return jnp.where(mask, values, 0.0).sum() / jnp.maximum(count, 1)


def token_nll(logits, targets):
    """−log softmax(logits_{b,t})[y_{b,t}] for every position, [B, L] (nats, padding included).

    The per-token terms of the sentence likelihood (Sutskever et al. (2014), Eq. 1); mask them with
    `length_mask` to sum over the real tokens. Computed in float32 whatever the logits' dtype.
    """
    log_p = jax.nn.log_softmax(jnp.asarray(logits).astype(jnp.float32), axis=-1)
    return -jnp.take_along_axis(log_p, jnp.asarray(targets)[..., None].astype(jnp.int32), axis=-1)[..., 0]


def sequence_nll(logits, targets, lengths):
    """Negative log-likelihood of sentences under a per-step categorical (teacher forcing).

        loss = (1/B) Σ_b Σ_{t < |y_b|} −log softmax(logits_{b,t})[y_{b,t}]

    the maximum-likelihood objective of sequence models (Sutskever et al. (2014), Eq. 1; the
    reconstruction term of the text autoencoders of Zhao et al. (2018) and Melnyk et al. (2018)).
    The loss is summed over each sentence's real tokens (nats per sentence) and averaged over the
    batch; padding contributes nothing, whatever its logits.

    Args:
      logits: [B, L, V] unnormalised next-token scores.
      targets: [B, L] int, the tokens to predict (words, EOS, PAD).
      lengths: [B] the real tokens of each sentence (EOS included).

    Returns:
      (loss, aux) with aux `token_nll` (mean NLL per real token, nats), `token_accuracy` (argmax
      == target over the real tokens) and `perplexity` = exp(token_nll).
    """
    logits = jnp.asarray(logits)
    targets = jnp.asarray(targets)
    if logits.ndim != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"logits [B, L, V] and targets [B, L] must agree, got {logits.shape} and {targets.shape}")
    mask = length_mask(lengths, logits.shape[1])
    nll = token_nll(logits, targets)
    loss = jnp.where(mask, nll, 0.0).sum(axis=1).mean()
    mean_nll = _masked_token_mean(nll, mask)
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    aux = {"token_nll": mean_nll, "token_accuracy": _masked_token_mean(correct, mask),
           "perplexity": jnp.exp(mean_nll)}
    return loss, aux


def soft_sequence_nll(logits, target_probs, lengths):
    """Cross-entropy of sentences against per-token target distributions.

        loss = (1/B) Σ_b Σ_{t < |y_b|} −Σ_v q_{b,t,v} log softmax(logits_{b,t})_v

    `sequence_nll` with the one-hot targets replaced by distributions q (the soft sentences of a
    relaxed generator, Jang et al. (2017); with one-hot q the two are equal). Gradients flow into
    both the logits and q.

    Returns:
      (loss, aux) like `sequence_nll`; `token_accuracy` compares the argmax of logits and of q.
    """
    logits = jnp.asarray(logits)
    target_probs = jnp.asarray(target_probs)
    if logits.ndim != 3 or target_probs.shape != logits.shape:
        raise ValueError(f"logits and target_probs must both be [B, L, V], got {logits.shape} and {target_probs.shape}")
    mask = length_mask(lengths, logits.shape[1])
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    # where(q > 0) keeps 0·(−inf) = 0 when a logit is -inf and the target puts no mass there.
    nll = -jnp.where(target_probs > 0, target_probs * log_p, 0.0).sum(axis=-1)
    loss = jnp.where(mask, nll, 0.0).sum(axis=1).mean()
    token_nll = _masked_token_mean(nll, mask)
    correct = (jnp.argmax(logits, axis=-1) == jnp.argmax(target_probs, axis=-1)).astype(jnp.float32)
    aux = {"token_nll": token_nll, "token_accuracy": _masked_token_mean(correct, mask),
           "perplexity": jnp.exp(token_nll)}
    return loss, aux


def gumbel_softmax(key, logits, temperature=1.0, hard: bool = True):
    """A relaxed sample of Categorical(softmax(logits)) over the last axis (Jang et al. (2017), Eq. 1).

        y = softmax((logits + g) / τ),   g_v = −log(−log u_v),  u_v ~ U(0, 1)

    argmax(logits + g) is an exact sample of the categorical (the Gumbel-max trick), so
    argmax(y) is one too, for any τ > 0. With `hard`, the forward value is the one-hot of
    argmax(y) and the gradient is that of the soft y (the straight-through estimator, Jang et al.
    (2017), Sec. 2.2): y_hard + (y − stop_gradient(y)), the bracket exactly 0 in the forward pass.
    """
    logits = jnp.asarray(logits)
    perturbed = logits.astype(jnp.float32) + jax.random.gumbel(key, logits.shape, dtype=jnp.float32)
    y = jax.nn.softmax(perturbed / temperature, axis=-1)
    if not hard:
        return y
    # The argmax of the perturbed logits, not of y: a tiny τ can saturate y into ties.
    y_hard = jax.nn.one_hot(jnp.argmax(perturbed, axis=-1), logits.shape[-1], dtype=y.dtype)
    return y_hard + (y - jax.lax.stop_gradient(y))
