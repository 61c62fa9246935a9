"""GANs on the adversarial step: DCGAN (and its WGAN / WGAN-GP variants) and SD-GAN.

- `dcgan`: Radford, Metz & Chintala (2016): a DCGAN generator from z ~ U[−1, 1]^100 and a DCGAN
  discriminator, with the non-saturating GAN loss (Goodfellow et al. 2014); `loss="wgan"` gives the
  WGAN of Arjovsky, Chintala & Bottou (2017) (weight clipping at c = 0.01, 5 critic updates per
  generator update, RMSProp 5e-5), `loss="wgan_gp"` the WGAN-GP of Gulrajani et al. (2017) (λ = 10,
  5 critic updates, Adam(1e-4, β = (0, 0.9)), no batch norm in the critic). The configs
  `wgan_identity_sprites` and `wgan_gp_identity_sprites` set those published values.
- `sd_gan`: Donahue, Lipton, Balsubramani & McAuley (2018), "Semantically decomposing the latent
  spaces of GANs", Eq. 2: z = [z_I; z_O] with d_I = d_O = 50, real samples are pairs of distinct
  images of one identity, fake samples (G(z_I; z_O¹), G(z_I; z_O²)), judged by the SD-DCGAN Siamese
  discriminator; Adam(2e-4, β₁ = 0.5), batches of 16 identity-matched pairs.

Neither learns an encoder, so the representation metrics do not apply (`Method.no_code`); what they
are scored by is their evaluation (`evaluations`, written to evaluation.json when training ends and
by `disentax evaluate`): identity verification of generated pairs by a judge trained on real images
(`disentax.evaluation.verification`), the paper's Table 1 with the judge in place of FaceNet. A
plain DCGAN is evaluated the same way, its first d_I latent dimensions playing z_I: the paper's
baseline, which should verify near chance because nothing ties its z_I to identity.

Batch norm: every network's running statistics are held in the state and used when drawing the
pictures and the evaluation's images (the generator in inference mode).
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from disentax import viz
from disentax.data import identities
from disentax.errors import ConfigError
from disentax.evaluation.classifiers import train_classifier
from disentax.evaluation.verification import verification_scores
from disentax.methods.contract import (
    Check,
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    greater_than,
    one_of,
)
from disentax.methods.registry import register
from disentax.models.gan import DCGANDiscriminator, DCGANGenerator, SiameseDiscriminator
from disentax.objectives import adversarial
from disentax.train.adversarial import (
    Critics,
    apply_network,
    init_adversarial_state,
    make_adversarial_step,
    variables,
)
from disentax.train.optim import OPTIMIZERS, make_optimizer

__all__ = ["DCGAN", "LOSSES", "SD_GAN", "critic_optimizer_hyperparameters", "generator_variables", "real_minibatch",
           "uniform_latents"]

LOSSES = ("gan", "wgan", "wgan_gp")
NO_CODE = ("a GAN learns a generator and a critic but no encoder, so no representation of an image exists to "
           "score; its evaluation (identity verification of generated pairs) is in evaluation.json")


def uniform_latents(key, n: int, dim: int) -> jax.Array:
    """z ~ U[−1, 1]^dim, [n, dim]: the prior of Radford et al. (2016) and Donahue et al. (2018)."""
    return jax.random.uniform(key, (int(n), int(dim)), jnp.float32, -1.0, 1.0)


def real_minibatch(batch, name: str, k, steps: int):
    """The real minibatch of critic update k: batches of several updates hold them on axis 1."""
    x = batch[name]
    return x[:, k] if steps > 1 else x


def _critic_loss_terms(kind: str, real_logits, fake_logits, penalty=None, weight: float = 10.0):
    if kind == "gan":
        return adversarial.discriminator_loss(real_logits, fake_logits)
    if kind == "wgan":
        return adversarial.wgan_critic_loss(real_logits, fake_logits)
    return adversarial.wgan_gp_critic_loss(real_logits, fake_logits, penalty, weight)


def _generator_loss_terms(kind: str, fake_logits):
    return adversarial.generator_loss(fake_logits) if kind == "gan" else adversarial.wgan_generator_loss(fake_logits)


def _critic_optimizer(hp):
    tx = make_optimizer(hp.critic.optimizer)
    if hp.loss == "wgan":
        tx = optax.chain(tx, adversarial.clip_params(float(hp.clip)))
    return tx


# ----------------------------------------------------------------------------- DCGAN


def _dcgan_parts(config, dataset):
    hp = config.dcgan
    shape = tuple(dataset.image_shape)
    generator = DCGANGenerator(latent_dim=int(hp.latent_dim), image_shape=shape, base=int(hp.base))
    critic = DCGANDiscriminator(base=int(hp.base), batch_norm=hp.loss != "wgan_gp")
    return generator, critic


def _build_dcgan(config, dataset) -> Method:
    hp = config.dcgan
    kind, steps, dim = str(hp.loss), int(hp.critic_steps), int(hp.latent_dim)
    generator, critic = _dcgan_parts(config, dataset)
    critics = Critics({"critic": _critic_optimizer(hp)})
    tx = make_optimizer(config.optimizer)
    gp_weight = float(hp.gp_weight)

    def critic_loss(cp, cs, gp, gs, batch, key, k):
        real = real_minibatch(batch, "x", k, steps)
        k_z, k_gp = jax.random.split(key)
        fake, _ = apply_network(generator, gp, gs, uniform_latents(k_z, real.shape[0], dim), train=True)
        real_logits, state = apply_network(critic, cp["critic"], cs["critic"], real, train=True)
        fake_logits, state = apply_network(critic, cp["critic"], state, fake, train=True)
        penalty = None
        if kind == "wgan_gp":
            penalty, _ = adversarial.gradient_penalty(lambda x: apply_network(critic, cp["critic"], state, x, train=True)[0],
                                                      real, fake, k_gp)
        loss, aux = _critic_loss_terms(kind, real_logits, fake_logits, penalty, gp_weight)
        return loss, (aux, {"critic": state})

    def generator_loss(gp, gs, cp, cs, batch, key):
        n = batch["x"].shape[0]
        fake, gs = apply_network(generator, gp, gs, uniform_latents(key, n, dim), train=True)
        logits, _ = apply_network(critic, cp["critic"], cs["critic"], fake, train=True)
        loss, aux = _generator_loss_terms(kind, logits)
        return loss, (aux, gs)

    def init_state(key, batch):
        k_g, k_d = jax.random.split(key)
        x = real_minibatch(batch, "x", 0, steps)
        g = generator.init(k_g, jnp.zeros((1, dim), jnp.float32), train=False)
        d = critic.init(k_d, x[:1], train=False)
        return init_adversarial_state(g, tx, {"critic": d}, critics)

    def sample_batch(key, batch_size):
        if steps == 1:
            return {"x": dataset.sample(key, batch_size)[0]}
        # One real minibatch per critic update (Arjovsky et al. (2017), Alg. 1), on axis 1 so the
        # data-parallel split of axis 0 still splits examples.
        x = jax.vmap(lambda k: dataset.sample(k, batch_size)[0])(jax.random.split(key, steps))
        return {"x": jnp.swapaxes(x, 0, 1)}

    return _gan_method(config, dataset, hp, generator, init_state, generator_loss, critic_loss, tx, critics,
                       sample_batch, int(hp.identity_dim), dim - int(hp.identity_dim))


def generator_variables(state):
    """What the pictures and evaluations take: the generator's Flax variables (params, batch stats)."""
    return variables(state.params, state.extra["model_state"])


