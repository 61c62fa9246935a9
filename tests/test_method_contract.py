"""The method contract end to end: every registered method trains a few steps on a ground-truth
dataset, and `disentax evaluate` scores exactly the code the method documents.

For each method: the code's representation and posterior equal an encoding computed here by hand
from the model's own functions on a fixed batch, their widths equal the documented blocks, and every
metric of the default set receives those very functions (spied on inside the metric suite).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods
from disentax.metrics import suite
from disentax.objectives.auxiliary import shuffle_patches
from disentax.runner import evaluate as run_evaluate

from helpers import tiny_config, untrained_run

# The ground-truth dataset each method is scored on (dSprites unless it needs colour).
DATASET = {"auxiliary_vae": "coloured_dsprites", "auxiliary_vae_clustering": "coloured_dsprites",
           "mvae": "dsprites", "mvae_baseline": "dsprites", "f_statistic": "identity_sprites",
           "triplet": "identity_sprites", "jade": "restyled_digits"}
VAE_FAMILY = ("vae", "beta_vae", "annealed_vae", "beta_tcvae", "dip_vae_i", "dip_vae_ii", "factor_vae",
              "mvae_baseline")
IN_PACKAGE = VAE_FAMILY + ("hfvae", "semi_supervised", "ml_vae", "mvae", "auxiliary_vae", "auxiliary_vae_clustering",
                           "f_statistic", "triplet", "jade")
# Methods with no code the factor-grid metrics can score (GANs, experts, codes of clips): a reason
# and their own evaluation (tests/test_gan_methods.py and the video tests run `disentax evaluate` on them).
NO_CODE = ("dcgan", "sd_gan", "icm", "factor_capacity", "mocogan", "independent_prediction", "dynamics_content",
           "controllable_factors", "arae", "attribute_transfer", "mmd_traversal", "multitask_seq2seq")


def _apply(model, params, *args, fn):
    return model.apply({"params": params}, *args, method=getattr(model, fn))


def hand_encoding(name, config, model, params, x):
    """(representation, mean, logvar) of the default code, written out from the model's functions;
    mean and logvar are None where the code has no Gaussian posterior. Also the expected blocks."""
    d = int(config.model.latent_dim)
    if name in VAE_FAMILY:
        mu, logvar = _apply(model, params, x, fn="encode")
        return mu, mu, logvar, (("z", d),)
    if name == "hfvae":
        logits, mu, _ = _apply(model, params, x, fn="encode_all")
        k = int(config.hfvae.num_categories)
        return jnp.concatenate([mu, jax.nn.softmax(logits, -1)], -1), None, None, (("z", d), ("y", k))
    if name == "semi_supervised":
        logits, mu, _ = _apply(model, params, x, fn="encode")  # y = E[y] = softmax(logits) fed to q(z|x,y)
        k = logits.shape[-1]
        return jnp.concatenate([jax.nn.softmax(logits, -1), mu], -1), None, None, (("y", k), ("z", d))
    if name == "ml_vae":
        mu_s, lv_s, mu_c, lv_c = _apply(model, params, x, fn="encode")
        hp = config.ml_vae
        mean, logvar = jnp.concatenate([mu_c, mu_s], -1), jnp.concatenate([lv_c, lv_s], -1)
        return mean, mean, logvar, (("content", int(hp.content_dim)), ("style", int(hp.style_dim)))
    if name == "mvae":
        mu, logvar = _apply(model, params, x, fn="encode")[:2]  # [B, N, D], descending KL
        b, n, dd = mu.shape
        flat = mu.reshape(b, n * dd)
        return flat, flat, logvar.reshape(b, n * dd), tuple((f"object{i}", dd) for i in range(n))
    if name in ("auxiliary_vae", "auxiliary_vae_clustering"):
        hp = config[name]
        mu_g, lv_g = _apply(model, params, x, fn="encode_global")[:2]
        mu_l, lv_l = _apply(model, params, shuffle_patches(jax.random.PRNGKey(0), x, int(hp.patch)), fn="encode_local")
        mean = jnp.concatenate([mu_g, mu_l], -1)
        return mean, mean, jnp.concatenate([lv_g, lv_l], -1), (("global", int(hp.global_dim)),
                                                                ("local", int(hp.local_dim)))
    if name in ("f_statistic", "triplet"):  # a deterministic embedding: no posterior
        return model.apply({"params": params}, x), None, None, (("z", d),)
    if name == "jade":  # the primary domain's posterior, content then style
        mean, logvar = _apply(model, params, x, fn="encode_primary")
        hp = config.jade
        return mean, mean, logvar, (("content", int(hp.content_dim)), ("style", int(hp.style_dim)))
    raise AssertionError(f"no hand encoding for method {name!r}: add one when you register a method")


def test_every_registered_method_is_covered():
    # A method registered in the package without a row here would go unchecked.
    assert set(IN_PACKAGE) | set(NO_CODE) <= set(methods.available())
    # (A method registered by another test, from a script or an exec'd example, has no package module.)
    in_package = {m for m in methods.available()
                  if (getattr(methods.get_spec(m).build, "__module__", None) or "").startswith("disentax.")}
    assert not in_package - set(IN_PACKAGE) - set(NO_CODE)


@pytest.mark.parametrize("name", NO_CODE)
def test_a_method_without_code_says_why_in_one_line(name):
    from disentax.data.registry import get_dataset

    c = tiny_config(name)
    method = methods.build(c, get_dataset(c.dataset))
    assert not method.codes and method.no_code and "\n" not in method.no_code and method.evaluations is not None
    with pytest.raises(cfg.ConfigError, match=f"method {name!r} has no code for the representation metrics"):
        method.code()


@pytest.mark.parametrize("name", IN_PACKAGE)
def test_evaluate_scores_the_documented_code(name, tmp_path, monkeypatch):
    # An untrained run: what is scored is a question of which arrays, not of training (a loop-trained run
    # restores into the same structure, tests/test_evaluate.py).
    c = tiny_config(name, dataset=DATASET.get(name, "dsprites"))
    untrained_run(c, tmp_path)
    _, method, dataset, state = run_evaluate.restore_run(tmp_path)
    params = state.params
    x = dataset.sample(jax.random.PRNGKey(7), 4)[0]
    rep, mean, logvar, blocks = hand_encoding(name, c, method.model, params, x)
    code = method.code()
    assert code.blocks == blocks and code.dim == rep.shape[-1]
    np.testing.assert_allclose(np.asarray(method.representation(params, x)), np.asarray(rep), rtol=1e-5, atol=1e-6)
    if mean is None:
        assert method.posterior is None and code.no_posterior
    else:
        post = method.posterior(params, x)
        assert post.mean.shape == post.logvar.shape == rep.shape
        np.testing.assert_allclose(np.asarray(post.mean), np.asarray(mean), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(post.logvar), np.asarray(logvar), rtol=1e-5, atol=1e-6)

    # What each metric of the default set is handed, evaluated on the same batch. MIG runs for real (a
    # sampled score); the others return a stand-in: their computations are tested on their own, and
    # compiling each of them for every method would cost minutes here (the ML-VAE test below runs the
    # information metric for real through the command line).
    seen = {}

    def spy(metric, real):
        def wrapped(key, representation_fn, ds, **kw):
            seen[metric] = np.asarray(representation_fn(x))
            return real(key, representation_fn, ds, **kw) if metric == "mig" else {"handed": 1.0}
        return wrapped

    for metric, fn in (("mig", "mig_score"), ("dci", "dci_score"), ("sap", "sap_score"),
                       ("modularity", "modularity_explicitness_score"), ("beta_vae", "beta_vae_score"),
                       ("factor_vae", "factor_vae_score"), ("irs", "irs_score"), ("infomec", "infomec_score"),
                       ("mcc", "mcc_score"), ("unsupervised", "unsupervised_score")):
        monkeypatch.setattr(suite, fn, spy(metric, getattr(suite, fn)))
    real_information = suite._information

    def information(key, posterior_fn, no_posterior, ds, num_train, progress):
        seen["information"] = None if posterior_fn is None else posterior_fn(x)
        if posterior_fn is None:
            return real_information(key, posterior_fn, no_posterior, ds, num_train, progress)
        dims = seen["information"].mean.shape[-1]
        return {"mi_x": [0.0] * dims, "mi_factors": {"shape": [0.0] * dims}}

    monkeypatch.setattr(suite, "_information", information)
    record = run_evaluate.evaluate_run(tmp_path, num_train=24, num_eval=12, num_variance_estimate=24)
    assert set(record["metrics"]) == set(suite.DEFAULT_METRICS) == set(seen)
    for metric in suite.DEFAULT_METRICS:
        if metric == "information":
            continue
        np.testing.assert_allclose(seen[metric], np.asarray(rep), rtol=1e-5, atol=1e-6, err_msg=metric)
    info = record["metrics"]["information"]
    if mean is None:
        assert seen["information"] is None
        assert "not_applicable" in info and f"method {name!r}" in info["not_applicable"]
    else:
        np.testing.assert_allclose(np.asarray(seen["information"].mean), np.asarray(mean), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(seen["information"].logvar), np.asarray(logvar), rtol=1e-5, atol=1e-6)
        assert len(info["mi_x"]) == code.dim and all(len(v) == code.dim for v in info["mi_factors"].values())
    # The record says which dimensions hold what; the printed tables label them so.
    assert record["code"]["layout"] == code.layout() and record["code"]["dim_names"] == code.dim_names()
    assert code.layout() in run_evaluate.describe_code(record)
    if mean is not None:
        table = run_evaluate.format_dimension_tables(record).splitlines()
        assert [line.split()[0] for line in table[2:]] == code.dim_names()


def test_ml_vae_output_says_content_then_style_and_other_codes_score_one_part(tmp_path, capsys):
    from disentax import cli

    untrained_run(tiny_config("ml_vae"), tmp_path)
    args = ["evaluate", "--workdir", str(tmp_path), "--metrics", "mig,information", "--num-train", "64",
            "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "code 'all' (20 dims: content 0-9, style 10-19)" in out and "content.9" in out and "style.0" in out
    assert cli.main(args + ["--code", "style"]) == 0
    out = capsys.readouterr().out
    assert "code 'style' (10 dims: style 0-9): style means of q(s|x)" in out
    assert (tmp_path / "metrics_style.json").exists() and (tmp_path / "metrics.json").exists()
    assert cli.main(args + ["--code", "colour"]) == 2
    err = capsys.readouterr().err
    assert "method 'ml_vae' has no code 'colour'; codes: all, content, style" in err and err.count("\n") == 1


def test_a_code_without_posterior_is_not_applicable_with_the_way_out(tmp_path):
    untrained_run(tiny_config("semi_supervised"), tmp_path)
    record = run_evaluate.evaluate_run(tmp_path, "information", num_train=64)
    why = record["metrics"]["information"]["not_applicable"]
    assert "code 'all' of method 'semi_supervised'" in why and "--code z" in why
    record = run_evaluate.evaluate_run(tmp_path, "information", code="z", num_train=64)
    assert len(record["metrics"]["information"]["mi_x"]) == 4


def test_switching_method_starts_from_its_published_defaults():
    c = cfg.get("beta_vae_dsprites", ["--config.method=beta_tcvae", "--config.beta_tcvae.beta=8",
                                      "--config.batch_size=32"])
    assert c.method == "beta_tcvae" and "beta_vae" not in c
    hp = c.beta_tcvae
    assert (hp.alpha, hp.beta, hp.gamma, hp.estimator) == (1.0, 8.0, 1.0, "mws") and c.batch_size == 32
    # Shared settings a file changed stay with the new method; method settings do not carry over.
    c = cfg.get("semi_supervised_digits", ["--config.method=ml_vae"])
    assert c.dataset == "digits" and c.model.mlp_hidden == (512, 512) and c.ml_vae.group_factor == "label"
    # A method's shared defaults apply unless the file chose otherwise.
    assert cfg.get("beta_vae_dsprites", ["--config.method=auxiliary_vae"]).model.likelihood == "logistic"
    assert cfg.get("semi_supervised_svhn", ["--config.method=auxiliary_vae"]).model.likelihood == "logistic"
    with pytest.raises(cfg.ConfigError, match="config.beta_vae.beta"):
        cfg.get("beta_vae_dsprites", ["--config.method=beta_tcvae", "--config.beta_vae.beta=8"])


def test_every_hyperparameter_default_passes_its_own_check_and_has_a_doc():
    for name in methods.available():
        spec = methods.get_spec(name)
        for h in spec.hyperparameters:
            assert h.doc, (name, h.name)
            assert h.check is None or h.check.test(h.default), (name, h.name, h.default)
        cfg.validate(cfg.base_config(name))


def test_bad_values_of_declared_hyperparameters_are_one_line_errors():
    cases = [
        ("--config.beta_tcvae.estimator=exact", "config.beta_tcvae.estimator must be one of mws, mss, hfvae"),
        ("--config.beta_tcvae.alpha=abc", "config.beta_tcvae.alpha must be a number"),
        ("--config.beta_tcvae.alphaa=1", "unknown config key 'config.beta_tcvae.alphaa'; config.beta_tcvae has:"),
    ]
    for override, message in cases:
        with pytest.raises(cfg.ConfigError, match=message) as info:
            cfg.get("beta_tcvae_dsprites", [override])
        assert "\n" not in str(info.value)
    c = cfg.load_config_file("beta_vae_dsprites")
    c.beta_tcvae = cfg.base_config("beta_tcvae").beta_tcvae
    with pytest.raises(cfg.ConfigError, match="config.beta_tcvae holds parameters of method 'beta_tcvae'"):
        cfg.validate(c)
