"""Adversarially regularised autoencoder (ARAE) for unaligned sentiment transfer: Zhao, Kim, Zhang,
Rush & LeCun (2018), "Adversarially regularized autoencoders for unaligned text style-transfer",
Eq. 1, Alg. 1 and Sec. 4.

Networks (`Networks`):

- enc_φ: a deterministic RNN encoder (`RNNEncoder`), its code c = enc_φ(x) normalised onto the unit
  sphere (`objectives.arae.unit_sphere`);
- p_ψ(x | c, y): one `RNNDecoder` per sentiment value y ∈ {0, 1}, "two separate decoders, one for
  positive and one for negative sentiment" (Sec. 4); decoder y is trained only on sentences of
  sentiment y;
- g_θ: z ~ N(0, I) ↦ c̃, an MLP, its output normalised onto the same sphere;
- f_w: the WGAN critic on codes, an MLP with a scalar output and no sigmoid, its weights clipped to
  [−ε, ε] after every update (Eq. 1; `objectives.adversarial.clip_params`);
- p_u(y | c): the code classifier, an MLP with two logits.

Objective (Sec. 3): min_{φ,ψ,θ} L_rec(φ, ψ) + λ⁽¹⁾ W(P_r, P_g) − λ⁽²⁾ L_class(φ, u), λ⁽²⁾ = 1, by
block coordinate descent (Alg. 1). One jitted train step runs, in this order, each block on its own
fresh minibatch (Alg. 1 samples one per block) and with its own optax optimiser:

  (1)  φ, ψ:  L_rec = −(1/m) Σ log p_ψ(x | c, y)             (`config.optimizer`)
  (2)  w, k times: −mean f_w(c) + mean f_w(c̃), then clip w   (`critic.optimizer`, then clipping)
  (2b) u:     −mean log p_u(y | c)                            (`classifier.optimizer`)
  (3)  φ, θ:  mean f_w(c) − mean f_w(c̃)     (φ: gradient × λ⁽¹⁾, a `config.optimizer` of its own;
                                              θ: `generator.optimizer`)
  (3b) φ:     −mean log p_u(1 − y | c)       (gradient × λ⁽²⁾, a `config.optimizer` of its own)

Each block sees the parameters the blocks before it in the same step produced; the networks a block
does not update are held fixed (a block differentiates only its own parameters). The plain
autoencoder (λ⁽¹⁾ = λ⁽²⁾ = 0, the "AE" row of Table 1; config `arae_ae_sentiment_text`) skips blocks
2–3b and holds no generator, critic or classifier: block (1) alone, with the same encoder and the
same attribute-conditioned decoders.

State (one `TrainState`, so the loop checkpoints and resumes it like any method): `params` = the
autoencoder {"encoder", "decoder_0", "decoder_1"} and `opt_state` its optimiser; `extra` holds
{"generator", "critic", "classifier"} ({"params", "opt_state"} each) and the encoder's optimiser
states of blocks 3 and 3b ({"encoder_adversarial", "encoder_confusion"}: {"opt_state"}), those of a
block with λ = 0 absent. The step advances once per Alg. 1 iteration.

Batches (`sample_batch`): "tokens" [B, S, L], "length" [B, S], "sentiment" [B, S], S the number of
minibatches one iteration uses (1 + k + 3 for ARAE, 1 for the AE); the first B/2 rows are negative
sentences and the last B/2 positive ones, drawn uniformly from the corpus's train split, so each
decoder reconstructs B/2 sentences of its own sentiment per step (the paper trains on "two sets of
unaligned positive and negative reviews", Sec. 4) and no decoder runs on the other half.

Transfer (Sec. 4): encode, then decode greedily with the decoder of the opposite sentiment.

What the paper leaves open, chosen here (the paper gives λ⁽²⁾ = 1 and nothing else; where a value
follows the authors' released code, jakezhaojb/ARAE `yelp/train.py`, it says so; that code uses
WGAN-GP where the workshop paper clips):

- optimisation of φ and ψ: plain SGD, learning rate 1, gradients clipped to global norm 1, for the
  autoencoder step and for each of the encoder's steps (3) and (3b) (the authors' code: one SGD(1)
  with clipping 1 for every encoder update). This is what gives λ⁽¹⁾ and λ⁽²⁾ their meaning: they
  weight the encoder's *gradients*, as in the joint objective L_rec + λ⁽¹⁾ W − λ⁽²⁾ L_class, and SGD
  turns a weighted gradient into a weighted step. With Adam, each block's own Adam would normalise
  the weight away (its step does not depend on the gradient's scale) and turn the near-zero
  adversarial gradients of a balanced game into full-size steps; measured here with Adam 1e-3
  and separate states, reconstruction collapsed (exact reconstructions 0.2 % after 2,000 steps
  against 81 % with SGD).
- the critic, the generator and the classifier: Adam(1e-4, β₁ = 0.5) (the authors' code).
- λ⁽¹⁾ = 1 (Table 1's λ_a and λ_b have no values). The critic's clipped weights keep its slope, and
  so the encoder's gradient from W, small; the authors' 0.01 goes with a gradient-penalised critic
  of slope near 1.
- ε = 0.01 and k = 5: the values of Arjovsky et al. (2017), whose weight-clipped WGAN the paper
  uses (k = 5 is also the authors' code).
- code: 128 dimensions on the unit sphere. A WGAN critic with clipped weights has a bounded slope,
  so an encoder free to scale its codes could shrink or inflate the critic's distances at will; on
  the sphere both distributions live on one compact set. The generator's codes are normalised the
  same way, so the critic compares directions only. z has 32 dimensions (the authors' code).
- sizes: GRU encoder and decoders with 128-dimensional embeddings and 256 hidden units; generator
  and critic (LeakyReLU 0.2) of two hidden layers of 256, the classifier one of 256. CPU-sized for
  a vocabulary of 138 words and sentences of at most 16 tokens.
- L_rec is the summed token NLL of a sentence (the paper's −log p_ψ(x | c)), averaged over the batch.
- batch 64 (32 per sentiment, the authors' 64 per sentiment halved); 2,500 iterations, a CPU budget
  of about 5.5 minutes on two cores (the paper trains for 25 epochs of Yelp).
- no noise on the codes (the authors' code adds annealed Gaussian noise to the codes; the paper
  does not mention it).

Evaluation (`evaluations`, written to evaluation.json): Table 1's automatic row on 1,000 test
sentences with `disentax.evaluation.text.transfer_report`: transfer accuracy (a CNN judge trained on
the corpus's held-out judge split, in place of fastText), BLEU against the source, perplexity under
an LSTM language model trained on real sentences, reverse perplexity (an LM trained on the
transfers, scored on real test sentences), plus what the procedural corpus knows exactly: the
lexicon's transfer accuracy, BLEU against the exact counterpart and the nouns kept. Next to it: the
reconstruction with the source's own decoder, how well a logistic-regression probe reads sentiment
from the code (what the adversarial classifier is there to remove), and the paper's rows under
`paper_table_1`. Pictures: `transfers.md` (sources, reconstructions, transfers, exact counterparts)
and `codes.png` (the test codes' first two principal components by sentiment, with the generator's
codes).
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from disentax.errors import ConfigError
from disentax.evaluation.text import bleu, transfer_report
from disentax.methods.contract import (
    Check,
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    greater_than,
    one_of,
    positive_ints,
)
from disentax.methods.registry import register
from disentax.metrics.chunked import apply_in_chunks
from disentax.models.sequence import RNNDecoder, RNNEncoder, teacher_inputs
from disentax.objectives import adversarial
from disentax.objectives import arae as objectives
from disentax.objectives.text import EOS, sequence_nll
from disentax.train.optim import OPTIMIZERS, make_optimizer
from disentax.train.step import TrainState, optimizer_update

__all__ = ["ARAE", "PAPER_TABLE_1", "Blocks", "CodeMLP", "Networks", "arae_evaluation", "make_blocks",
           "transfer_tokens"]

NO_CODE = ("ARAE's code is a sentence's, scored by what it does for sentiment transfer rather than by the image "
           "representation metrics: Zhao et al. (2018)'s Table 1 row (transfer, BLEU, perplexity, reverse "
           "perplexity) and a sentiment probe of the code are in evaluation.json")

# Zhao et al. (2018), Table 1 (automatic evaluation; transfer as a fraction), in the keys of
# `disentax.evaluation.text.transfer_report`. The Cross-Aligned AE row is Shen et al. (2017)'s.
PAPER_TABLE_1 = {
    "Cross-Aligned AE": {"transfer_accuracy": 0.771, "bleu_source": 17.75, "perplexity": 65.9,
                         "reverse_perplexity": 124.2},
    "AE": {"transfer_accuracy": 0.593, "bleu_source": 37.28, "perplexity": 31.9, "reverse_perplexity": 68.9},
    "ARAE lambda_a": {"transfer_accuracy": 0.734, "bleu_source": 31.15, "perplexity": 29.7,
                      "reverse_perplexity": 70.1},
    "ARAE lambda_b": {"transfer_accuracy": 0.818, "bleu_source": 20.18, "perplexity": 27.7,
                      "reverse_perplexity": 77.0},
}
TABLE_1_KEYS = ("transfer_accuracy", "bleu_source", "perplexity", "reverse_perplexity")


# ----------------------------------------------------------------------------- networks


class CodeMLP(nn.Module):
    """x [B, D] -> Dense(hidden[0]) -> LeakyReLU -> ... -> Dense(features) [B, features]."""

    hidden: tuple[int, ...]
    features: int
    negative_slope: float = 0.2

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.leaky_relu(nn.Dense(int(width))(x), negative_slope=self.negative_slope)
        return nn.Dense(int(self.features))(x)


@dataclasses.dataclass(frozen=True)
class Networks:
    """The modules of ARAE and how each is applied to its parameters (hashable: a static jit argument)."""

    encoder: RNNEncoder
    decoder: RNNDecoder  # one definition; its two parameter sets are decoder_0 and decoder_1
    generator: CodeMLP
    critic: CodeMLP
    classifier: CodeMLP
    z_dim: int
    max_length: int

    def encode(self, params, tokens, lengths):
        """c = enc_φ(x) / ‖enc_φ(x)‖, [B, C]; `params` the encoder's."""
        code, _ = self.encoder.apply({"params": params}, tokens, lengths)
        return objectives.unit_sphere(code)

    def generate(self, params, z):
        """c̃ = g_θ(z) / ‖g_θ(z)‖, [B, C]."""
        return objectives.unit_sphere(self.generator.apply({"params": params}, z))

    def score(self, params, codes):
        """f_w(c) [B]."""
        return self.critic.apply({"params": params}, codes)[:, 0]

    def classify(self, params, codes):
        """Logits of p_u(y | c) [B, 2]."""
        return self.classifier.apply({"params": params}, codes)

    def logits(self, autoencoder, value: int, codes, tokens):
        """Teacher-forced logits [B, L, V] of decoder `value` for targets `tokens`."""
        return self.decoder.apply({"params": autoencoder[f"decoder_{value}"]}, codes, teacher_inputs(tokens))

    def greedy(self, autoencoder, value: int, codes):
        """Greedy sentences [B, max_length] of decoder `value` from `codes`."""
        tokens, _ = self.decoder.apply({"params": autoencoder[f"decoder_{value}"]}, codes, self.max_length,
                                       method=RNNDecoder.greedy)
        return tokens


