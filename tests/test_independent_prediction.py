"""Whitney & Fergus (2018)'s sequential VAE with independent factor transitions: the ELBO against a loop
over clips, steps and dimensions, the scanned filter against a Python loop, the block-diagonal
transition, the stop-gradient into the transition, the evaluation on constructed codes, and the
method through the loop, a resume and `disentax evaluate`."""
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax import distributions as dist
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods import independent_prediction as ip
from disentax.metrics import ksg
from disentax.models.sequential import FactorTransitions, SequentialVAE, TransitionMLP
from disentax.objectives import fixed_variance_gaussian_log_likelihood, sequential_elbo
from disentax.train.logging import read_json

from helpers import configure, straight_and_resumed, tiny_config

# ----------------------------------------------------------------------------- the objective


def _kl(mq, lq, mp, lp):
    """KL(N(mq, e^lq) ‖ N(mp, e^lp)) of one dimension, closed form, float64."""
    return 0.5 * (lp - lq + (math.exp(lq) + (mq - mp) ** 2) / math.exp(lp) - 1.0)


def _brute_elbo(log_px, qm, ql, pm, pl, d):
    b, t, dim = qm.shape
    per_clip, rec, kls, kl_step, kl_factor = [], [], [], np.zeros(t), np.zeros(dim // d)
    for i in range(b):
        r, k = 0.0, 0.0
        for s in range(t):
            r += float(log_px[i, s])
            for j in range(dim):
                v = _kl(float(qm[i, s, j]), float(ql[i, s, j]), float(pm[i, s, j]), float(pl[i, s, j]))
                k += v
                kl_step[s] += v / b
                kl_factor[j // d] += v / b
        per_clip.append(r - k)
        rec.append(-r)
        kls.append(k)
    return {"loss": -np.mean(per_clip), "elbo": np.mean(per_clip), "reconstruction": np.mean(rec),
            "kl": np.mean(kls), "kl_per_step": kl_step, "kl_per_factor": kl_factor}


@pytest.mark.parametrize("extreme", [False, True])
def test_sequential_elbo_equals_a_loop_over_clips_steps_and_dimensions(extreme):
    rng = np.random.default_rng(0)
    b, t, dim, d = 3, 4, 6, 2
    log_px = rng.normal(-50, 10, (b, t))
    qm, pm = rng.normal(size=(b, t, dim)), rng.normal(size=(b, t, dim))
    ql, pl = rng.normal(size=(b, t, dim)), rng.normal(size=(b, t, dim))
    if extreme:  # means far apart, tiny variances on both sides, and a nearly exact match
        qm[0], pm[0] = 300.0, -300.0
        ql[1], pl[1] = -18.0, -15.0
        qm[2], pm[2], ql[2], pl[2] = 1.0, 1.0 + 1e-4, 0.3, 0.3 + 1e-4
    loss, aux = sequential_elbo(*(jnp.asarray(a, jnp.float32) for a in (log_px, qm, ql, pm, pl)), factor_dim=d)
    want = _brute_elbo(log_px, qm, ql, pm, pl, d)
    np.testing.assert_allclose(float(loss), want["loss"], rtol=1e-5)
    for key in ("elbo", "reconstruction", "kl", "kl_per_step", "kl_per_factor"):
        np.testing.assert_allclose(np.asarray(aux[key]), want[key], rtol=1e-5, err_msg=key)
    assert aux["kl_per_step"].shape == (t,) and aux["kl_per_factor"].shape == (dim // d,)


def test_sequential_elbo_rejects_mismatched_shapes_and_factor_sizes():
    z = jnp.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"p_logvar must be \[B, T, D\]"):
        sequential_elbo(jnp.zeros((2, 3)), z, z, z, jnp.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="log_px must be"):
        sequential_elbo(jnp.zeros((2, 3, 1)), z, z, z, z)
    with pytest.raises(ValueError, match="factor_dim must be a positive divisor of the latent dimension 4"):
        sequential_elbo(jnp.zeros((2, 3)), z, z, z, z, factor_dim=3)


def test_fixed_variance_gaussian_log_likelihood_equals_a_loop_over_pixels():
    rng = np.random.default_rng(1)
    x, mean = rng.uniform(size=(2, 3, 4, 4, 3)), rng.uniform(size=(2, 3, 4, 4, 3))
    mean[0, 0] = 40.0  # far from the data
    got = np.asarray(fixed_variance_gaussian_log_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(mean, jnp.float32)))
    want = np.zeros((2, 3))
    for i in np.ndindex(x.shape):
        want[i[:2]] += -0.5 * (math.log(2 * math.pi * 0.25) + (x[i] - mean[i]) ** 2 / 0.25)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(ValueError, match="variance must be > 0"):
        fixed_variance_gaussian_log_likelihood(x, mean, 0.0)
    with pytest.raises(ValueError, match="must have the shape of the observations"):
        fixed_variance_gaussian_log_likelihood(x, mean[:1])


# ----------------------------------------------------------------------------- the networks and the filter


def _tiny_model(num_factors=2, factor_dim=2):
    return SequentialVAE(num_factors=num_factors, factor_dim=factor_dim, encoder_widths=(4, 4, 4, 4), features=5,
                         generator_widths=(4, 4, 4, 4), transition_hidden=8, transition_layers=2)


def _fns(model, params):
    prior = lambda z: model.apply({"params": params}, z, method="prior")  # noqa: E731
    posterior = lambda f, m, s: model.apply({"params": params}, f, m, s, method="posterior")  # noqa: E731
    return prior, posterior


@pytest.fixture(scope="module")
def tiny():
    model = _tiny_model()
    v = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)))
    return model, v


