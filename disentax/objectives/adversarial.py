"""Adversarial objectives: GAN, WGAN, WGAN-GP and independent causal mechanisms.

- GAN (Goodfellow et al. 2014, "Generative adversarial nets", Eq. 1 and Sec. 3): the
  discriminator's cross-entropy and the non-saturating generator loss.
- WGAN (Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", Eq. 3 and Alg. 1): the critic's
  estimate of the Wasserstein-1 distance and weight clipping (`clip_params`, an optax transform).
- WGAN-GP (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved training of
  Wasserstein GANs", Eq. 3 and Alg. 1): the gradient penalty on random interpolates.
- Independent causal mechanisms (Parascandolo, Rojas-Carulla, Kilbertus & Schölkopf 2018,
  "Learning independent causal mechanisms", Eq. 1 and Alg. 1): competing experts, each trained
  only on the examples it wins, against one discriminator.

Logit convention: a discriminator returns one logit per example, shape [B], and
D(x) = sigmoid(logit). Every log-probability is computed from the logit with `log_sigmoid` /
`softplus` (log D = −softplus(−l), log(1 − D) = −softplus(l)), never as log(sigmoid(l)), so each
loss and its gradient are finite for any finite logit. A WGAN critic's outputs are unbounded
scores with no sigmoid. All expectations are means over the batch; `loss` is to be minimised.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def _check_ndim(name: str, x, ndim: int):
    if jnp.ndim(x) != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {jnp.shape(x)}")


def discriminator_loss(real_logits, fake_logits):
    """The GAN discriminator's cross-entropy (Goodfellow et al. 2014, Eq. 1, the D side):

        −E_x[log D(x)] − E_z[log(1 − D(G(z)))] = mean softplus(−real_logits) + mean softplus(fake_logits).

    `real_logits` [B] on data, `fake_logits` [B'] on generated samples.

    Returns (loss, aux) with aux keys d_real (mean D on real), d_fake (mean D on fake) and accuracy
    (fraction of real with logit > 0 and of fake with logit < 0, the two halves weighted ½ each; a
    logit of exactly 0 counts as wrong on both sides).
    """
    _check_ndim("real_logits", real_logits, 1)
    _check_ndim("fake_logits", fake_logits, 1)
    loss = jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
    aux = {
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        "accuracy": 0.5 * (jnp.mean(real_logits > 0) + jnp.mean(fake_logits < 0)),
    }
    return loss, aux


def generator_loss(fake_logits):
    """The non-saturating generator loss (Goodfellow et al. 2014, Sec. 3):

        −E_z[log D(G(z))] = mean softplus(−fake_logits),

    in place of minimising E_z[log(1 − D(G(z)))], whose gradient vanishes early in training when
    D rejects the samples confidently.

    Returns (loss, aux) with aux key d_fake (mean D on the fakes).
    """
    _check_ndim("fake_logits", fake_logits, 1)
    loss = jnp.mean(jax.nn.softplus(-fake_logits))
    return loss, {"d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}


def wgan_critic_loss(real_scores, fake_scores):
    """The WGAN critic loss (Arjovsky, Chintala & Bottou 2017, Eq. 3 and Alg. 1): the critic f
    maximises E_x[f(x)] − E_z[f(G(z))], so the loss is

        mean(fake_scores) − mean(real_scores).

    With f kept (roughly) K-Lipschitz, by `clip_params` or by `gradient_penalty`, −loss estimates
    K·W_1(P_r, P_g).

    Returns (loss, aux) with aux key wasserstein = mean(real_scores) − mean(fake_scores).
    """
    _check_ndim("real_scores", real_scores, 1)
    _check_ndim("fake_scores", fake_scores, 1)
    w = jnp.mean(real_scores) - jnp.mean(fake_scores)
    return -w, {"wasserstein": w}


def wgan_generator_loss(fake_scores):
    """The WGAN generator loss (Arjovsky et al. 2017, Alg. 1): −E_z[f(G(z))] = −mean(fake_scores).

    Returns (loss, aux) with aux key critic_fake = mean(fake_scores).
    """
    _check_ndim("fake_scores", fake_scores, 1)
    m = jnp.mean(fake_scores)
    return -m, {"critic_fake": m}


def clip_params(limit: float) -> optax.GradientTransformation:
    """WGAN weight clipping (Arjovsky et al. 2017, Alg. 1, c = 0.01 there) as an optax transform.

    Chain it LAST, after the optimiser: `optax.chain(optax.rmsprop(5e-5), clip_params(0.01))`. Given
    the optimiser's updates u and the current params p, it returns

        u' = clip(p + u, −c, c) − p,

    so that `optax.apply_updates(p, u')` = p + u' is the clipped step. Where p + u is already in
    [−c, c], u' = (p + u) − p, equal to u up to float rounding. Rounding: p + u' is computed again
    in floating point, so it equals clip(p + u, −c, c) up to one rounding of the addition, i.e. it
    can exceed c by at most about one ulp of max(|p|, c); it does not accumulate over steps, since
    each step clips p + u afresh.

    The update function needs params (`tx.update(updates, state, params)`) and raises a ValueError
    without them. The state is empty.
    """
    limit = float(limit)
    if not limit > 0:
        raise ValueError(f"clip_params needs limit > 0, got {limit}")

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("clip_params needs the params: call tx.update(updates, state, params)")
        new = jax.tree.map(lambda u, p: jnp.clip(p + u, -limit, limit) - p, updates, params)
        return new, state

    return optax.GradientTransformation(init_fn, update_fn)


def _safe_norm(sq_sum):
    """sqrt(sq_sum), with a finite (zero) gradient where sq_sum == 0 (the double-where trick)."""
    positive = sq_sum > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq_sum, 1.0)), 0.0)


def gradient_penalty(critic, real, fake, key):
    """The WGAN-GP gradient penalty (Gulrajani et al. 2017, Eq. 3 and Alg. 1):

        ε_i ~ U[0, 1],   x̂_i = ε_i·real_i + (1 − ε_i)·fake_i,
        penalty = mean_i (‖∇_x̂ f(x̂)_i‖₂ − 1)²,

    with one ε per example (row), broadcast over the example's other axes, and the norm over all
    of an example's axes. `critic` maps x [B, ...] to scores [B]; `real` and `fake` have the same
    shape [B, ...]. The per-example gradients are taken as one `jax.grad` of Σ_i f(x̂)_i, which
    equals ∇_{x̂_i} f(x̂)_i row by row only because the critic treats examples independently
    (row i of the scores depends on row i of the input alone). So no batch normalisation in a
    WGAN-GP critic, as the paper says (Sec. 4; layer normalisation or none instead).

    The norm is sqrt(Σ g²) with the double-where trick: exact (a unit-norm gradient gives a
    penalty of exactly 0 when Σ g² rounds to 1) and with a finite gradient even where the gradient
    of the critic is exactly zero (a constant critic; the penalty there is 1).

    Multiply by λ (10 in the paper) in `wgan_gp_critic_loss`. Returns (penalty, aux) with aux key
    gp_grad_norm (the mean per-example gradient norm).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {real.shape} and {fake.shape}")
    if real.ndim < 1:
        raise ValueError(f"real and fake must have a batch axis, got shape {real.shape}")
    batch = real.shape[0]
    eps = jax.random.uniform(key, (batch,), dtype=jnp.result_type(real.dtype, jnp.float32))
    eps = eps.reshape((batch,) + (1,) * (real.ndim - 1))
    x_hat = eps * real + (1 - eps) * fake

    def total(x):
        scores = critic(x)
        if jnp.shape(scores) != (batch,):
            raise ValueError(f"critic must return scores of shape [B] = ({batch},), got {jnp.shape(scores)}")
        return jnp.sum(scores)

    grads = jax.grad(total)(x_hat)
    norms = _safe_norm(jnp.sum(jnp.square(grads), axis=tuple(range(1, grads.ndim))))
    penalty = jnp.mean(jnp.square(norms - 1))
    return penalty, {"gp_grad_norm": jnp.mean(norms)}


def wgan_gp_critic_loss(real_scores, fake_scores, penalty, weight: float = 10.0):
    """The WGAN-GP critic loss (Gulrajani et al. 2017, Eq. 3; λ = 10 in the paper):

        mean(fake_scores) − mean(real_scores) + λ · penalty,

    with `penalty` from `gradient_penalty`.

    Returns (loss, aux) with aux keys wasserstein (mean real − mean fake) and gradient_penalty (the
    unweighted penalty).
    """
    base, aux = wgan_critic_loss(real_scores, fake_scores)
    penalty = jnp.asarray(penalty)
    _check_ndim("penalty", penalty, 0)
    return base + weight * penalty, {**aux, "gradient_penalty": penalty}


def winner_take_all_loss(expert_logits):
    """The experts' winner-take-all loss (Parascandolo et al. 2018, Eq. 1 and Alg. 1):

        log c_jb = log D(E_j(x'_b)) = log_sigmoid(expert_logits[j, b]),
        loss = −mean_b max_j log c_jb,

    `expert_logits` [N, B] the discriminator's logits on each of the N experts' outputs for each
    of the B transformed examples. Only the winning expert of an example receives gradient from
    it: the winner j*_b = argmax_j of the (stop-gradient) logits, and the loss takes log c_{j*_b, b}
    by index (`take_along_axis`), so a tie does not split the gradient as the gradient of jnp.max
    would. The argmax is over logits, not log c: log_sigmoid is strictly increasing, so it is the
    same winner, but large logits whose log c round to the same float (0) stay distinguishable.
    Ties go to the lowest expert index (argmax's rule).

    Returns (loss, aux) with aux keys winners [B] (int32, the winning expert of each example),
    win_share [N] (the fraction of the batch each expert wins) and log_score (mean_b max_j log c_jb,
    = −loss).
    """
    _check_ndim("expert_logits", expert_logits, 2)
    n_experts = expert_logits.shape[0]
    winners = jnp.argmax(jax.lax.stop_gradient(expert_logits), axis=0).astype(jnp.int32)
    log_c = jax.nn.log_sigmoid(expert_logits)
    best = jnp.take_along_axis(log_c, winners[None, :], axis=0)[0]
    log_score = jnp.mean(best)
    win_share = jnp.mean(jax.nn.one_hot(winners, n_experts, dtype=log_c.dtype), axis=0)
    return -log_score, {"winners": winners, "win_share": win_share, "log_score": log_score}


def icm_discriminator_loss(canonical_logits, expert_logits):
    """The ICM discriminator loss (Parascandolo et al. 2018, Alg. 1, the discriminator update):
    D ascends log D(x) + (1/N) Σ_j log(1 − D(E_j(x'))), so the loss is

        −mean_b log D(x_b) − (1/N) Σ_j mean_b log(1 − D(E_j(x'_b)))
        = mean softplus(−canonical_logits) + mean_{j,b} softplus(expert_logits[j, b]),

    `canonical_logits` [B] on examples of the canonical distribution, `expert_logits` [N, B'] on
    every expert's output for every transformed example (all experts, not only the winners).

    Returns (loss, aux) with aux keys d_canonical (mean D on canonical examples) and d_experts (mean
    D over all experts' outputs).
    """
    _check_ndim("canonical_logits", canonical_logits, 1)
    _check_ndim("expert_logits", expert_logits, 2)
    # mean over [N, B'] = (1/N) Σ_j mean_b, every expert having the same B' outputs.
    loss = jnp.mean(jax.nn.softplus(-canonical_logits)) + jnp.mean(jax.nn.softplus(expert_logits))
    aux = {
        "d_canonical": jnp.mean(jax.nn.sigmoid(canonical_logits)),
        "d_experts": jnp.mean(jax.nn.sigmoid(expert_logits)),
    }
    return loss, aux