def _gan_method(config, dataset, hp, generator, init_state, generator_loss, critic_loss, tx, critics, sample_batch,
                d_i: int, d_o: int) -> Method:
    """The `Method` of a GAN whose first d_I latent dimensions are read as z_I by the pictures and the
    verification evaluation."""
    def draw(gen_variables, z):
        return generator.apply(gen_variables, z, train=False)

    return Method(
        name=config.method, model=generator, dataset=dataset,
        init_state=jax.jit(init_state),
        train_step=make_adversarial_step(generator_loss, critic_loss, tx, critics, critic_steps=int(hp.critic_steps),
                                         unroll=bool(hp.unroll)),
        sample_batch=sample_batch, codes={}, no_code=NO_CODE, variables_of=generator_variables,
        pictures=_pictures(draw, d_i, d_o),
        evaluations=_evaluations(hp, dataset, draw, d_i, d_o),
    )


# ----------------------------------------------------------------------------- SD-GAN


def _build_sd_gan(config, dataset) -> Method:
    hp = config.sd_gan
    if not hasattr(dataset, "identity_factors"):
        raise ValueError(f"sd_gan needs a dataset with identities (pairs of one identity), such as "
                         f"identity_sprites; {config.dataset!r} has none")
    d_i, d_o, steps = int(hp.identity_dim), int(hp.observation_dim), int(hp.critic_steps)
    generator = DCGANGenerator(latent_dim=d_i + d_o, image_shape=tuple(dataset.image_shape), base=int(hp.base))
    critic = SiameseDiscriminator(base=int(hp.base))
    critics = Critics({"critic": make_optimizer(hp.critic.optimizer)})
    tx = make_optimizer(config.optimizer)

    def fake_pairs(gp, gs, key, n, train):
        """(G(z_I; z_O¹), G(z_I; z_O²)) for n pairs, one generator call over the 2n latents."""
        k_i, k_1, k_2 = jax.random.split(key, 3)
        z_i = uniform_latents(k_i, n, d_i)
        z = jnp.concatenate([jnp.concatenate([z_i, uniform_latents(k_1, n, d_o)], -1),
                             jnp.concatenate([z_i, uniform_latents(k_2, n, d_o)], -1)], 0)
        images, gs = apply_network(generator, gp, gs, z, train=train)
        return images[:n], images[n:], gs

    def critic_loss(cp, cs, gp, gs, batch, key, k):
        x1, x2 = real_minibatch(batch, "x1", k, steps), real_minibatch(batch, "x2", k, steps)
        f1, f2, _ = fake_pairs(gp, gs, key, x1.shape[0], True)
        real_logits, state = apply_network(critic, cp["critic"], cs["critic"], x1, x2, train=True)
        fake_logits, state = apply_network(critic, cp["critic"], state, f1, f2, train=True)
        loss, aux = adversarial.discriminator_loss(real_logits, fake_logits)  # Eq. 2, the D side
        return loss, (aux, {"critic": state})

    def generator_loss(gp, gs, cp, cs, batch, key):
        f1, f2, gs = fake_pairs(gp, gs, key, batch["x1"].shape[0], True)
        logits, _ = apply_network(critic, cp["critic"], cs["critic"], f1, f2, train=True)
        loss, aux = adversarial.generator_loss(logits)  # Eq. 2, non-saturating G side
        return loss, (aux, gs)

    def init_state(key, batch):
        k_g, k_d = jax.random.split(key)
        x = real_minibatch(batch, "x1", 0, steps)
        g = generator.init(k_g, jnp.zeros((1, d_i + d_o), jnp.float32), train=False)
        d = critic.init(k_d, x[:1], x[:1], train=False)
        return init_adversarial_state(g, tx, {"critic": d}, critics)

    def sample_batch(key, batch_size):
        def one(k):
            p = identities.sample_pairs(dataset, k, batch_size)
            return {"x1": p["x1"], "x2": p["x2"]}

        if steps == 1:
            return one(key)
        pairs = jax.vmap(one)(jax.random.split(key, steps))
        return jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), pairs)

    return _gan_method(config, dataset, hp, generator, init_state, generator_loss, critic_loss, tx, critics,
                       sample_batch, d_i, d_o)