def _networks(hp, dataset) -> Networks:
    vocab = int(dataset.vocab.size)
    code_dim = int(hp.code_dim)
    return Networks(
        encoder=RNNEncoder(vocab, int(hp.embed_dim), int(hp.hidden), str(hp.cell), code_dim),
        decoder=RNNDecoder(vocab, int(hp.embed_dim), int(hp.hidden), str(hp.cell)),
        generator=CodeMLP(tuple(int(w) for w in hp.generator_hidden), code_dim),
        critic=CodeMLP(tuple(int(w) for w in hp.critic_hidden), 1),
        classifier=CodeMLP(tuple(int(w) for w in hp.classifier_hidden), 2),
        z_dim=int(hp.z_dim), max_length=int(dataset.max_length))


# ----------------------------------------------------------------------------- the blocks of Alg. 1


@dataclasses.dataclass(frozen=True)
class Blocks:
    """Alg. 1's update blocks, each `(state, minibatch, key) -> (state, metrics)` on one minibatch
    {"tokens" [B, L], "length" [B], "sentiment" [B]} (first half negative, second half positive),
    and the step that runs them in order. A block of a weight that is 0 is None."""

    networks: Networks
    slots: Mapping[str, tuple[int, ...]]  # block -> the minibatch indices (axis 1 of a batch) it uses
    init_state: Callable
    sample_batch: Callable
    train_step: Callable
    autoencoder_step: Callable  # (1)
    critic_step: Callable | None  # (2), one update
    classifier_step: Callable | None  # (2b)
    adversarial_step: Callable | None  # (3)
    confusion_step: Callable | None  # (3b)


