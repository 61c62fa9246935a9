"""The image GAN networks of disentax.models.gan: architecture (parameter counts written out by hand,
agreement with the same network built from Flax's own layers), BatchNorm behaviour, the stacked expert
committee against separate experts, and the Siamese discriminator's shared trunk."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.models.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    DCGANTrunk,
    Expert,
    ExpertCommittee,
    ICMDiscriminator,
    SiameseDiscriminator,
)

KEY = jax.random.PRNGKey(0)
# For the few real initialisations: XLA's RngBitGenerator compiles several times faster on the CPU
# than threefry, which is inlined once per parameter.
RBG_KEY = jax.random.key(0, impl="unsafe_rbg")


def _variables(module, *args, seed=0, stacked=0, method=None):
    """Random variables in the module's tree, without compiling anything: the shapes from
    jax.eval_shape of init, the values from numpy. Kernels N(0, 1/fan_in) (fan_in without the first
    `stacked` axes), BatchNorm scales 1 + N(0, 0.1^2), running variances U(0.5, 1.5), the rest
    N(0, 0.1^2), so every term matters and activations stay O(1)."""
    shapes = jax.eval_shape(lambda: module.init(KEY, *args, False, method=method))
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name, shape = jax.tree_util.keystr(path), leaf.shape
        if name.endswith("['kernel']"):
            v = rng.normal(size=shape) / np.sqrt(np.prod(shape[stacked:-1]))
        elif name.endswith("['var']"):
            v = rng.uniform(0.5, 1.5, size=shape)
        else:
            v = (name.endswith("['scale']")) + 0.1 * rng.normal(size=shape)
        return jnp.asarray(v, jnp.float32)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def _apply(module, train, method=None, mutable=False):
    """(v, *args) -> module.apply(v, *args, train) (and its batch_stats updates when `mutable`), to use
    inside one jitted function per test: one compilation rather than op-by-op dispatch."""
    kw = {"mutable": ["batch_stats"]} if mutable else {}
    return lambda v, *a: module.apply(v, *a, train, method=method, **kw)


def _count(variables) -> int:
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(variables["params"]))


def _images(seed, shape):
    """Uniform [0, 1) arrays from numpy (a jax.random draw compiles once per shape)."""
    return jnp.asarray(np.random.default_rng(seed).uniform(size=shape), jnp.float32)


def _normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _close(a, b, atol=1e-6, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=rtol)


def _close_trees(a, b, **kw):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    jax.tree.map(lambda u, v: _close(u, v, **kw), a, b)


# --- DCGAN generator -------------------------------------------------------------------------


@pytest.mark.parametrize("image_shape", [(64, 64, 3), (32, 32, 1)])
def test_generator_output_shape_and_range(image_shape):
    gen = DCGANGenerator(8, image_shape, base=4)
    z = _normal(0, (3, 8))
    variables = _variables(gen, z)
    last = f"ConvTranspose_{int(np.log2(image_shape[0] // 4)) - 1}"
    run = jax.jit(lambda v: gen.apply(v, z, True, mutable=["batch_stats", "intermediates"],
                                      capture_intermediates=lambda m, _: m.name == last))
    out, inter = run(variables)
    assert out.shape == (3, *image_shape)
    # The output is (tanh(a) + 1) / 2 of the last transposed convolution's output a.
    a = inter["intermediates"][last]["__call__"][0]
    assert a.shape == out.shape and float(jnp.abs(a).max()) > 0.1
    _close(out, (jnp.tanh(a) + 1) / 2)
    # Saturated: a huge last kernel drives tanh to +-1, and the output still lies in [0, 1].
    big = jax.tree_util.tree_map_with_path(lambda p, v: v * 1e4 if last in jax.tree_util.keystr(p) else v, variables)
    out = np.asarray(run(big)[0])
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.min() < 1e-3 and out.max() > 1 - 1e-3


def test_generator_batch_norm_train_and_eval():
    gen = DCGANGenerator(6, (16, 16, 1), base=4)
    z = _normal(1, (4, 6))
    z_other = z.at[1:].set(_normal(2, (3, 6)))
    variables = _variables(gen, z)
    assert set(variables) == {"params", "batch_stats"}
    # One compiled function per mode, called on batches of the same shape.
    train, evaluate = jax.jit(_apply(gen, True, mutable=True)), jax.jit(_apply(gen, False))
    out, updates = train(variables, z)
    # Training updates the running averages.
    for old, new in zip(jax.tree.leaves(variables["batch_stats"]), jax.tree.leaves(updates["batch_stats"])):
        assert np.abs(old - new).min() > 0
    # Training output of z[0] depends on the rest of the batch (batch statistics) ...
    assert np.abs(out[0] - train(variables, z_other)[0][0]).max() > 1e-3
    # ... the eval output does not: z[0] in its batch and in another batch agree.
    trained = {"params": variables["params"], "batch_stats": updates["batch_stats"]}
    in_batch = evaluate(trained, z)[0]
    _close(evaluate(trained, z_other)[0], in_batch)
    # Eval mode reads the running averages: other statistics, other output.
    assert np.abs(evaluate(variables, z)[0] - in_batch).max() > 1e-3


class _FlaxDCGANGenerator(nn.Module):
    """The 32x32 generator written with nn.ConvTranspose: the reference for the parameter tree."""

    base: int

    @nn.compact
    def __call__(self, z, train):
        bn = lambda: nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)
        h = nn.Dense(4 * 4 * 4 * self.base, use_bias=False)(z).reshape(z.shape[0], 4, 4, 4 * self.base)
        h = nn.relu(bn()(h))
        for c in (2 * self.base, self.base):
            h = nn.relu(bn()(nn.ConvTranspose(c, (4, 4), strides=(2, 2), padding="SAME", use_bias=False)(h)))
        return (jnp.tanh(nn.ConvTranspose(3, (4, 4), strides=(2, 2), padding="SAME")(h)) + 1) / 2


class _FlaxDCGANTrunk(nn.Module):
    """The 32x32 discriminator trunk written with nn.Conv, in DCGANTrunk's tree."""

    base: int

    @nn.compact
    def __call__(self, x, train):
        h = x
        for i in range(3):
            h = nn.Conv(self.base * 2**i, (4, 4), strides=(2, 2), padding="SAME", use_bias=not i, name=f"Conv_{i}")(h)
            if i:
                h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=f"BatchNorm_{i - 1}")(h)
            h = nn.leaky_relu(h, 0.2)
        return h