# ----------------------------------------------------------------------------- pictures, evaluation


def _pictures(draw, d_i: int, d_o: int, n: int = 8):
    """identity_grid.png: z_I fixed along each row, z_O fixed down each column (Donahue et al. (2018),
    Fig. 1): rows should show one identity each, columns one pose."""

    def pictures(gen_variables, key, workdir) -> list[Path]:
        k_i, k_o = jax.random.split(key)
        z_i, z_o = uniform_latents(k_i, n, d_i), uniform_latents(k_o, n, d_o)
        z = jnp.concatenate([jnp.repeat(z_i, n, 0), jnp.tile(z_o, (n, 1))], -1)
        images = np.asarray(jax.jit(draw)(gen_variables, z))
        path = Path(workdir) / "identity_grid.png"
        viz.image_grid([list(row) for row in images.reshape(n, n, *images.shape[1:])]).save(path)
        return [path]

    return pictures


def generated_verification_pairs(draw, gen_variables, key, num_pairs: int, d_i: int, d_o: int, chunk: int = 500):
    """Class-balanced generated pairs: the first half share z_I (z_O drawn for each image), the second
    half draw z_I and z_O for each image. Returns (x1, x2, same)."""
    if num_pairs < 2 or num_pairs % 2:
        raise ValueError(f"verification needs an even number of pairs >= 2, got {num_pairs}")
    half = num_pairs // 2
    k_i, k_j, k_1, k_2 = jax.random.split(key, 4)
    z_i1 = uniform_latents(k_i, num_pairs, d_i)
    z_i2 = jnp.concatenate([z_i1[:half], uniform_latents(k_j, half, d_i)], 0)
    z1 = jnp.concatenate([z_i1, uniform_latents(k_1, num_pairs, d_o)], -1)
    z2 = jnp.concatenate([z_i2, uniform_latents(k_2, num_pairs, d_o)], -1)
    fn = jax.jit(draw)
    images = lambda z: jnp.concatenate([fn(gen_variables, z[i:i + chunk]) for i in range(0, z.shape[0], chunk)], 0)  # noqa: E731
    same = np.arange(num_pairs) < half
    return images(z1), images(z2), same