def minibatch(batch, j: int) -> dict:
    """Minibatch j of a batch [B, S, ...] -> [B, ...]."""
    return {name: value[:, j] for name, value in batch.items()}


def _slots(use_gan: bool, use_class: bool, critic_steps: int) -> dict:
    slots, n = {"autoencoder": (0,)}, 1
    for name, count, used in (("critic", critic_steps, use_gan), ("classifier", 1, use_class),
                              ("adversarial", 1, use_gan), ("confusion", 1, use_class)):
        if used:
            slots[name] = tuple(range(n, n + count))
            n += count
    return slots


def _balanced_sampler(dataset, num_minibatches: int) -> Callable:
    """`sample_batch(key, B)`: S minibatches of B/2 negative then B/2 positive train sentences."""
    train = dataset.split_arrays("train")
    tokens = jnp.asarray(np.asarray(train["tokens"]), jnp.int32)
    length = jnp.asarray(np.asarray(train["length"]), jnp.int32)
    sentiment = np.asarray(train["sentiment"]).astype(np.int32)
    pools = [jnp.asarray(np.flatnonzero(sentiment == v), jnp.int32) for v in (0, 1)]
    if min(p.size for p in pools) == 0:
        raise ConfigError("arae needs sentences of both sentiments in the train split")
    sentiment = jnp.asarray(sentiment)

    def sample_batch(key, batch_size):
        half = int(batch_size) // 2
        idx = jnp.concatenate([pool[jax.random.randint(k, (half, num_minibatches), 0, pool.size)]
                               for pool, k in zip(pools, jax.random.split(key))], 0)
        return {"tokens": tokens[idx], "length": length[idx], "sentiment": sentiment[idx]}

    return sample_batch