def test_generator_and_discriminator_match_flax_layers():
    """Same variables, same function as the networks built from nn.ConvTranspose / nn.Conv (every impl
    of the stride-2 layers keeps Flax's parameter tree), in train mode with its batch statistics."""
    z, x = _normal(3, (3, 5)), _images(4, (3, 32, 32, 3))
    gen, ref_gen = DCGANGenerator(5, (32, 32, 3), base=4), _FlaxDCGANGenerator(4)
    disc, ref_trunk = DCGANDiscriminator(base=4), _FlaxDCGANTrunk(4)
    gen_vars, disc_vars = _variables(gen, z), _variables(disc, x)
    assert jax.tree.map(jnp.shape, jax.eval_shape(lambda: ref_gen.init(KEY, z, False))) == \
        jax.tree.map(jnp.shape, gen_vars)
    trunk_vars = {k: v["trunk"] for k, v in disc_vars.items()}
    assert jax.tree.map(jnp.shape, jax.eval_shape(lambda: ref_trunk.init(KEY, x, False))) == \
        jax.tree.map(jnp.shape, trunk_vars)

    @jax.jit
    def run(gv, dv, tv):
        return dict(gen=_apply(gen, True, mutable=True)(gv, z), ref_gen=_apply(ref_gen, True, mutable=True)(gv, z),
                    disc=disc.apply(dv, x, True, mutable=["batch_stats", "intermediates"],
                                    capture_intermediates=lambda m, method: m.name == "trunk"),
                    ref_feats=_apply(ref_trunk, True, mutable=True)(tv, x))

    r = run(gen_vars, disc_vars, trunk_vars)
    _close_trees(r["gen"], r["ref_gen"], atol=1e-5)
    (logits, updates), (ref_feats, ref_updates) = r["disc"], r["ref_feats"]
    feats = updates["intermediates"]["trunk"]["__call__"][0]
    assert feats.shape == (3, 4, 4, 16) and logits.shape == (3,)
    _close(feats, ref_feats, atol=1e-5)
    _close_trees(updates["batch_stats"]["trunk"], ref_updates["batch_stats"], atol=1e-5)
    head = disc_vars["params"]["head"]
    _close(logits, ref_feats.reshape(3, -1) @ head["kernel"][:, 0] + head["bias"][0], atol=1e-5)