def _evaluations(hp, dataset, draw, d_i: int, d_o: int):
    """`evaluations(gen_variables, key)`: verification AUC/accuracy of real and generated pairs, or
    None for a dataset without identities."""
    if not hasattr(dataset, "identity_factors"):
        return None
    columns = [dataset.factor_index(f) for f in dataset.identity_factors]
    sizes = [int(dataset.factor_sizes[c]) for c in columns]

    def sample(key, n):
        x, factors = dataset.sample(key, n)
        return x, factors[:, jnp.asarray(columns)]

    def evaluations(gen_variables, key) -> dict:
        k_judge, k_held, k_real, k_fake = jax.random.split(key, 4)
        judge = train_classifier(k_judge, sample, sizes, steps=int(hp.judge_steps))
        x_held, f_held = sample(k_held, 2000)
        judge_accuracy = {name: float(np.mean(np.asarray(judge.predict(x_held))[:, i] == np.asarray(f_held)[:, i]))
                          for i, name in enumerate(dataset.identity_factors)}
        n = int(hp.verification_pairs)
        real = identities.sample_verification_pairs(dataset, k_real, n)
        x1, x2, same = generated_verification_pairs(draw, gen_variables, k_fake, n, d_i, d_o)
        return {
            "verification": {"real": verification_scores(judge, real["x1"], real["x2"], real["same"]),
                             "generated": verification_scores(judge, x1, x2, same)},
            "judge": {"accuracy": judge_accuracy, "steps": int(hp.judge_steps), "final_loss": judge.final_loss},
            "identity_factors": list(dataset.identity_factors),
        }

    return evaluations


# ----------------------------------------------------------------------------- registration

_RADFORD = "Radford et al. (2016), Sec. 4"
_MOMENT = Check(lambda v: 0 <= v < 1, "in [0, 1)")


def critic_optimizer_hyperparameters(source: str, lr: float, b1: float, b2: float, name: str = "adam"):
    return (
        Hyperparameter("critic.optimizer.name", name, "optimiser of the critic", source, one_of(*OPTIMIZERS)),
        Hyperparameter("critic.optimizer.learning_rate", lr, "its learning rate", source, greater_than(0)),
        Hyperparameter("critic.optimizer.b1", b1, "Adam β1", source, _MOMENT),
        Hyperparameter("critic.optimizer.b2", b2, "Adam β2", source, _MOMENT),
        Hyperparameter("critic.optimizer.eps", 1e-8, "Adam ε", "optax default", greater_than(0)),
        Hyperparameter("critic.optimizer.grad_clip", 0.0, "global-norm gradient clip (0: none)", "", at_least(0)),
    )


