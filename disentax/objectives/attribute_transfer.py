"""Text attribute transfer with a collaborative classifier: the pieces of Melnyk, dos Santos,
Wadhawan, Padhi & Kumar (2018), "Improved neural text attribute transfer with non-parallel data".

- `noun_alignment` / `noun_preservation_loss`: Eq. 2, the content-preservation ("noun
  preservation") loss read through the attention alignment of the transferred sentence.
- `attribute_cross_entropy`: Eqs. 3, 4 and 6, the collaborative classifier's cross-entropies.
- `attribute_transfer_objective`: Eq. 7, the weighted sum of the six terms.

Eq. 1 and Eq. 5 are teacher-forced sequence likelihoods: `disentax.objectives.text.sequence_nll`.
All losses are means over sentences of per-sentence sums over tokens, the convention of
`sequence_nll`, so the six terms of Eq. 7 are on comparable scales.
"""
from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import optax

__all__ = ["TERMS", "attribute_cross_entropy", "attribute_transfer_objective", "noun_alignment",
           "noun_preservation_loss"]

# Eq. 7's terms in the order the paper writes them, with λ1 … λ6.
TERMS = ("rec", "cnt_rec", "back_rec", "class_od", "class_td", "class_btd")


def noun_alignment(attention, target_mask):
    """The target position aligned to each source position by attention (Melnyk et al. (2018), Eq. 2's
    pairs (r, r')): r'(r) = argmax_{r' real} attention[b, r', r].

    attention [B, L', L]: row r' is the decoder's attention over source positions at output step r';
    target_mask bool [B, L']: the real positions of the output (its words and its EOS). Padding output
    positions (after the output's EOS) are never chosen: they are not words of the sentence. Ties go
    to the earliest position. Returns int32 [B, L]; a sentence with no real output position gets 0.

    Chosen direction (the paper only says "(r, r') is a pair established by attention"): each source
    noun is paired with the one output step that attends to it most, so every noun gets exactly one
    term, whether or not some step's own argmax lands on it.
    """
    scores = jnp.where(target_mask[:, :, None], attention, -jnp.inf)
    return jnp.argmax(scores, axis=1).astype(jnp.int32)


def noun_preservation_loss(log_probs, attention, source, noun_mask, target_mask):
    """Melnyk et al. (2018), Eq. 2, the content-preservation loss of a transferred sentence x̂^{i→j}:

        L_cnt_rec = E_x [ Σ_{r: x_r a noun} −log p_G(ŵ_{r'(r)} = x_r | E(x, s_i), s_j) ],

    r'(r) the output position aligned to source position r (`noun_alignment`); the condition is the
    target attribute s_j (the paper prints s_i, evidently meaning the transfer's s_j).

    log_probs [B, L', V]: the decoder's log-probabilities at each output step of the transfer;
    attention [B, L', L]; source int [B, L]; noun_mask bool [B, L] (the source's nouns);
    target_mask bool [B, L'] (the transfer's real positions). The alignment is an argmax and carries
    no gradient; the gradient is that of the aligned log-probabilities. Loss: mean over sentences of
    the per-sentence sum over nouns (0 for a sentence without nouns).

    aux: noun_nll (mean per noun; 0 without nouns), nouns_per_sentence, noun_accuracy (share of
    nouns that are the decoder's most likely word at their aligned step; 1 without nouns).
    """
    aligned = noun_alignment(jax.lax.stop_gradient(attention), target_mask)  # [B, L]
    at_aligned = jnp.take_along_axis(log_probs, aligned[:, :, None], axis=1)  # [B, L, V]: step r'(r) for each r
    nll = -jnp.take_along_axis(at_aligned, source[:, :, None].astype(jnp.int32), axis=2)[..., 0]  # [B, L]
    has_target = jnp.any(target_mask, axis=1, keepdims=True)
    nouns = noun_mask & has_target
    nll = jnp.where(nouns, nll, 0.0)
    loss = jnp.mean(jnp.sum(nll, axis=1))
    count = jnp.sum(nouns)
    hit = jnp.argmax(at_aligned, axis=-1) == source
    aux = {
        "noun_nll": jnp.sum(nll) / jnp.maximum(count, 1),
        "nouns_per_sentence": jnp.mean(jnp.sum(nouns, axis=1).astype(jnp.float32)),
        "noun_accuracy": jnp.where(count > 0, jnp.sum(hit & nouns) / jnp.maximum(count, 1), 1.0),
    }
    return loss, aux


def attribute_cross_entropy(logits, labels):
    """The collaborative classifier's loss, −E[log p_C(s | x)] (Melnyk et al. (2018), Eq. 4 on original
    sentences with their own attribute, Eq. 3 on transferred sentences with the target attribute, Eq. 6
    on back-transferred sentences with the source attribute).

    logits [B, A], labels int [B]. aux: accuracy (argmax equals the label)."""
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == labels)}


def attribute_transfer_objective(terms: Mapping[str, jax.Array], weights: Mapping[str, float]):
    """Melnyk et al. (2018), Eq. 7:

        L = λ1 L_rec + λ2 L_cnt_rec + λ3 L_back_rec + λ4 L_class_od + λ5 L_class_td + λ6 L_class_btd,

    minimised jointly in the encoder, decoder and classifier (Alg. 1). `terms` and `weights` are keyed
    by `TERMS` (rec, cnt_rec, back_rec, class_od, class_td, class_btd). Returns (loss, aux); aux holds
    every term unweighted, so a run with some λ_k = 0 still logs it."""
    if set(terms) != set(TERMS) or set(weights) != set(TERMS):
        raise ValueError(f"Eq. 7 takes exactly the terms {TERMS}; got terms {sorted(terms)}, "
                         f"weights {sorted(weights)}")
    loss = sum(weights[k] * terms[k] for k in TERMS)
    return loss, {k: terms[k] for k in TERMS}