def test_dcgan_parameter_counts():
    gen = DCGANGenerator(100, (64, 64, 3), 64)
    shapes = jax.eval_shape(lambda: gen.init(KEY, jnp.zeros((1, 100)), False))
    # Dense 100 -> 4*4*512 without bias (a batch norm follows); BatchNorm (scale, bias) on 512; then
    # transposed convolutions 512 -> 256 -> 128 -> 64 (4x4 kernel, no bias, each followed by BatchNorm)
    # and 64 -> 3 (kernel and bias).
    expected = (
        100 * 4 * 4 * 512 + 2 * 512
        + 16 * 512 * 256 + 2 * 256
        + 16 * 256 * 128 + 2 * 128
        + 16 * 128 * 64 + 2 * 64
        + (16 * 64 * 3 + 3)
    )
    assert expected == 3_576_707
    assert _count(shapes) == expected
    # batch_stats: mean and var of each BatchNorm.
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes["batch_stats"])) == 2 * (512 + 256 + 128 + 64)
    assert jax.eval_shape(lambda v: gen.apply(v, jnp.zeros((2, 100)), False), shapes).shape == (2, 64, 64, 3)

    disc = DCGANDiscriminator(64)
    x = jnp.zeros((2, 64, 64, 3))
    shapes = jax.eval_shape(lambda: disc.init(KEY, x, False))
    # Convolutions 3 -> 64 (with bias, no BatchNorm), 64 -> 128, 128 -> 256, 256 -> 512 (no bias, each
    # with BatchNorm), then Dense 4*4*512 -> 1.
    expected = (
        (16 * 3 * 64 + 64)
        + 16 * 64 * 128 + 2 * 128
        + 16 * 128 * 256 + 2 * 256
        + 16 * 256 * 512 + 2 * 512
        + (4 * 4 * 512 + 1)
    )
    assert expected == 2_765_633
    assert _count(shapes) == expected
    assert jax.eval_shape(lambda v: disc.apply(v, x, False, method="features"), shapes).shape == (2, 4, 4, 512)
    assert jax.eval_shape(lambda v: disc.apply(v, x, False), shapes).shape == (2,)


def test_dcgan_weight_init():
    """N(0, 0.02) kernels (Radford et al. 2016, Sec. 4), zero biases, none before a batch norm."""
    disc = DCGANDiscriminator(base=16)
    variables = jax.jit(lambda k: disc.init(k, jnp.zeros((1, 16, 16, 1)), False))(RBG_KEY)
    conv = variables["params"]["trunk"]["Conv_1"]  # kernel: 4*4*16*32 numbers
    assert abs(float(conv["kernel"].std()) - 0.02) < 0.001 and abs(float(conv["kernel"].mean())) < 0.001
    assert "bias" not in conv and not np.any(variables["params"]["trunk"]["Conv_0"]["bias"])


def test_wgan_gp_critic():
    """batch_norm=False: no normalisation and no batch statistics; the gradient penalty's second-order
    gradient through the CPU stride-2 layers ("auto") equals the one through plain convolutions."""
    x = _images(5, (3, 16, 16, 1))
    critics = {impl: DCGANDiscriminator(base=4, impl=impl, batch_norm=False) for impl in ("auto", "conv")}
    variables = _variables(critics["auto"], x)
    assert set(variables) == {"params"}
    assert not any("BatchNorm" in jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(variables))

    def penalty(params, critic):
        grad_x = jax.grad(lambda x: critic.apply({"params": params}, x, True).sum())(x)
        return jnp.mean((jnp.sqrt(jnp.sum(grad_x**2, axis=(1, 2, 3))) - 1) ** 2)

    @jax.jit
    def run(params):
        score = _apply(critics["auto"], True)
        grads = {impl: jax.grad(penalty)(params, c) for impl, c in critics.items()}
        return score({"params": params}, x), score({"params": params}, x[:1]), grads

    batch, alone, grads = run(variables["params"])
    # Per example: without batch statistics an image's score does not depend on the batch.
    _close(batch[:1], alone)
    _close_trees(grads["auto"], grads["conv"], atol=1e-6, rtol=1e-4)
    # Every kernel is penalised (the output bias is not: it does not change the gradient in x).
    assert all(np.abs(layer["kernel"]).max() > 0 for layer in [*grads["auto"]["trunk"].values(), grads["auto"]["head"]])