def _with(state, **held):
    return state.replace(extra={**state.extra, **held})


def make_blocks(config, dataset) -> Blocks:
    """The networks, Alg. 1's blocks and the train step of `config.arae` on `dataset`."""
    hp = config.arae
    attributes = getattr(dataset, "attributes", {})
    if attributes.get("sentiment") != 2 or not hasattr(dataset, "split_arrays"):
        raise ConfigError(f"arae transfers a binary sentiment: it needs a sentence corpus with a 'sentiment' "
                          f"attribute of 2 values (dataset sentiment_text), not {config.dataset!r}")
    nets = _networks(hp, dataset)
    lambda_adv, lambda_class, k = float(hp.lambda_adv), float(hp.lambda_class), int(hp.critic_steps)
    use_gan, use_class = lambda_adv > 0, lambda_class > 0
    slots = _slots(use_gan, use_class, k)
    num_minibatches = sum(len(s) for s in slots.values())

    ae_tx = make_optimizer(config.optimizer)
    # The encoder's steps (3) and (3b): the autoencoder's optimiser settings, each block its own
    # instance and state, on the λ-weighted loss (see the module docstring).
    adv_tx = make_optimizer(config.optimizer)
    conf_tx = make_optimizer(config.optimizer)
    critic_tx = optax.chain(make_optimizer(hp.critic.optimizer), adversarial.clip_params(float(hp.clip)))
    gen_tx = make_optimizer(hp.generator.optimizer)
    cls_tx = make_optimizer(hp.classifier.optimizer)

    def init_state(key, batch):
        tokens, lengths = batch["tokens"][:1, 0], batch["length"][:1, 0]
        k_enc, k_d0, k_d1, k_gen, k_cri, k_cls = jax.random.split(key, 6)
        code = jnp.zeros((1, int(hp.code_dim)), jnp.float32)
        params = {"encoder": nets.encoder.init(k_enc, tokens, lengths)["params"],
                  "decoder_0": nets.decoder.init(k_d0, code, teacher_inputs(tokens))["params"],
                  "decoder_1": nets.decoder.init(k_d1, code, teacher_inputs(tokens))["params"]}
        extra = {}
        if use_gan:
            gen = nets.generator.init(k_gen, jnp.zeros((1, nets.z_dim), jnp.float32))["params"]
            cri = nets.critic.init(k_cri, code)["params"]
            extra["generator"] = {"params": gen, "opt_state": gen_tx.init(gen)}
            extra["critic"] = {"params": cri, "opt_state": critic_tx.init(cri)}
            extra["encoder_adversarial"] = {"opt_state": adv_tx.init(params["encoder"])}
        if use_class:
            cls = nets.classifier.init(k_cls, code)["params"]
            extra["classifier"] = {"params": cls, "opt_state": cls_tx.init(cls)}
            extra["encoder_confusion"] = {"opt_state": conf_tx.init(params["encoder"])}
        return TrainState.create(params, ae_tx, **extra)

    # (1) ------------------------------------------------------------------------------------------
    def reconstruction(autoencoder, mb):
        codes = nets.encode(autoencoder["encoder"], mb["tokens"], mb["length"])
        half = mb["tokens"].shape[0] // 2
        losses, auxes = [], []
        for value in (0, 1):  # decoder y on its own half of the batch (see `_balanced_sampler`)
            part = slice(value * half, (value + 1) * half)
            loss, aux = sequence_nll(nets.logits(autoencoder, value, codes[part], mb["tokens"][part]),
                                     mb["tokens"][part], mb["length"][part])
            losses.append(loss)
            auxes.append(aux)
        aux = {name: 0.5 * (auxes[0][name] + auxes[1][name]) for name in ("token_nll", "token_accuracy")}
        return 0.5 * (losses[0] + losses[1]), aux

    def autoencoder_step(state, mb, key):
        del key
        (loss, aux), grads = jax.value_and_grad(reconstruction, has_aux=True)(state.params, mb)
        params, opt_state = optimizer_update(ae_tx, grads, state.params, state.opt_state)
        return state.replace(params=params, opt_state=opt_state), {"loss": loss, **aux,
                                                                   "grad_norm": optax.tree.norm(grads)}

    # (2) ------------------------------------------------------------------------------------------
    def critic_update(state, real, key):
        """One critic update on encoder codes `real` [B, C] against B fresh generator codes."""
        z = jax.random.normal(key, (real.shape[0], nets.z_dim), jnp.float32)
        fake = nets.generate(state.extra["generator"]["params"], z)
        held = state.extra["critic"]

        def loss_fn(w):
            return adversarial.wgan_critic_loss(nets.score(w, real), nets.score(w, fake))

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(held["params"])
        w, opt_state = optimizer_update(critic_tx, grads, held["params"], held["opt_state"])
        return _with(state, critic={"params": w, "opt_state": opt_state}), {"critic_loss": loss, **aux}

    def critic_step(state, mb, key):
        return critic_update(state, nets.encode(state.params["encoder"], mb["tokens"], mb["length"]), key)

    def critic_steps(state, batch, key):
        # φ is fixed during the k updates: the k minibatches are encoded in one pass.
        j = slots["critic"]
        tokens = jnp.swapaxes(batch["tokens"][:, j[0]:j[-1] + 1], 0, 1)  # [k, B, L]
        lengths = jnp.swapaxes(batch["length"][:, j[0]:j[-1] + 1], 0, 1)
        codes = nets.encode(state.params["encoder"], tokens.reshape(-1, tokens.shape[-1]), lengths.reshape(-1))
        codes = codes.reshape(k, -1, codes.shape[-1])
        total = None
        for i in range(k):
            state, m = critic_update(state, codes[i], jax.random.fold_in(key, i))
            total = m if total is None else jax.tree.map(jnp.add, total, m)
        return state, {"critic_loss": total["critic_loss"] / k, "wasserstein": total["wasserstein"] / k}

    # (2b) -----------------------------------------------------------------------------------------
    def classifier_step(state, mb, key):
        del key
        codes = nets.encode(state.params["encoder"], mb["tokens"], mb["length"])
        held = state.extra["classifier"]

        def loss_fn(u):
            return objectives.code_classifier_loss(nets.classify(u, codes), mb["sentiment"])

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(held["params"])
        u, opt_state = optimizer_update(cls_tx, grads, held["params"], held["opt_state"])
        return (_with(state, classifier={"params": u, "opt_state": opt_state}),
                {"classifier_loss": loss, "classifier_accuracy": aux["accuracy"]})

    # (3) ------------------------------------------------------------------------------------------
    def adversarial_step(state, mb, key):
        z = jax.random.normal(key, (mb["tokens"].shape[0], nets.z_dim), jnp.float32)
        w = state.extra["critic"]["params"]

        def loss_fn(phi, theta):
            real = nets.score(w, nets.encode(phi, mb["tokens"], mb["length"]))
            return objectives.code_adversary_loss(real, nets.score(w, nets.generate(theta, z)))

        gen = state.extra["generator"]
        (loss, _), (g_phi, g_theta) = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(
            state.params["encoder"], gen["params"])
        # L_rec + λ(1) W: the encoder's gradient weighted by λ(1); θ appears only in W, so its own
        # optimiser takes the unweighted gradient (a constant factor is its learning rate's business).
        g_phi = jax.tree.map(lambda g: lambda_adv * g, g_phi)
        phi, phi_opt = optimizer_update(adv_tx, g_phi, state.params["encoder"],
                                        state.extra["encoder_adversarial"]["opt_state"])
        theta, theta_opt = optimizer_update(gen_tx, g_theta, gen["params"], gen["opt_state"])
        state = state.replace(params={**state.params, "encoder": phi})
        return (_with(state, generator={"params": theta, "opt_state": theta_opt},
                      encoder_adversarial={"opt_state": phi_opt}),
                {"adversary_loss": loss})

    # (3b) -----------------------------------------------------------------------------------------
    def confusion_step(state, mb, key):
        del key
        u = state.extra["classifier"]["params"]

        def loss_fn(phi):
            logits = nets.classify(u, nets.encode(phi, mb["tokens"], mb["length"]))
            return objectives.classifier_confusion_loss(logits, mb["sentiment"])

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["encoder"])
        grads = jax.tree.map(lambda g: lambda_class * g, grads)  # − λ(2) L_class
        phi, opt_state = optimizer_update(conf_tx, grads, state.params["encoder"],
                                          state.extra["encoder_confusion"]["opt_state"])
        state = state.replace(params={**state.params, "encoder": phi})
        return _with(state, encoder_confusion={"opt_state": opt_state}), {"confusion_loss": loss,
                                                                         "classifier_fooled": aux["fooled"]}

    def train_step(state, batch, key, log=True):
        """One iteration of Alg. 1: blocks (1), (2) × k, (2b), (3), (3b) in order."""
        del log  # nothing here is a diagnostic
        keys = jax.random.split(key, 5)
        state, metrics = autoencoder_step(state, minibatch(batch, slots["autoencoder"][0]), keys[0])
        if use_gan:
            state, m = critic_steps(state, batch, keys[1])
            metrics.update(m)
        if use_class:
            state, m = classifier_step(state, minibatch(batch, slots["classifier"][0]), keys[2])
            metrics.update(m)
        if use_gan:
            state, m = adversarial_step(state, minibatch(batch, slots["adversarial"][0]), keys[3])
            metrics.update(m)
        if use_class:
            state, m = confusion_step(state, minibatch(batch, slots["confusion"][0]), keys[4])
            metrics.update(m)
        return state.replace(step=state.step + 1), metrics

    return Blocks(
        networks=nets, slots=slots, init_state=init_state,
        sample_batch=_balanced_sampler(dataset, num_minibatches), train_step=train_step,
        autoencoder_step=autoencoder_step,
        critic_step=critic_step if use_gan else None,
        classifier_step=classifier_step if use_class else None,
        adversarial_step=adversarial_step if use_gan else None,
        confusion_step=confusion_step if use_class else None)


