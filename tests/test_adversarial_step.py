"""The adversarial step against the same updates written out by hand, on small linear players."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from disentax.train.adversarial import Critics, init_adversarial_state, make_adversarial_step

D_Z, D_X, B = 3, 4, 5


def _players():
    """Generator g(z) = z A + b, critic f(x) = tanh(x w) · v; losses of a WGAN-like game with a
    penalty on the critic's weights so every term has a gradient."""

    def critic_loss(cp, cs, gp, gs, batch, key, k):
        real = batch["x"][:, k]
        z = jax.random.normal(key, (real.shape[0], D_Z))
        fake = z @ gp["A"] + gp["b"]
        f = lambda x: jnp.tanh(x @ cp["critic"]["w"]) @ cp["critic"]["v"]  # noqa: E731
        loss = jnp.mean(f(fake)) - jnp.mean(f(real)) + 0.1 * jnp.sum(cp["critic"]["w"] ** 2)
        return loss, ({"real": jnp.mean(f(real))}, cs)

    def generator_loss(gp, gs, cp, cs, batch, key):
        z = jax.random.normal(key, (batch["x"].shape[0], D_Z))
        fake = z @ gp["A"] + gp["b"]
        loss = -jnp.mean(jnp.tanh(fake @ cp["critic"]["w"]) @ cp["critic"]["v"])
        return loss, ({"fake_mean": jnp.mean(fake)}, gs)

    return critic_loss, generator_loss


def _state(tx, critics):
    k = jax.random.split(jax.random.PRNGKey(1), 4)
    gen = {"params": {"A": jax.random.normal(k[0], (D_Z, D_X)), "b": jax.random.normal(k[1], (D_X,))}}
    crit = {"params": {"w": jax.random.normal(k[2], (D_X, 6)), "v": jax.random.normal(k[3], (6,))}}
    return init_adversarial_state(gen, tx, {"critic": crit}, critics)


@pytest.mark.parametrize("steps", [1, 3])
def test_step_equals_the_updates_written_out(steps):
    critic_loss, generator_loss = _players()
    tx, ctx = optax.adam(1e-2), optax.sgd(0.05)
    critics = Critics({"critic": ctx})
    state = _state(tx, critics)
    batch = {"x": jax.random.normal(jax.random.PRNGKey(2), (B, steps, D_X))}
    key = jax.random.PRNGKey(3)
    new, metrics = jax.jit(make_adversarial_step(generator_loss, critic_loss, tx, critics, critic_steps=steps))(
        state, batch, key)

    # By hand: `steps` SGD updates of the critic, each with its own key and real minibatch, then one
    # Adam update of the generator against the updated critic.
    k_critic, k_gen = jax.random.split(key)
    gp = state.params
    cp = state.extra["critics"]["critic"]["params"]
    losses = []
    for k in range(steps):
        (loss, _), g = jax.value_and_grad(critic_loss, has_aux=True)({"critic": cp}, {"critic": {}}, gp, {}, batch,
                                                                     jax.random.fold_in(k_critic, k), k)
        losses.append(loss)
        cp = jax.tree.map(lambda p, d: p - 0.05 * d, cp, g["critic"])
    (gl, _), gg = jax.value_and_grad(generator_loss, has_aux=True)(gp, {}, {"critic": cp}, {"critic": {}}, batch, k_gen)
    updates, _ = tx.update(gg, state.opt_state, gp)
    gp_new = optax.apply_updates(gp, updates)

    for a, b in zip(jax.tree.leaves(new.extra["critics"]["critic"]["params"]), jax.tree.leaves(cp)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(gp_new)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], gl, rtol=1e-5)
    np.testing.assert_allclose(metrics["critic_loss"], np.mean(losses), rtol=1e-5)
    assert int(new.step) == 1 and set(metrics) >= {"loss", "fake_mean", "grad_norm", "critic_loss", "critic_real",
                                                   "critic_grad_norm"}


def test_fori_loop_and_unrolled_critic_updates_agree_and_critic_gradient_skips_the_generator():
    critic_loss, generator_loss = _players()
    tx = optax.adam(1e-2)
    critics = Critics({"critic": optax.adam(1e-2)})
    state = _state(tx, critics)
    batch = {"x": jax.random.normal(jax.random.PRNGKey(2), (B, 4, D_X))}
    a = jax.jit(make_adversarial_step(generator_loss, critic_loss, tx, critics, critic_steps=4))(
        state, batch, jax.random.PRNGKey(0))
    b = jax.jit(make_adversarial_step(generator_loss, critic_loss, tx, critics, critic_steps=4, unroll=True))(
        state, batch, jax.random.PRNGKey(0))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)

    # With a generator optimiser that ignores its gradient, the generator stays put: the critic's
    # updates never move it (its gradient is cut), only its own update does.
    frozen = optax.set_to_zero()
    new, _ = jax.jit(make_adversarial_step(generator_loss, critic_loss, frozen, critics, critic_steps=2))(
        _state(frozen, critics), batch, jax.random.PRNGKey(0))
    for x, y in zip(jax.tree.leaves(new.params), jax.tree.leaves(state.params)):
        np.testing.assert_array_equal(x, y)


def test_critics_are_checked_against_their_optimisers():
    with pytest.raises(ValueError, match="at least one critic"):
        Critics({})
    tx = optax.sgd(0.1)
    with pytest.raises(ValueError, match="do not match"):
        init_adversarial_state({"params": {"a": jnp.zeros(2)}}, tx, {"image": {"params": {"a": jnp.zeros(2)}}},
                               Critics({"video": tx}))
    critic_loss, generator_loss = _players()
    with pytest.raises(ValueError, match="critic_steps must be >= 1"):
        make_adversarial_step(generator_loss, critic_loss, tx, Critics({"critic": tx}), critic_steps=0)