# --- Siamese discriminator -------------------------------------------------------------------


def test_siamese_discriminator_shares_the_trunk():
    base = 4
    x1, x2 = _images(6, (2, 32, 32, 3)), _images(7, (2, 32, 32, 3))
    sd = SiameseDiscriminator(base=base)
    variables = _variables(sd, x1, x2)
    params, stats = variables["params"], variables["batch_stats"]
    assert set(params) == {"trunk", "Conv_0", "Dense_0"}

    def head(h1, h2):
        h = jnp.concatenate([h1, h2], axis=-1)
        h = nn.Conv(base * 8, (4, 4), strides=(2, 2), padding="SAME").apply({"params": params["Conv_0"]}, h)
        h = nn.leaky_relu(h, 0.2).reshape(h.shape[0], -1)
        return nn.Dense(1).apply({"params": params["Dense_0"]}, h)[:, 0]

    @jax.jit
    def run(v):
        r = {}
        # Eval: each image through DCGANDiscriminator's trunk (its `features`) with the same variables.
        trunk_vars = {"params": {"trunk": params["trunk"]}, "batch_stats": {"trunk": stats["trunk"]}}
        feats = _apply(DCGANDiscriminator(base=base), False, method="features")
        r["eval"], r["swapped"] = _apply(sd, False)(v, x1, x2), _apply(sd, False)(v, x2, x1)
        r["eval_manual"] = head(feats(trunk_vars, x1), feats(trunk_vars, x2))
        # Train: one trunk call on the 2B batch, so both halves share its batch statistics.
        r["train"], r["updates"] = _apply(sd, True, mutable=True)(v, x1, x2)
        trunk_train = _apply(DCGANTrunk(base), True, mutable=True)
        trunk = {"params": params["trunk"], "batch_stats": stats["trunk"]}
        h, r["trunk_updates"] = trunk_train(trunk, jnp.concatenate([x1, x2]))
        r["train_manual"] = head(h[:2], h[2:])
        # Two separate trunk calls would be a different function (each half by its own statistics).
        r["separate"] = head(trunk_train(trunk, x1)[0], trunk_train(trunk, x2)[0])
        return r

    r = run(variables)
    assert r["eval"].shape == (2,)
    _close(r["eval"], r["eval_manual"])
    # The pair is ordered: swapping the images changes the logits.
    assert np.abs(r["swapped"] - r["eval"]).max() > 1e-4
    _close(r["train"], r["train_manual"])
    _close_trees(r["updates"]["batch_stats"]["trunk"], r["trunk_updates"]["batch_stats"])
    assert np.abs(r["separate"] - r["train"]).max() > 1e-4


@pytest.mark.parametrize("shape", [(2, 48, 48, 3), (2, 64, 32, 3), (2, 4, 4, 3)])
def test_bad_image_sizes(shape):
    x = jnp.zeros(shape)
    for init in (lambda: SiameseDiscriminator(base=2).init(KEY, x, x, False),
                 lambda: DCGANDiscriminator(base=2).init(KEY, x, False),
                 lambda: DCGANGenerator(3, shape[1:], base=2).init(KEY, jnp.zeros((2, 3)), False)):
        with pytest.raises(ValueError, match=r"power-of-two side >= 8") as info:
            jax.eval_shape(init)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="same shape"):
        jax.eval_shape(lambda: SiameseDiscriminator(base=2).init(
            KEY, jnp.zeros((2, 16, 16, 1)), jnp.zeros((3, 16, 16, 1)), False))


# --- Independent causal mechanisms -----------------------------------------------------------


def _expert_slice(variables, i):
    return {k: jax.tree.map(lambda a: a[i], v["expert"]) for k, v in variables.items()}