# ----------------------------------------------------------------------------- transfer and evaluation


@functools.partial(jax.jit, static_argnums=0)
def _transfer_chunk(nets: Networks, autoencoder, tokens, lengths, target):
    codes = nets.encode(autoencoder["encoder"], tokens, lengths)
    # Both decoders decode every sentence; each row keeps its target's (evaluation only).
    out = [nets.greedy(autoencoder, value, codes) for value in (0, 1)]
    return jnp.where(jnp.asarray(target)[:, None] == 1, out[1], out[0])


# Sentences per call of the jitted encoder/decoder: bounds the memory of a test-set pass.
_CHUNK = 500


@functools.partial(jax.jit, static_argnums=0)
def _encode_chunk(nets: Networks, encoder, tokens, lengths):
    return nets.encode(encoder, tokens, lengths)


def transfer_tokens(nets: Networks, autoencoder, tokens, lengths, target) -> np.ndarray:
    """Zhao et al. (2018), Sec. 4: encode x, decode greedily with the decoder of `target` [N] (the
    opposite sentiment for a transfer, the source's own for a reconstruction) -> tokens [N, L]."""
    tokens, lengths, target = (np.asarray(a).astype(np.int32) for a in (tokens, lengths, target))
    return apply_in_chunks(lambda t, n, y: _transfer_chunk(nets, autoencoder, t, n, y), tokens, lengths, target,
                           chunk=_CHUNK, host=True)