@pytest.mark.parametrize("sample", [True, False])
def test_scanned_filter_equals_a_python_loop_over_steps(tiny, sample):
    model, v = tiny
    prior, posterior = _fns(model, v["params"])
    b, t = 3, 5
    features = jax.random.normal(jax.random.PRNGKey(1), (b, t, 5))
    key = jax.random.PRNGKey(2)
    got = jax.jit(lambda f, k: ip.run_filter(prior, posterior, f, k, 4, sample=sample))(features, key)

    keys = jax.random.split(key, t)
    z_prev, rows = None, []
    for s in range(t):
        if s == 0:
            pm = pl = jnp.zeros((b, 4))
            qm, ql = posterior(features[:, 0], pm, pl)  # App. A: zeros in place of the prediction
        else:
            pm, pl = prior(z_prev)
            qm, ql = posterior(features[:, s], pm, jnp.exp(0.5 * pl))
        z_prev = qm + jnp.exp(0.5 * ql) * jax.random.normal(keys[s], qm.shape) if sample else qm
        rows.append((z_prev, qm, ql, pm, pl))
    for i, name in enumerate(("z", "q_mean", "q_logvar", "p_mean", "p_logvar")):
        want = np.stack([np.asarray(r[i]) for r in rows], 1)
        np.testing.assert_allclose(np.asarray(got[name]), want, rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.all(np.asarray(got["p_mean"][:, 0]) == 0) and np.all(np.asarray(got["p_logvar"][:, 0]) == 0)


def test_factored_transition_is_block_diagonal_and_the_entangled_one_is_not():
    k, d = 3, 2
    z = jax.random.normal(jax.random.PRNGKey(3), (1, k * d))
    factored = FactorTransitions(k, d, hidden=8, num_hidden=2)
    fp = factored.init(jax.random.PRNGKey(4), z)
    blocks = np.kron(np.eye(k), np.ones((d, d))).astype(bool)
    for out in (0, 1):  # the mean and the log-variance
        jac = np.asarray(jax.jacfwd(lambda z: factored.apply(fp, z)[out][0])(z)[:, 0])  # [D, D]
        assert np.all(jac[~blocks] == 0)
        assert np.all(np.abs(jac[blocks]).reshape(k, -1).max(1) > 1e-4)  # every factor reads its own past
    entangled = FactorTransitions(1, k * d, hidden=8, num_hidden=2)
    ep = entangled.init(jax.random.PRNGKey(4), z)
    jac = np.asarray(jax.jacfwd(lambda z: entangled.apply(ep, z)[0][0])(z)[:, 0])
    assert np.all(np.abs(jac[~blocks]) > 1e-6)

    # k parameter sets, one per factor: factor i is a TransitionMLP with slice i of every parameter.
    mean, logvar = factored.apply(fp, z)
    for i in range(k):
        pi = jax.tree.map(lambda a: a[i], fp["params"]["factors"])
        m, lv = TransitionMLP(d, 8, 2).apply({"params": pi}, z[:, i * d:(i + 1) * d])
        np.testing.assert_allclose(np.asarray(mean[:, i * d:(i + 1) * d]), np.asarray(m), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(logvar[:, i * d:(i + 1) * d]), np.asarray(lv), rtol=1e-6)
    assert not np.allclose(fp["params"]["factors"]["Dense_0"]["kernel"][0], fp["params"]["factors"]["Dense_0"]["kernel"][1])


def test_transition_learns_only_through_the_kl(tiny):
    """App. A: the combiner reads the predicted prior, but "the transition parameters are not updated
    here": what depends on the samples alone (the reconstruction) sends no gradient to the transition;
    the KL against the prior does."""
    model, v = tiny
    features = jax.random.normal(jax.random.PRNGKey(5), (2, 4, 5))

    def terms(params):
        prior, posterior = _fns(model, params)
        f = ip.run_filter(prior, posterior, features, jax.random.PRNGKey(6), 4)
        kl = dist.gaussian_kl(f["q_mean"], f["q_logvar"], f["p_mean"], f["p_logvar"]).sum()
        return jnp.sin(f["z"]).sum(), kl  # any function of the samples stands for the decoder

    rec = jax.grad(lambda p: terms(p)[0])(v["params"])
    kl = jax.grad(lambda p: terms(p)[1])(v["params"])
    assert all(np.all(np.asarray(g) == 0) for g in jax.tree.leaves(rec["transition"]))
    assert all(np.any(np.asarray(g) != 0) for g in jax.tree.leaves(rec["combiner"]))
    assert all(np.any(np.asarray(g) != 0) for g in jax.tree.leaves(kl["transition"]))


# ----------------------------------------------------------------------------- the evaluation


def _ar1(rng, n, t, d, rho=0.95):
    z = np.zeros((n, t, d))
    z[:, 0] = rng.normal(size=(n, d))
    for s in range(1, t):
        z[:, s] = rho * z[:, s - 1] + math.sqrt(1 - rho**2) * rng.normal(size=(n, d))
    return z


def test_transition_information_on_independent_chains():
    # One transition per clip: i.i.d. pairs, as KSG assumes (pairs of one clip are neighbours of each
    # other in every factor, which reads as cross-factor information: 0.4 nats here with 200 x 5 pairs).
    rng = np.random.default_rng(0)
    codes = np.concatenate([_ar1(rng, 1000, 2, 2), 3.0 * _ar1(rng, 1000, 2, 2)], -1)  # two chains, two scales
    r = ip.transition_information(codes, 2, True)
    # The same numbers by hand: units standardised, then KSG of each (future block, past block).
    z = (codes - codes.reshape(-1, 4).mean(0)) / codes.reshape(-1, 4).std(0)
    past, future = z[:, :-1].reshape(-1, 4), z[:, 1:].reshape(-1, 4)
    m = [[ksg.ksg_mutual_information(future[:, 2 * i:2 * i + 2], past[:, 2 * j:2 * j + 2]) for j in range(2)]
         for i in range(2)]
    # (Not to rounding: the tie-breaking noise is drawn differently, and a count at a neighbourhood's
    # edge can flip with it.)
    np.testing.assert_allclose(r["matrix"], m, rtol=2e-3, atol=2e-3)
    assert r["same"] == pytest.approx((m[0][0] + m[1][1]) / 2) and r["cross"] == pytest.approx((m[0][1] + m[1][0]) / 2)
    assert r["same"] > 1.0 and abs(r["cross"]) < 0.1 and r["pairs"] == 1000
    # Entangled: the units shuffled; the best of 20 random partitions finds the two chains again.
    e = ip.transition_information(codes[..., [0, 2, 3, 1]], 2, False, num_partitions=20)
    assert sorted(map(sorted, e["partition"])) == [[0, 3], [1, 2]]
    assert e["same"] == pytest.approx(r["same"], abs=0.05) and "20 random" in e["partitioning"]


def test_position_information_finds_which_factor_holds_which_object():
    rng = np.random.default_rng(1)
    positions = rng.uniform(14, 50, (100, 5, 2, 2))
    # Factor 0 codes object 1's position, factor 1 object 0's (in other units, slightly noisy).
    codes = np.concatenate([0.1 * positions[:, :, 1], -5.0 * positions[:, :, 0]], -1) + 0.01 * rng.normal(size=(100, 5, 4))
    mi = np.asarray(ip.position_information(codes, positions, [[0, 1], [2, 3]]))
    assert mi.shape == (2, 2)
    assert mi[0, 1] > 2.0 and mi[1, 0] > 2.0 and abs(mi[0, 0]) < 0.1 and abs(mi[1, 1]) < 0.1


def test_independent_generations_vary_one_factor_at_a_time():
    z = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)  # T = 5, k = 3 factors of 2
    got = np.asarray(ip.independent_generations(z, 2, 3))
    assert got.shape == (3, 4, 6)
    for i in range(3):
        for t in range(4):
            for u in range(6):
                assert got[i, t, u] == (z[t + 1, u] if u // 2 == i else z[1, u])


# ----------------------------------------------------------------------------- the method


def test_configs_hold_the_published_defaults_and_the_baseline_differs_only_in_its_transition():
    c = configure("independent_prediction_bouncing_digits")
    hp = c.independent_prediction
    assert (c.optimizer.name, c.optimizer.learning_rate, hp.num_factors, hp.observation_variance) == ("adam", 3e-4, 2, 0.25)
    assert (hp.transition_hidden, hp.transition_layers, hp.features, hp.factored) == (128, 4, 32, True)
    assert tuple(hp.encoder_widths) == (64, 128, 256, 512) and tuple(hp.generator_widths) == (512, 256, 128, 64)
    e = configure("independent_prediction_entangled_bouncing_digits")
    assert e.independent_prediction.factored is False
    assert {k: v for k, v in e.independent_prediction.items() if k != "factored"} == \
        {k: v for k, v in hp.items() if k != "factored"}
    data = get_dataset(c.dataset)
    assert (ip.build_model(hp, data.frame_shape).num_factors, ip.build_model(hp, data.frame_shape).factor_dim) == (2, 16)
    assert (ip.build_model(e.independent_prediction, data.frame_shape).num_factors,
            ip.build_model(e.independent_prediction, data.frame_shape).factor_dim) == (1, 32)
    with pytest.raises(ConfigError, match="encoder_widths must have log2"):
        methods.build(configure(c, **{"hp.encoder_widths": (8, 8, 8)}), data)
    with pytest.raises(ConfigError, match="config.dataset must be bouncing_digits or shape_motion"):
        methods.build(configure(c, dataset="dsprites"), get_dataset("dsprites"))


def test_trains_resumes_exactly_and_evaluate_writes_the_evaluation(tmp_path, monkeypatch, capsys):
    c = tiny_config("independent_prediction")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["kl"]) for r in rows)
    # The batch statistics move in training and are checkpointed with the parameters.
    stats = straight["state"].extra["model_state"]["batch_stats"]
    assert not np.allclose(stats["encoder"]["BatchNorm_0"]["var"], 1.0)
    names = sorted(p.name for p in straight["pictures"])
    assert names == ["independent_generations.png", "reconstructions.png"]
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["step"] == 4 and written["clips"] == 16 and written["frames_per_clip"] == 3
    assert written["transition_information"]["pairs"] == 32 and len(written["position_information"]["matrix"]) == 2
    assert written["elbo"]["per_frame"] == pytest.approx(written["elbo"]["per_clip"] / 3)

    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'independent_prediction'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["model"] == "factored"
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3


def test_the_evaluation_filters_with_the_running_statistics():
    """Inference mode: the evaluation's codes of a clip do not depend on the other clips beside it."""
    c = tiny_config("independent_prediction")
    method = methods.build(c, get_dataset(c.dataset))
    clips = jax.jit(lambda k: method.sample_batch(k, 4))(jax.random.PRNGKey(0))
    v = method.scored_params(jax.jit(method.init_state)(jax.random.PRNGKey(1), clips))
    params, held = v["params"], {"batch_stats": v["batch_stats"]}
    run = lambda x: ip._clip_pass(method.model, params, held, x, jax.random.PRNGKey(3), train=False,  # noqa: E731
                                  sample=False, variance=0.25)[2]["q_mean"]
    np.testing.assert_allclose(np.asarray(run(clips))[:2], np.asarray(run(clips[:2])), rtol=1e-5, atol=1e-6)