_EVALUATION_HPS = (
    Hyperparameter("verification_pairs", 2000, "class-balanced pairs of the verification evaluation (even; the paper "
                   "used 10,000 with FaceNet)", "Donahue et al. (2018), Sec. 4.1", Check(
                       lambda v: v >= 2 and v % 2 == 0, "an even number >= 2")),
    Hyperparameter("judge_steps", 1000, "training steps of the identity-factor judge (batch 64, Adam 1e-3)",
                   "chosen; measured on identity_sprites at 1,000 steps: scale and colour 100 %, shape 58 % (the "
                   "evaluation reports the judge's accuracy next to the AUCs)", at_least(1)),
)

DCGAN = register(MethodSpec(
    name="dcgan", build=_build_dcgan, paper="Radford et al. (2016)",
    summary="DCGAN generator and discriminator, non-saturating GAN loss (or WGAN / WGAN-GP)",
    shared_defaults={"optimizer.learning_rate": 2e-4, "optimizer.b1": 0.5, "batch_size": 128},
    hyperparameters=(
        Hyperparameter("latent_dim", 100, "dimensions of z ~ U[-1, 1]", _RADFORD, at_least(2)),
        Hyperparameter("base", 64, "channels of the first discriminator / last generator layer (doubling per "
                       "layer)", "Radford et al. (2016), Fig. 1 (1024 at 4x4 = 64 x 16)", at_least(1)),
        Hyperparameter("loss", "gan", "gan: non-saturating (Goodfellow et al. 2014); wgan: weight clipping "
                       "(Arjovsky et al. 2017); wgan_gp: gradient penalty (Gulrajani et al. 2017)", "",
                       one_of(*LOSSES)),
        Hyperparameter("critic_steps", 1, "critic updates per generator update (5 for wgan and wgan_gp)",
                       "Arjovsky et al. (2017), Alg. 1", at_least(1)),
        Hyperparameter("clip", 0.01, "wgan: critic weights clipped to [-c, c]", "Arjovsky et al. (2017), Alg. 1",
                       greater_than(0)),
        Hyperparameter("gp_weight", 10.0, "wgan_gp: weight λ of the gradient penalty",
                       "Gulrajani et al. (2017), Alg. 1", at_least(0)),
        Hyperparameter("unroll", False, "critic updates as a Python loop instead of lax.fori_loop (same numbers)",
                       ""),
        Hyperparameter("identity_dim", 50, "evaluation only: the leading latent dimensions that play SD-GAN's "
                       "z_I, so the plain DCGAN is verified as the paper's baseline", "Donahue et al. (2018)",
                       at_least(1)),
        *critic_optimizer_hyperparameters(_RADFORD, 2e-4, 0.5, 0.999),
        *_EVALUATION_HPS,
    ),
    check=lambda c: _check_dcgan(c),
))


def _check_dcgan(c):
    if int(c.dcgan.identity_dim) >= int(c.dcgan.latent_dim):
        raise ConfigError(f"config.dcgan.identity_dim={c.dcgan.identity_dim} must be below "
                          f"config.dcgan.latent_dim={c.dcgan.latent_dim}")


_SD = "Donahue et al. (2018), Sec. 4"
SD_GAN = register(MethodSpec(
    name="sd_gan", build=_build_sd_gan, paper="Donahue et al. (2018)",
    summary="z = [z_I; z_O]; a Siamese discriminator of image pairs teaches z_I identity and z_O the rest",
    shared_defaults={"optimizer.learning_rate": 2e-4, "optimizer.b1": 0.5, "batch_size": 16,
                     "dataset": "identity_sprites"},
    hyperparameters=(
        Hyperparameter("identity_dim", 50, "d_I, dimensions of the identity code z_I", _SD, at_least(1)),
        Hyperparameter("observation_dim", 50, "d_O, dimensions of the observation code z_O", _SD, at_least(1)),
        Hyperparameter("base", 64, "DCGAN width (channels of the first discriminator layer)", _RADFORD, at_least(1)),
        Hyperparameter("critic_steps", 1, "discriminator updates per generator update", _SD, at_least(1)),
        Hyperparameter("unroll", False, "critic updates as a Python loop instead of lax.fori_loop (same numbers)",
                       ""),
        *critic_optimizer_hyperparameters("Donahue et al. (2018), Sec. 4: Adam 2e-4, β1 = 0.5", 2e-4, 0.5, 0.999),
        *_EVALUATION_HPS,
    ),
))