def test_expert_committee_equals_separate_experts():
    n, features, layers = 3, 8, 2
    committee = ExpertCommittee(num_experts=n, features=features, num_layers=layers)
    expert = Expert(features, layers)
    x, xs = _images(8, (4, 12, 12, 1)), _images(9, (n, 4, 12, 12, 1))
    # A real initialisation, through either method: the same stacked tree, leading axis N on every
    # leaf, the expert's own tree behind it; split rngs give each expert its own kernels.
    inits = jax.jit(lambda k: (committee.init(k, x, False), committee.init(k, xs, False, method="apply_each")))(RBG_KEY)
    jax.tree.map(np.testing.assert_array_equal, inits[0], inits[1])
    assert jax.tree.map(jnp.shape, _expert_slice(inits[0], 0)) == \
        jax.tree.map(jnp.shape, jax.eval_shape(lambda: expert.init(KEY, x, False)))
    assert all(leaf.shape[0] == n for leaf in jax.tree.leaves(inits[0]))
    kernel = inits[0]["params"]["expert"]["Conv_0"]["kernel"]
    assert all(np.abs(kernel[i] - kernel[j]).max() > 1e-3 for i in range(n) for j in range(i))

    variables = _variables(committee, x, stacked=1)

    out = jax.jit(lambda v: dict(
        eval=_apply(committee, False)(v, x), train=_apply(committee, True, mutable=True)(v, x),
        each=_apply(committee, True, method="apply_each", mutable=True)(v, xs)))(variables)
    assert out["eval"].shape == (n, *x.shape)
    assert float(out["eval"].min()) >= 0 and float(out["eval"].max()) <= 1  # sigmoid outputs
    # Each expert on its own, one compiled function reused for every expert.
    expert_eval, expert_train = jax.jit(_apply(expert, False)), jax.jit(_apply(expert, True, mutable=True))
    for i in range(n):
        vi = _expert_slice(variables, i)
        _close(out["eval"][i], expert_eval(vi, x))
        for mode, batch in (("train", x), ("each", xs[i])):  # same batch for all / expert i on its own xs[i]
            ref_out, ref_updates = expert_train(vi, batch)
            _close(out[mode][0][i], ref_out)
            _close_trees(_expert_slice(out[mode][1], i)["batch_stats"], ref_updates["batch_stats"])
    with pytest.raises(ValueError, match="one batch per expert"):
        jax.eval_shape(lambda: committee.apply(variables, xs[:2], False, method="apply_each"))


def test_expert_shape_and_parameters():
    x = jnp.zeros((2, 10, 10, 3))
    expert = Expert(features=4, num_layers=4)
    shapes = jax.eval_shape(lambda: expert.init(KEY, x, False))
    assert jax.eval_shape(lambda v: expert.apply(v, x, False), shapes).shape == x.shape
    # 4 x [3x3 conv without bias, BatchNorm] then a 3x3 conv (with bias) back to the 3 input channels.
    assert _count(shapes) == 9 * 3 * 4 + 3 * (9 * 4 * 4) + 4 * (2 * 4) + (9 * 4 * 3 + 3)


@pytest.mark.parametrize("side, pooled", [(28, 3), (32, 4)])
def test_icm_discriminator(side, pooled):
    x = _images(11, (5, side, side, 1))
    disc = ICMDiscriminator()
    variables = _variables(disc, x)
    assert set(variables) == {"params"}
    logits, logits_eval = jax.jit(lambda v: (_apply(disc, True)(v, x), _apply(disc, False)(v, x)))(variables)
    assert logits.shape == (5,) and float(jnp.abs(logits).max()) > 0
    _close(logits, logits_eval)  # no batch statistics: train is ignored
    convs = (9 * 1 * 16 + 16) + 2 * (9 * 16 * 16 + 16) + (9 * 16 * 32 + 32) + (9 * 32 * 32 + 32) \
        + (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64)
    # Three 2x2 stride-2 pools: 28 -> 14 -> 7 -> 3, 32 -> 16 -> 8 -> 4.
    dense = (pooled * pooled * 64 * 1024 + 1024) + (1024 + 1)
    assert _count(variables) == convs + dense


def test_icm_discriminator_widths_shape_its_layers_and_need_three_blocks():
    x = _images(12, (2, 28, 28, 1))
    disc = ICMDiscriminator(widths=(4, 8, 8), hidden=16)
    convs = (9 * 1 * 4 + 4) + 2 * (9 * 4 * 4 + 4) + (9 * 4 * 8 + 8) + (9 * 8 * 8 + 8) + 2 * (9 * 8 * 8 + 8)
    assert _count(_variables(disc, x)) == convs + (3 * 3 * 8 * 16 + 16) + (16 + 1)
    with pytest.raises(ValueError, match="widths needs 3 entries"):
        _variables(ICMDiscriminator(widths=(4, 8)), x)
