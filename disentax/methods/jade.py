"""JADE (Karimi, Banijamali, Wong & Ghodsi (2018), "JADE: Joint Autoencoders for Dis-Entanglement")
and the two classifiers of its Table 1, as one method with `jade.variant` = jade | single | paired.

Data: `config.dataset` is the scarce primary domain (default `restyled_digits`), of which only
`labels_per_class` labelled training images per class are used (the paper: no unlabelled primary
data); `jade.secondary` names the abundant labelled secondary domain (default `digits`, all of its
training split). Batches are `batch_size` class-matched pairs (`data.labelled.class_matched_pairs`).

Variants (the same batches, steps and optimiser: the same budget):
- "single": primary CNN -> 10-d bottleneck -> dropout MLP, cross-entropy on the primary batch;
- "paired": both CNNs -> bottlenecks -> the one shared MLP, the sum of both cross-entropies.
  The paper feeds the two domains "in alternation"; here each step takes both halves of a batch
  of pairs at once (one gradient of the summed loss);
- "jade": two VAEs with 20-d latents, content (first 10) to the shared MLP, all 20 to the decoder
  mirroring each CNN; the loss is −Eq. 2 (`objectives.cross_domain.jade_loss`).

Gaps of the paper, resolved here:
- q(z2|x, ℓ) is conditioned on ℓ, yet the encoders see only images and ℓ is unknown at test
  time: the content posterior is the image encoder's q(z2|x); ℓ enters through the classifier term
  and the pairing. At test time an image is classified at its content mean, without dropout.
- How pairs are formed is not said: each primary image of a batch gets a secondary image of its
  class drawn uniformly (`class_matched_pairs`); the cross-domain KL is averaged over the pairs.
- No weights are given (all 1): `classifier_weight`, `prior_kl_weight`, `cross_kl_weight`, default 1.
- Small images cannot take three pools: images are upsampled (nearest) to `image_size` = 16 on
  device; the reconstruction term is the Bernoulli log-likelihood of the upsampled image times
  1/s² (s the upsampling factor), i.e. per pixel of the original image.
- No optimiser is given: Adam(1e-3), batch 64 (shared defaults below).

Codes: jade: "primary", the 20-d primary posterior (content 0-9, style 10-19), and its halves;
single/paired: "bottleneck", the 10-d features (deterministic). Evaluation (`evaluation.json`):
primary test error (restyled test split), secondary test error, error on the labelled set, and the
Fig. 2 ratio of within-class to total variance of each code dimension on the primary test split
(mean per block). Pictures: latent_variance.png (that ratio per class and dimension) and, for
jade, reconstructions.png of primary test images.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import viz
from disentax.data.digits import Digits
from disentax.data.labelled import class_matched_pairs, labelled_indices
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.evaluation.cross_domain import variance_heatmap, within_class_variance_ratio
from disentax.evaluation.weak_supervision import classification_error
from disentax.methods.common import gaussian_code
from disentax.methods.contract import (
    Code,
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    between,
    hp_value,
    one_of,
    positive_ints,
)
from disentax.methods.registry import need, register
from disentax.models.jade import VARIANTS, JadeModel, upsample_nearest
from disentax.objectives.cross_domain import classifier_loss, jade_loss
from disentax.objectives.elbo import reconstruction_mean
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

SECONDARY = ("digits",)  # in-memory domains with a class index; TFDS mnist is the one to add


def _test_split(dataset):
    """The held-out split of an in-memory digits domain (the same stratified split every run)."""
    return type(dataset)("test", dataset.test_fraction)


def _build(config, dataset) -> Method:
    hp = config.jade
    if not isinstance(dataset, Digits):
        raise ConfigError(f"method 'jade' needs an in-memory labelled primary domain: config.dataset='restyled_digits' "
                          f"or 'digits', got {config.dataset!r}")
    secondary = get_dataset(str(hp.secondary))
    size = int(hp.image_size)
    for name, ds in (("config.dataset", dataset), ("config.jade.secondary", secondary)):
        if size % int(ds.image_shape[0]) or ds.image_shape[0] != ds.image_shape[1]:
            raise ConfigError(f"config.jade.image_size must be a multiple of the {ds.image_shape[0]}-pixel images "
                              f"of {name}={ds.name!r}, got {size}")
    if secondary.image_shape[0] != dataset.image_shape[0]:  # one reconstruction scale for both domains
        raise ConfigError(f"method 'jade' needs both domains at one image size, got {dataset.image_shape[0]} "
                          f"(config.dataset) and {secondary.image_shape[0]} (config.jade.secondary)")
    variant, likelihood = str(hp.variant), config.model.likelihood
    content, style = int(hp.content_dim), int(hp.style_dim)
    model = JadeModel(variant=variant, primary_shape=tuple(dataset.image_shape),
                      secondary_shape=tuple(secondary.image_shape), image_size=size,
                      primary_channels=tuple(hp.primary_channels), primary_pools=int(hp.primary_pools),
                      secondary_channels=tuple(hp.secondary_channels), secondary_pools=int(hp.secondary_pools),
                      content_dim=content, style_dim=style, classifier_hidden=tuple(hp.classifier_hidden),
                      dropout=float(hp.dropout), num_classes=int(dataset.factor_sizes[0]), likelihood=likelihood)
    tx = make_optimizer(config.optimizer)
    labelled = labelled_indices(dataset, "label", int(hp.labels_per_class), int(hp.labelled_seed))
    sample_batch = class_matched_pairs(dataset, secondary, labelled)
    # Nearest upsampling repeats each pixel s² times: the likelihood per original pixel is 1/s² of it.
    factor = size // int(dataset.image_shape[0])
    scale = 1.0 / factor ** 2
    weights = {"classifier_weight": hp_value(hp.classifier_weight), "prior_weight": hp_value(hp.prior_kl_weight),
               "cross_weight": hp_value(hp.cross_kl_weight)}

    def init_state(key, batch):
        k_init, k_fwd = jax.random.split(key)
        return TrainState.create(model.init(k_init, batch["x"], batch["y"], k_fwd)["params"], tx)

    def loss_fn(params, batch, key, state):
        o = model.apply({"params": params}, batch["x"], batch["y"], key)
        if variant == "single":
            loss, aux = classifier_loss(o["logits_x"], batch["labels"])
        elif variant == "paired":
            loss, aux = classifier_loss(o["logits_x"], batch["labels"], o["logits_y"])
        else:
            x, y = upsample_nearest(batch["x"], factor), upsample_nearest(batch["y"], factor)
            loss, aux = jade_loss(x, o["x_out"], y, o["y_out"], o["mu_x"], o["logvar_x"], o["mu_y"], o["logvar_y"],
                                  o["logits_x"], o["logits_y"], batch["labels"], content_dim=content,
                                  likelihood=likelihood, reconstruction_scale=scale, **weights)
        return loss, (aux, None)

    def encode(params, x):
        return model.apply({"params": params}, x, method=model.encode_primary)

    if variant == "jade":
        codes = {
            "primary": gaussian_code(encode, (("content", content), ("style", style)),
                                     "means of the primary domain's posterior: content q(z2|x) (to the shared "
                                     "classifier), then style q(z1|x)"),
            "content": gaussian_code(lambda p, x: tuple(a[:, :content] for a in encode(p, x)), (("content", content),),
                                     "means of the content posterior q(z2|x)"),
            "style": gaussian_code(lambda p, x: tuple(a[:, content:] for a in encode(p, x)), (("style", style),),
                                   "means of the style posterior q(z1|x)"),
        }
    else:
        codes = {"bottleneck": Code(representation=encode, blocks=(("bottleneck", content),),
                                    description="the 10-d bottleneck between the primary CNN and the classifier",
                                    no_posterior="a deterministic classifier bottleneck, not a posterior")}
    test_x, test_y = _test_split(dataset), _test_split(secondary)
    jitted_encode = jax.jit(encode)  # one compilation shared by the evaluations and the pictures
    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=sample_batch, codes=codes,
                  evaluations=_evaluations(model, jitted_encode, variant, content, dataset, labelled, test_x, test_y),
                  pictures=_pictures(model, jitted_encode, variant, codes, test_x, likelihood,
                                     int(config.num_viz_images)))


def _code_means(encode, variant, params, x):
    out = encode(params, jnp.asarray(x))
    return np.asarray(out[0] if variant == "jade" else out)


def _evaluations(model, encode, variant, content, train, labelled, test_x, test_y):
    def evaluations(params, key) -> dict:
        out = {
            "variant": variant,
            "primary_test_error": classification_error(model, params, test_x.np_images, test_x.np_labels,
                                                       method="classify_primary"),
            "labelled_set_error": classification_error(model, params, train.np_images[labelled],
                                                       train.np_labels[labelled], method="classify_primary"),
            "labelled_examples": int(len(labelled)),
            "primary_test_examples": test_x.num_examples,
        }
        if variant != "single":
            out["secondary_test_error"] = classification_error(model, params, test_y.np_images, test_y.np_labels,
                                                               method="classify_secondary")
            out["secondary_test_examples"] = test_y.num_examples
        ratio = within_class_variance_ratio(_code_means(encode, variant, params, test_x.np_images), test_x.np_labels)
        blocks = {"content": ratio[:, :content], "style": ratio[:, content:]} if variant == "jade" else \
            {"bottleneck": ratio}
        # None where no dimension of a block varies at all (a collapsed encoder): JSON has no NaN.
        out["within_class_variance_ratio"] = {k: float(np.nanmean(v)) if np.isfinite(v).any() else None
                                              for k, v in blocks.items()}
        return out

    return evaluations


def _pictures(model, encode, variant, codes, test_x, likelihood, n):
    code = next(iter(codes.values()))

    def pictures(params, key, workdir):
        workdir = Path(workdir)
        ratio = within_class_variance_ratio(_code_means(encode, variant, params, test_x.np_images), test_x.np_labels)
        paths = [variance_heatmap(workdir / "latent_variance.png", ratio, code.dim_names(),
                                  f"{variant}: variance of each code mean within a class / over all\n"
                                  f"{test_x.num_examples} primary test images (cf. Karimi et al. 2018, Fig. 2)")]
        if variant == "jade":
            x = test_x.np_images[np.asarray(jax.random.choice(key, test_x.num_examples, (n,), replace=False))]

            @jax.jit
            def reconstruct(p, x):
                mu, _ = model.apply({"params": p}, x, method=model.encode_primary)
                return reconstruction_mean(model.apply({"params": p}, mu, method=model.decode_primary), likelihood)

            up = np.asarray(upsample_nearest(jnp.asarray(x), int(model.image_size) // x.shape[1]))
            paths.append(viz.save_reconstructions(workdir / "reconstructions.png", up, np.asarray(reconstruct(params, x))))
        return paths

    return pictures


def _check(c):
    hp = c.jade
    pools = max(int(hp.primary_pools), int(hp.secondary_pools))
    need(c, "image_size", int(hp.image_size) % 2 ** pools == 0, f"divisible by 2**{pools} (one halving per pool)")
    need(c, "primary_pools", int(hp.primary_pools) <= len(hp.primary_channels),
         f"at most the {len(hp.primary_channels)} convolutions of config.jade.primary_channels")
    need(c, "secondary_pools", int(hp.secondary_pools) <= len(hp.secondary_channels),
         f"at most the {len(hp.secondary_channels)} convolutions of config.jade.secondary_channels")
    if c.model.likelihood != "bernoulli":
        raise ConfigError(f"config.model.likelihood must be bernoulli for method 'jade' (images in [0, 1], "
                          f"decoders with one output per channel), got {c.model.likelihood!r}")


_K = "Karimi et al. (2018)"
JADE = register(MethodSpec(
    name="jade", build=_build, paper=_K,
    summary="two VAEs (scarce primary, abundant secondary domain), content to one shared classifier, cross-domain "
            "KL on class-matched pairs (Eq. 2); variants single / paired classifier",
    hyperparameters=(
        Hyperparameter("variant", "jade", "jade (Eq. 2), single (primary CNN + MLP) or paired (both CNNs, one MLP)",
                       _K + ", Sec. 3 and Table 1", one_of(*VARIANTS)),
        Hyperparameter("secondary", "digits", "the abundant secondary domain (a dataset name)",
                       "offline stand-in for the paper's MNIST", one_of(*SECONDARY)),
        Hyperparameter("labels_per_class", 10, "labelled primary training images per class: the only primary data",
                       "the issue's scarce budget; the paper: 100 (1,000 SVHN images)", at_least(1)),
        Hyperparameter("labelled_seed", 0, "seed choosing the labelled primary set", "", at_least(0)),
        Hyperparameter("content_dim", 10, "content dimensions (to the classifier; the bottleneck of the baselines)",
                       _K + ", Sec. 3", at_least(1)),
        Hyperparameter("style_dim", 10, "style dimensions (jade only: to the decoder only)",
                       _K + ", Sec. 3 (20-d latents)", at_least(1)),
        Hyperparameter("primary_channels", (64, 96, 64, 8), "3x3 convolutions of the primary CNN",
                       _K + ", Sec. 3 (SVHN)", positive_ints()),
        Hyperparameter("primary_pools", 3, "2x2 max-pools, after the first convolutions of the primary CNN",
                       _K + ", Sec. 3", at_least(0)),
        Hyperparameter("secondary_channels", (32, 32, 16), "3x3 convolutions of the secondary CNN",
                       _K + ", Sec. 3 (MNIST)", positive_ints()),
        Hyperparameter("secondary_pools", 3, "2x2 max-pools of the secondary CNN", _K + ", Sec. 3", at_least(0)),
        Hyperparameter("classifier_hidden", (500, 500, 500), "widths of the shared classifier's hidden layers",
                       _K + ", Sec. 3", positive_ints()),
        Hyperparameter("dropout", 0.5, "dropout rate after each hidden layer of the classifier", _K + ", Sec. 3",
                       between(0, 0.95)),
        Hyperparameter("image_size", 16, "images are upsampled (nearest) to this size before the CNNs",
                       "chosen here: the 8x8 digits halved three times end at 2x2 (SVHN's 32 end at 4x4)",
                       at_least(1)),
        Hyperparameter("classifier_weight", 1.0, "weight of −log p(ℓ|content) in each domain's bound",
                       _K + ", Eq. 1 (weight 1)", at_least(0)),
        Hyperparameter("prior_kl_weight", 1.0, "weight of the four KL(q ‖ p) terms", _K + ", Eq. 1 (weight 1)",
                       at_least(0)),
        Hyperparameter("cross_kl_weight", 1.0, "weight of KL(q(z2|x) ‖ q(z4|y)) over class-matched pairs",
                       _K + ", Eq. 2 (weight 1)", at_least(0)),
    ),
    shared_defaults={"dataset": "restyled_digits", "batch_size": 64, "optimizer.learning_rate": 1e-3},
    check=_check,
))
