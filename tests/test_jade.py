"""JADE (Karimi et al. 2018): the objective against a loop over pairs in numpy, the cross-domain KL
against Monte Carlo, the extremes, the class-matched pair sampler, the restyled digits, the Fig. 2
variance ratio, and the method (three variants) trained a few steps."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods
from disentax.data.digits import Digits, load_digits_arrays
from disentax.data.labelled import class_matched_pairs, labelled_indices
from disentax.data.restyled_digits import MIN_CONTRAST, RestyledDigits, _style_parameters, restyle
from disentax.evaluation.cross_domain import within_class_variance_ratio
from disentax.models.jade import DropoutMLP, max_pool_2x2, upsample_nearest
from disentax.objectives.cross_domain import classifier_loss, cross_domain_kl, jade_loss
from disentax.runner import loop

from helpers import same_leaves, tiny_config

PRIMARY, SECONDARY = RestyledDigits("train"), Digits("train")


def _np_kl(m1, lv1, m2, lv2):
    return 0.5 * (lv2 - lv1 + (np.exp(lv1) + (m1 - m2) ** 2) / np.exp(lv2) - 1.0)


def _np_bernoulli(x, logits):
    return np.sum(x * -np.logaddexp(0, -logits) + (1 - x) * -np.logaddexp(0, logits))


def _np_nll(logits, label):
    return np.logaddexp.reduce(logits) - logits[label]


def _problem(rng, b=5, d=6, k=4):
    x, y = rng.uniform(size=(b, 4, 4, 3)), rng.uniform(size=(b, 3, 3, 1))
    return dict(x=x, x_out=rng.normal(size=x.shape) * 2, y=y, y_out=rng.normal(size=y.shape) * 2,
                mu_x=rng.normal(size=(b, d)), logvar_x=rng.normal(size=(b, d)), mu_y=rng.normal(size=(b, d)),
                logvar_y=rng.normal(size=(b, d)), logits_x=rng.normal(size=(b, k)) * 3,
                logits_y=rng.normal(size=(b, k)) * 3, labels=rng.integers(0, k, size=b))


def test_jade_loss_is_minus_eq2_averaged_over_pairs():
    rng = np.random.default_rng(0)
    p = _problem(rng)
    c, scale, wc, wp, wx = 2, 0.25, 0.7, 1.3, 2.0
    with jax.enable_x64(True):
        loss, aux = jade_loss(**{k: jnp.asarray(v) for k, v in p.items()}, content_dim=c, reconstruction_scale=scale,
                              classifier_weight=wc, prior_weight=wp, cross_weight=wx)
    total, cross = 0.0, 0.0
    for i in range(len(p["labels"])):  # one pair at a time, every term written out
        bound = {}
        for d in ("x", "y"):
            mu, lv = p[f"mu_{d}"][i], p[f"logvar_{d}"][i]
            bound[d] = (scale * _np_bernoulli(p[d][i], p[f"{d}_out"][i]) - wc * _np_nll(p[f"logits_{d}"][i], p["labels"][i])
                        - wp * sum(_np_kl(mu[j], lv[j], 0.0, 0.0) for j in range(len(mu))))
        kl = sum(_np_kl(p["mu_x"][i, j], p["logvar_x"][i, j], p["mu_y"][i, j], p["logvar_y"][i, j]) for j in range(c))
        cross += kl / len(p["labels"])
        total += -(bound["x"] + bound["y"] - wx * kl) / len(p["labels"])
    np.testing.assert_allclose(float(loss), total, rtol=1e-10)
    np.testing.assert_allclose(float(aux["cross_kl"]), cross, rtol=1e-10)
    np.testing.assert_allclose(float(aux["kl_style_x"]),
                               np.mean(np.sum(_np_kl(p["mu_x"][:, c:], p["logvar_x"][:, c:], 0, 0), 1)), rtol=1e-10)
    np.testing.assert_allclose(float(aux["accuracy_y"]), np.mean(p["logits_y"].argmax(1) == p["labels"]))


def test_classifier_losses_are_the_mean_cross_entropies():
    rng = np.random.default_rng(1)
    p = _problem(rng, b=7)
    ref_x = np.mean([_np_nll(p["logits_x"][i], p["labels"][i]) for i in range(7)])
    ref_y = np.mean([_np_nll(p["logits_y"][i], p["labels"][i]) for i in range(7)])
    with jax.enable_x64(True):
        single, _ = classifier_loss(jnp.asarray(p["logits_x"]), jnp.asarray(p["labels"]))
        paired, aux = classifier_loss(jnp.asarray(p["logits_x"]), jnp.asarray(p["labels"]), jnp.asarray(p["logits_y"]))
    np.testing.assert_allclose(float(single), ref_x, rtol=1e-12)
    np.testing.assert_allclose(float(paired), ref_x + ref_y, rtol=1e-12)
    assert float(aux["class_nll_y"]) == pytest.approx(ref_y, rel=1e-12)


def test_cross_domain_kl_matches_monte_carlo_and_is_zero_for_equal_posteriors():
    rng = np.random.default_rng(2)
    m1, lv1, m2, lv2 = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    z = m1 + np.exp(0.5 * lv1) * rng.normal(size=(400_000, 3))

    def log_n(z, m, lv):
        return -0.5 * (np.log(2 * np.pi) + lv + (z - m) ** 2 / np.exp(lv))

    samples = np.sum(log_n(z, m1, lv1) - log_n(z, m2, lv2), 1)
    with jax.enable_x64(True):
        kl = float(cross_domain_kl(jnp.asarray(m1), jnp.asarray(lv1), jnp.asarray(m2), jnp.asarray(lv2)))
    assert abs(kl - samples.mean()) < 4 * samples.std() / np.sqrt(samples.size)
    assert kl == pytest.approx(np.sum(_np_kl(m1, lv1, m2, lv2)), rel=1e-12)
    assert float(cross_domain_kl(jnp.ones(4), jnp.full(4, -3.0), jnp.ones(4), jnp.full(4, -3.0))) == 0.0


def test_jade_loss_and_gradients_are_finite_at_extreme_log_variances():
    rng = np.random.default_rng(3)
    p = {k: jnp.asarray(v, jnp.float32) if k != "labels" else jnp.asarray(v) for k, v in _problem(rng).items()}
    for lo, hi in ((-30.0, 30.0), (30.0, -30.0), (-30.0, -30.0)):
        q = dict(p, logvar_x=jnp.full_like(p["logvar_x"], lo), logvar_y=jnp.full_like(p["logvar_y"], hi),
                 mu_x=p["mu_x"] * 100)

        def f(mu_x, logvar_x, mu_y, logvar_y):
            return jade_loss(**dict(q, mu_x=mu_x, logvar_x=logvar_x, mu_y=mu_y, logvar_y=logvar_y), content_dim=3)[0]

        loss, grads = jax.value_and_grad(f, argnums=(0, 1, 2, 3))(q["mu_x"], q["logvar_x"], q["mu_y"], q["logvar_y"])
        assert np.isfinite(float(loss)) and all(np.all(np.isfinite(np.asarray(g))) for g in grads), (lo, hi)
    with pytest.raises(ValueError, match="content_dim must be in"):
        jade_loss(**p, content_dim=7)


def test_max_pool_and_nearest_upsampling_match_loops():
    x = np.random.default_rng(4).normal(size=(2, 4, 6, 3)).astype(np.float32)
    pooled = np.asarray(max_pool_2x2(jnp.asarray(x)))
    up = np.asarray(upsample_nearest(jnp.asarray(x), 3))
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(pooled[:, i, j], x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=(1, 2)))
    for i in range(12):
        for j in range(18):
            np.testing.assert_array_equal(up[:, i, j], x[:, i // 3, j // 3])


def test_dropout_mlp_drops_with_a_key_and_not_without():
    mlp = DropoutMLP(hidden=(64, 64), rate=0.5, num_classes=3)
    h = jax.random.normal(jax.random.PRNGKey(0), (5, 8))
    params = mlp.init(jax.random.PRNGKey(1), h)
    det = mlp.apply(params, h)
    a, b = mlp.apply(params, h, jax.random.PRNGKey(2)), mlp.apply(params, h, jax.random.PRNGKey(3))
    assert not np.allclose(a, det) and not np.allclose(a, b)
    np.testing.assert_array_equal(np.asarray(mlp.apply(params, h, jax.random.PRNGKey(2))), np.asarray(a))
    # Inverted dropout keeps the first layer's mean activation: average over many masks.
    layer = DropoutMLP(hidden=(2000,), rate=0.5, num_classes=1)
    p1 = layer.init(jax.random.PRNGKey(4), h[:1])
    outs = jax.vmap(lambda k: layer.apply(p1, h[:1], k))(jax.random.split(jax.random.PRNGKey(5), 400))
    se = float(outs.std()) / np.sqrt(outs.size)
    assert abs(float(outs.mean()) - float(layer.apply(p1, h[:1])[0, 0])) < 4 * se


def test_pairs_share_their_class_and_primary_images_come_from_the_labelled_set():
    lab = labelled_indices(PRIMARY, "label", 3, seed=1)
    sample = jax.jit(lambda k: class_matched_pairs(PRIMARY, SECONDARY, lab)(k, 256))
    b = {k: np.asarray(v) for k, v in sample(jax.random.PRNGKey(0)).items()}
    x_of = {PRIMARY.np_images[i].tobytes(): PRIMARY.np_labels[i] for i in lab}
    y_of = {SECONDARY.np_images[i].tobytes(): SECONDARY.np_labels[i] for i in range(SECONDARY.num_examples)}
    x_labels = [x_of[im.tobytes()] for im in b["x"]]  # a KeyError: an image outside the labelled set
    y_labels = [y_of[im.tobytes()] for im in b["y"]]
    np.testing.assert_array_equal(x_labels, b["labels"])
    np.testing.assert_array_equal(y_labels, b["labels"])
    assert len(set(b["labels"].tolist())) == 10 and len({im.tobytes() for im in b["y"]}) > 100
    with pytest.raises(ValueError, match="non-empty labelled set"):
        class_matched_pairs(PRIMARY, SECONDARY, np.zeros(0, np.int64))


def test_restyled_digits_are_deterministic_legible_and_in_range():
    grey, labels = load_digits_arrays()
    fresh = restyle(grey, _style_parameters(len(grey), 0))  # not the cached arrays
    np.testing.assert_array_equal(fresh[PRIMARY.indices], PRIMARY.np_images)
    test = RestyledDigits("test")
    np.testing.assert_array_equal(fresh[test.indices], test.np_images)
    np.testing.assert_array_equal(test.np_labels, Digits("test").np_labels)
    assert PRIMARY.np_images.shape[1:] == (8, 8, 3) and 0.0 <= fresh.min() and fresh.max() <= 1.0
    assert not np.array_equal(restyle(grey[:20], _style_parameters(20, 1)), fresh[:20])
    styles = _style_parameters(len(grey), 0)
    assert np.all(np.abs(styles["stroke"].mean(1) - styles["background"].mean(1)) >= MIN_CONTRAST)
    assert 0.4 < styles["inverted"].mean() < 0.6
    # Without texture and noise, a pixel is exactly the stroke or background colour by the mask.
    plain = dict(styles, texture_amplitude=np.zeros(len(grey)), noise_sd=np.zeros(len(grey)))
    img = restyle(grey[:3], {k: v[:3] for k, v in plain.items()})
    a = np.where(styles["inverted"][:3, None, None, None], 1 - grey[:3], grey[:3])
    expected = a * styles["stroke"][:3, None, None] + (1 - a) * styles["background"][:3, None, None]
    np.testing.assert_allclose(img, expected, atol=1e-6)


def test_within_class_variance_ratio_is_the_ratio_of_variances():
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(4), 50)
    codes = np.stack([labels + 0.1 * rng.normal(size=200), rng.normal(size=200), np.ones(200)], 1)
    r = within_class_variance_ratio(codes, labels)
    for k in range(4):
        np.testing.assert_allclose(r[k, :2], codes[labels == k, :2].var(0) / codes[:, :2].var(0), rtol=1e-12)
    assert r[:, 0].max() < 0.05 and 0.7 < r[:, 1].mean() < 1.3 and np.all(np.isnan(r[:, 2]))


def test_jade_trains_evaluates_and_draws(tmp_path):
    c = tiny_config("jade", num_steps=12, log_every=4, checkpoint_every=12, num_viz_images=4)
    loop.train(c, tmp_path)
    ev = json.loads((tmp_path / "evaluation.json").read_text())
    assert ev["variant"] == "jade" and ev["labelled_examples"] == 100 and ev["primary_test_examples"] == 359
    for key in ("primary_test_error", "secondary_test_error", "labelled_set_error"):
        assert 0.0 <= ev[key] <= 1.0
    assert set(ev["within_class_variance_ratio"]) == {"content", "style"}
    assert (tmp_path / "latent_variance.png").exists() and (tmp_path / "reconstructions.png").exists()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) == 3 and all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize("variant", ["single", "paired", "jade"])
def test_each_variant_learns_the_labelled_set_and_repeats_bit_for_bit(variant):
    c = tiny_config("jade", **{"hp.variant": variant, "hp.dropout": 0.0, "batch_size": 32})

    def run():
        m = methods.build(c, PRIMARY)  # built anew: nothing carried over between the two runs
        step = jax.jit(lambda s, k: m.train_step(s, m.sample_batch(jax.random.fold_in(k, 1), 32), k))
        state = m.init_state(jax.random.PRNGKey(0), m.sample_batch(jax.random.PRNGKey(1), 32))
        losses = []
        for i in range(30):
            state, metrics = step(state, jax.random.PRNGKey(10 + i))
            losses.append(float(metrics["loss"]))
        return m, state, losses

    m, state, losses = run()
    _, again, _ = run()
    assert same_leaves(state.params, again.params)
    assert np.all(np.isfinite(losses)) and np.mean(losses[-5:]) < np.mean(losses[:5])
    assert ("secondary_encoder" in state.params) == (variant != "single")
    assert ("primary_decoder" in state.params) == (variant == "jade")
    if variant == "jade":
        assert m.code().blocks == (("content", 10), ("style", 10)) and m.posterior is not None
    else:
        assert m.code().blocks == (("bottleneck", 10),) and m.posterior is None


def test_bad_jade_config_values_are_one_line_errors():
    cases = [
        (["--config.jade.variant=vae"], "config.jade.variant must be one of jade, single, paired"),
        (["--config.jade.image_size=12"], r"config.jade.image_size must be divisible by 2\*\*3"),
        (["--config.jade.primary_pools=5", "--config.jade.image_size=32"], "config.jade.primary_pools must be at most the 4 convolutions"),
        (["--config.jade.secondary=mnist"], "config.jade.secondary must be one of digits"),
        (["--config.model.likelihood=gaussian"], "config.model.likelihood must be bernoulli for method 'jade'"),
    ]
    for overrides, message in cases:
        with pytest.raises(cfg.ConfigError, match=message) as info:
            cfg.get("jade_digits", overrides)
        assert "\n" not in str(info.value)
    with pytest.raises(cfg.ConfigError, match="image_size must be a multiple of the 8-pixel images"):
        methods.build(cfg.get("jade_digits", ["--config.jade.image_size=12", "--config.jade.primary_pools=2",
                                              "--config.jade.secondary_pools=2"]), PRIMARY)
    with pytest.raises(cfg.ConfigError, match="needs an in-memory labelled primary domain"):
        from disentax.data.registry import get_dataset
        methods.build(cfg.get("jade_digits", ["--config.dataset=dsprites"]), get_dataset("dsprites"))