def _codes(nets, encoder, tokens, lengths) -> np.ndarray:
    return apply_in_chunks(lambda t, n: _encode_chunk(nets, encoder, t, n), np.asarray(tokens, np.int32),
                           np.asarray(lengths, np.int32), chunk=_CHUNK, host=True)


def _same_sentence(a, b) -> np.ndarray:
    """Row-wise equality of two token arrays up to and including their first EOS."""
    width = max(a.shape[1], b.shape[1])
    a, b = (np.pad(x, ((0, 0), (0, width - x.shape[1]))) for x in (a, b))
    cut = lambda x: np.where(np.cumsum(x == EOS, 1) - (x == EOS) > 0, 0, x)  # noqa: E731  # PAD after the EOS
    return np.all(cut(a) == cut(b), axis=1)


def _sentiment_probe(nets, encoder, dataset, n: int) -> float:
    """Accuracy on test codes of a logistic regression trained on `n` train codes to read sentiment."""
    from sklearn.linear_model import LogisticRegression

    train, test = dataset.split_arrays("train"), dataset.split_arrays("test")
    n_train = min(int(n), np.asarray(train["tokens"]).shape[0])
    x_train = _codes(nets, encoder, np.asarray(train["tokens"])[:n_train], np.asarray(train["length"])[:n_train])
    y_train = np.asarray(train["sentiment"])[:n_train]
    x_test = _codes(nets, encoder, test["tokens"], test["length"])
    probe = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    return float(probe.score(x_test, np.asarray(test["sentiment"])))


def arae_evaluation(nets: Networks, dataset, hp, row: str, v, key) -> dict:
    """Table 1's automatic row of this run (`transfer_report`'s keys at the top level), the
    reconstruction with the source's own decoder, the sentiment left in the code, the paper's rows."""

    ae = v["autoencoder"]
    report = transfer_report(
        key, lambda t, n, y: transfer_tokens(nets, ae, t, n, y), dataset, num=int(hp.eval_sentences),
        judge_steps=int(hp.judge_steps), lm_steps=int(hp.lm_steps), reverse_steps=int(hp.reverse_steps))
    test = dataset.split_arrays("test")
    n = min(int(hp.eval_sentences), np.asarray(test["tokens"]).shape[0])
    src, lengths = np.asarray(test["tokens"])[:n], np.asarray(test["length"])[:n]
    rebuilt = transfer_tokens(nets, ae, src, lengths, np.asarray(test["sentiment"])[:n])
    decode = dataset.vocab.decode
    result = {
        "row": row,
        "table_1": {name: report[name] for name in TABLE_1_KEYS},
        **report,
        "reconstruction_exact": float(np.mean(_same_sentence(rebuilt, src))),
        "reconstruction_bleu": bleu([decode(r.tolist()) for r in rebuilt], [decode(r.tolist()) for r in src]),
        "code_sentiment_probe": _sentiment_probe(nets, ae["encoder"], dataset, int(hp.probe_sentences)),
        "lambda_adv": float(hp.lambda_adv), "lambda_class": float(hp.lambda_class),
        "paper_table_1": PAPER_TABLE_1,
        "paper_row": "AE" if row == "AE" else "ARAE lambda_a / lambda_b (values not given)",
    }
    if "classifier" in v:
        codes = _codes(nets, ae["encoder"], src, lengths)
        logits = np.asarray(nets.classify(v["classifier"], jnp.asarray(codes)))
        result["code_classifier_accuracy"] = float(np.mean(np.argmax(logits, 1) == np.asarray(test["sentiment"])[:n]))
    return result


def arae_pictures(nets: Networks, dataset, hp, v, key, workdir) -> list[Path]:
    """transfers.md: test sentences of each sentiment, their reconstruction, their transfer and the
    exact counterpart; codes.png: the first two principal components of the test codes, coloured by
    sentiment, with the generator's codes where there is a generator."""
    # A bare Figure draws without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
    from matplotlib.figure import Figure

    workdir = Path(workdir)
    ae = v["autoencoder"]
    test = dataset.split_arrays("test")
    sentiment = np.asarray(test["sentiment"])
    per_side = int(hp.picture_sentences) // 2
    pick = np.concatenate([np.flatnonzero(sentiment == s)[:per_side] for s in (1, 0)])
    src, lengths, y = np.asarray(test["tokens"])[pick], np.asarray(test["length"])[pick], sentiment[pick]
    rebuilt = transfer_tokens(nets, ae, src, lengths, y)
    moved = transfer_tokens(nets, ae, src, lengths, 1 - y)
    counterpart = np.asarray(test["counterpart"])[pick]
    decode = dataset.vocab.decode
    names = ("negative", "positive")
    lines = ["# ARAE sentiment transfer (Zhao et al. (2018), Sec. 4)", "",
             f"Test sentences encoded and decoded greedily with the other sentiment's decoder; λ⁽¹⁾ = "
             f"{float(hp.lambda_adv):g}, λ⁽²⁾ = {float(hp.lambda_class):g}. ✓: the transfer is the exact "
             "counterpart (the same sentence with every polar word flipped).", "",
             "| direction | source | reconstruction | transfer | exact counterpart |", "|---|---|---|---|---|"]
    for i in range(len(pick)):
        mark = " ✓" if _same_sentence(moved[i:i + 1], counterpart[i:i + 1])[0] else ""
        lines.append(f"| {names[y[i]]} → {names[1 - y[i]]} | {decode(src[i].tolist())} | "
                     f"{decode(rebuilt[i].tolist())} | {decode(moved[i].tolist())}{mark} | "
                     f"{decode(counterpart[i].tolist())} |")
    paths = [workdir / "transfers.md", workdir / "codes.png"]
    paths[0].write_text("\n".join(lines) + "\n")

    n = min(1000, sentiment.size)
    codes = _codes(nets, ae["encoder"], np.asarray(test["tokens"])[:n], np.asarray(test["length"])[:n])
    mean = codes.mean(0)
    _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    if "generator" in v:
        z = jax.random.normal(key, (n, nets.z_dim), jnp.float32)
        fake = (np.asarray(nets.generate(v["generator"], z)) - mean) @ vt[:2].T
        ax.scatter(fake[:, 0], fake[:, 1], s=4, c="0.6", label="generator g(z)")
    proj = (codes - mean) @ vt[:2].T
    for s, colour in ((0, "tab:red"), (1, "tab:blue")):
        sel = sentiment[:n] == s
        ax.scatter(proj[sel, 0], proj[sel, 1], s=4, c=colour, label=f"enc(x), {names[s]}")
    ax.set_xlabel("PC 1 of the test codes")
    ax.set_ylabel("PC 2")
    ax.set_title(f"codes, λ(1) = {float(hp.lambda_adv):g}, λ(2) = {float(hp.lambda_class):g}")
    ax.legend(markerscale=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    return paths


def _scored(state) -> dict:
    """What the evaluation and pictures take: the autoencoder, and the generator and classifier where held."""
    v = {"autoencoder": state.params}
    for name in ("generator", "classifier"):
        if name in state.extra:
            v[name] = state.extra[name]["params"]
    return v


def _build(config, dataset) -> Method:
    hp = config.arae
    blocks = make_blocks(config, dataset)
    nets = blocks.networks
    row = "AE" if float(hp.lambda_adv) == 0 and float(hp.lambda_class) == 0 else "ARAE"
    return Method(
        name=config.method, model=nets.encoder, dataset=dataset, init_state=jax.jit(blocks.init_state),
        train_step=blocks.train_step, sample_batch=blocks.sample_batch, codes={}, no_code=NO_CODE,
        variables_of=_scored,
        pictures=lambda v, key, workdir: arae_pictures(nets, dataset, hp, v, key, workdir),
        evaluations=lambda v, key: arae_evaluation(nets, dataset, hp, row, v, key),
    )


def _check(config) -> None:
    b = int(config.batch_size)
    if b < 2 or b % 2:
        raise ConfigError(f"config.batch_size must be even for arae (half negative, half positive sentences), got {b}")


_PAPER = "Zhao et al. (2018)"
_MOMENT = Check(lambda v: 0 <= v < 1, "in [0, 1)")


_AUTHORS = "chosen (the authors' code, jakezhaojb/ARAE yelp/train.py)"


def _optimizer_hps(group: str) -> tuple:
    return (
        Hyperparameter(f"{group}.optimizer.name", "adam", f"optimiser of the {group}", _AUTHORS, one_of(*OPTIMIZERS)),
        Hyperparameter(f"{group}.optimizer.learning_rate", 1e-4, "its learning rate", _AUTHORS, greater_than(0)),
        Hyperparameter(f"{group}.optimizer.b1", 0.5, "Adam β1", _AUTHORS, _MOMENT),
        Hyperparameter(f"{group}.optimizer.b2", 0.999, "Adam β2", "optax default", _MOMENT),
        Hyperparameter(f"{group}.optimizer.eps", 1e-8, "Adam ε", "optax default", greater_than(0)),
        Hyperparameter(f"{group}.optimizer.grad_clip", 0.0, "global-norm gradient clip (0: none)", "", at_least(0)),
    )


ARAE = register(MethodSpec(
    name="arae", build=_build, paper=_PAPER, check=_check,
    summary="RNN autoencoder with one decoder per sentiment, its codes regularised by a WGAN against a "
            "generator and by an adversarial sentiment classifier (Alg. 1); transfer by the other decoder",
    # The paper gives no optimiser, learning rate, batch or length of training (chosen: module docstring):
    # SGD(1) with gradient clipping 1 as the authors' code, so that λ weights the encoder's gradients.
    shared_defaults={"dataset": "sentiment_text", "optimizer.name": "sgd", "optimizer.learning_rate": 1.0,
                     "optimizer.momentum": 0.0, "optimizer.grad_clip": 1.0, "batch_size": 64, "num_steps": 2500},
    hyperparameters=(
        Hyperparameter("lambda_adv", 1.0, "λ(1): weight of the encoder's gradient against the WGAN critic "
                       "(block 3) (0: no generator or critic)", "chosen (Table 1 names λ_a, λ_b without values)",
                       at_least(0)),
        Hyperparameter("lambda_class", 1.0, "λ(2): weight of the encoder's gradient against the code classifier "
                       "(block 3b) (0: no classifier)", f"{_PAPER}, Sec. 3 (\"we always set λ(2) = 1\")", at_least(0)),
        Hyperparameter("critic_steps", 5, "k: critic updates per iteration (Alg. 1, step 2)",
                       "chosen (Arjovsky et al. (2017)'s n_critic; the authors' code)", at_least(1)),
        Hyperparameter("clip", 0.01, "ε: critic weights clipped to [-ε, ε] (Eq. 1)",
                       "chosen (Arjovsky et al. (2017)'s c)", greater_than(0)),
        Hyperparameter("cell", "gru", "recurrent cell of the encoder and decoders", "chosen", one_of("gru", "lstm")),
        Hyperparameter("embed_dim", 128, "word embedding width", "chosen", at_least(1)),
        Hyperparameter("hidden", 256, "RNN hidden units", "chosen", at_least(1)),
        Hyperparameter("code_dim", 128, "code dimensions (on the unit sphere)", "chosen", at_least(2)),
        Hyperparameter("z_dim", 32, "dimensions of the generator's noise z ~ N(0, I)", _AUTHORS, at_least(1)),
        Hyperparameter("generator_hidden", (256, 256), "hidden widths of the generator g", "chosen",
                       positive_ints()),
        Hyperparameter("critic_hidden", (256, 256), "hidden widths of the critic f_w", "chosen", positive_ints()),
        Hyperparameter("classifier_hidden", (256,), "hidden widths of the code classifier p_u", "chosen",
                       positive_ints()),
        *_optimizer_hps("critic"),
        *_optimizer_hps("generator"),
        *_optimizer_hps("classifier"),
        Hyperparameter("eval_sentences", 1000, "test sentences transferred by the evaluation (the paper's human "
                       "evaluation used 1,000)", f"{_PAPER}, Sec. 4", at_least(1)),
        Hyperparameter("judge_steps", 1500, "training steps of the evaluation's sentiment judge (a CNN, in place of "
                       "fastText)", "chosen (disentax.evaluation.text's default)", at_least(1)),
        Hyperparameter("lm_steps", 2000, "training steps of the evaluation's language model (perplexity)",
                       "chosen (disentax.evaluation.text's default)", at_least(1)),
        Hyperparameter("reverse_steps", 2000, "training steps of the reverse-perplexity LM on the transfers "
                       "(0: skip)", "chosen (as lm_steps)", at_least(0)),
        Hyperparameter("probe_sentences", 2000, "train sentences of the logistic-regression sentiment probe of "
                       "the code", "chosen", at_least(2)),
        Hyperparameter("picture_sentences", 24, "test sentences in transfers.md (half of each sentiment)", "chosen",
                       at_least(2)),
    ),
))
