"""The disentanglement metrics and `disentax evaluate` on the TFDS factor grids (host-read images),
offline: fake full-grid sources through `tfds.testing.mock_data`."""
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'"
)

from disentax import (
    cli,  # noqa: E402
    metrics,  # noqa: E402
)
from disentax import config as cfg  # noqa: E402
from disentax.data import DSprites, GroundTruthDataset, registry  # noqa: E402
from disentax.data import tfds as dtfds  # noqa: E402
from disentax.runner import loop  # noqa: E402

from grid_fakes import grid_sources  # noqa: E402
from helpers import configure  # noqa: E402

# Protocol sizes cut for speed; DCI with 10-tree forests instead of gradient boosting (the
# importance model does not depend on how the codes were made, and GBT is slow here).
# At these tiny sizes factors have more classes than half the points (sklearn says so, rightly).
pytestmark = pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")

SMALL = dict(num_train=64, num_eval=32, num_variance_estimate=64, dci_importance="random_forest")



def _procedural_images(flats):
    """uint8 images of the procedural dSprites at flat indices: the TFDS grid then holds exactly
    the procedural images, index for index."""
    ds = DSprites()
    return (np.asarray(ds.images_from_indices(np.asarray(flats))) * 255).astype(np.uint8)


def _dsprites_grid():
    return grid_sources("dsprites", lambda f: _procedural_images([f])[0], _procedural_images)


def _shapes3d_images(flats):
    """A smooth RGB image per example (colours from the hue factors, a bar from the others), so
    encoders see structure that depends on the factors."""
    f = _SHAPES3D.index_to_factors(np.asarray(flats))
    img = np.zeros((len(flats), 64, 64, 3), np.uint8)
    img[:, :32] = (f[:, None, None, :3] * 25).astype(np.uint8)  # floor/wall/object hue as RGB
    rows = (f[:, 3] * 4 + f[:, 4]).astype(np.int64)  # scale and shape place a bar
    cols = (f[:, 5] * 2).astype(np.int64)  # orientation moves it sideways
    for i in range(len(flats)):
        img[i, 32 + rows[i] % 32, cols[i] : cols[i] + 30] = 255
    return img


class _Shapes3DGrid(GroundTruthDataset):  # only for index_to_factors without TFDS
    def render(self, factors):
        raise NotImplementedError


_SHAPES3D = _Shapes3DGrid(name="shapes3d", factor_names=dtfds.SPECS["shapes3d"].factor_names,
                          factor_sizes=dtfds.SPECS["shapes3d"].factor_sizes, image_shape=(64, 64, 3))


def _finite(tree):
    leaves = [v for v in jax.tree.leaves(tree) if not isinstance(v, str)]
    return bool(leaves) and all(math.isfinite(float(v)) for v in leaves)


def reads_factors(x):
    """Integer codes computed from a dSprites image by counting pixels: identical on any two
    paths that see identical images (sums of 0/1 values and argmaxes are exact), and they carry
    factor information (area ~ shape and scale, first lit column/row ~ position)."""
    x = x[..., 0]
    cols, rows = x.sum(1), x.sum(2)
    return jnp.stack([
        jnp.floor(x.sum((1, 2)) / 32),
        jnp.argmax(cols > 0, axis=1) // 8,
        jnp.argmax(rows > 0, axis=1) // 8,
        jnp.argmax(cols, axis=1) // 8,
    ], axis=1).astype(jnp.float32)


def reads_factors_gaussian(x):
    c = reads_factors(x)
    return c, jnp.full_like(c, -2.0)


def test_metrics_match_between_tfds_dsprites_and_procedural_dsprites():
    # One metric per sampling routine: mig (sample_codes, shared by dci, sap, modularity and
    # information), beta_vae and factor_vae (their own pair / vote draws), and encode_dataset
    # (mig_exact's pass over the grid). Same key, identical images: identical numbers.
    key = jax.random.PRNGKey(11)
    small = dict(num_train=64, num_eval=32, batch_size=16)

    def scores(ds):
        return {
            "mig": metrics.mig_score(key, reads_factors, ds, num_train=96, batch_size=32),
            "beta_vae": metrics.beta_vae_score(key, reads_factors, ds, **small),
            "factor_vae": metrics.factor_vae_score(key, reads_factors, ds, num_variance_estimate=96, **small),
            "mu": np.asarray(metrics.encode_dataset(reads_factors_gaussian, _Prefix(ds, 700), batch_size=256)[0]),
        }

    procedural = DSprites()
    want = scores(procedural)
    with tfds.testing.mock_data(as_data_source_fn=_dsprites_grid()):
        ds = registry.get_dataset("dsprites_tfds")
        assert ds.on_host and not procedural.on_host
        got = scores(ds)
    np.testing.assert_array_equal(got.pop("mu"), want.pop("mu"))
    assert _finite(got) and got == want
    # Not a trivial agreement: the codes carry factor information (chance for beta_vae is 1/5).
    assert want["beta_vae"]["eval_accuracy"] > 0.6 and want["mig"]["mig"] > 0.05
    assert want["factor_vae"]["num_active_dims"] == 4


class _Prefix:
    """The first `n` grid examples of a dataset (for encode_dataset on a slice of the grid)."""

    def __init__(self, ds, n):
        self._ds, self.num_examples, self.on_host = ds, n, ds.on_host

    def images_from_indices(self, idx):
        return self._ds.images_from_indices(idx)


def tiny(config_name, dataset=None, **overrides):
    c = cfg.load_config_file(config_name)
    if dataset is not None:
        c.dataset = dataset
    c.batch_size, c.num_steps, c.log_every, c.checkpoint_every, c.progress = 8, 3, 3, 3, False
    c.model.encoder, c.model.mlp_hidden, c.model.latent_dim = "mlp", (32,), 4
    return configure(c, **overrides)


def test_every_default_metric_is_finite_on_tfds_shapes3d_with_an_encoder():
    # A small random encoder (one tanh layer, 6 codes) keeps compilation short; the trained
    # flax encoder path is exercised on dSprites by the evaluate test below.
    w = jax.random.normal(jax.random.PRNGKey(2), (64 * 64 * 3, 6)) * 0.02

    def enc(x):
        mu = jnp.tanh(x.reshape(x.shape[0], -1) @ w)
        return mu, jnp.full_like(mu, -2.0)

    def rep(x):
        return enc(x)[0]

    with tfds.testing.mock_data(as_data_source_fn=grid_sources("shapes3d", lambda f: _shapes3d_images([f])[0],
                                                                _shapes3d_images)):
        ds = registry.get_dataset("shapes3d")
        assert ds.on_host and ds.image_shape == (64, 64, 3)
        small = {**SMALL, "num_train": 48}
        out = metrics.evaluate(jax.random.PRNGKey(1), rep, ds, posterior_fn=enc, **small)
        again = metrics.evaluate(jax.random.PRNGKey(1), rep, ds, "mig", **small)
    assert set(out) == set(metrics.DEFAULT_METRICS) and _finite(out), out
    assert len(out["information"]["mi_x"]) == 6
    assert set(out["information"]["mi_factors"]) == set(ds.factor_names)
    assert 0.0 <= out["mig"]["mig"] <= 1.0 and 0.0 <= out["beta_vae"]["eval_accuracy"] <= 1.0
    # The images carry the factors, so even a random projection scores above chance (1/6).
    assert out["beta_vae"]["eval_accuracy"] > 0.3
    # Same key, same numbers (the host path is pure in the key too).
    assert again == {k: out[k] for k in again}


def test_evaluate_cli_on_a_run_trained_on_tfds_dsprites(tmp_path, capsys, monkeypatch):
    c = tiny("hfvae_dsprites_tfds")
    with tfds.testing.mock_data(as_data_source_fn=_dsprites_grid()):
        result = loop.train(c, tmp_path, finish=False)
        assert result["step"] == 3 and np.isfinite(result["metrics"]["loss"])
        args = ["evaluate", "--workdir", str(tmp_path), "--num-train", "32", "--num-eval", "32",
                "--num-variance-estimate", "64", "--dci-importance", "random_forest", "--no-progress"]
        assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "evaluating hfvae on dsprites_tfds at step 3" in out
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["dataset"] == "dsprites_tfds" and record["step"] == 3
    assert set(record["metrics"]) == set(metrics.DEFAULT_METRICS) and _finite(record["metrics"])
    # HFVAE's default code holds the Concrete probabilities too: no Gaussian posterior for it, and
    # the message says how to score the Gaussian group alone, which then gets its 4 dimensions.
    assert "--code z" in record["metrics"]["information"]["not_applicable"]
    with tfds.testing.mock_data(as_data_source_fn=_dsprites_grid()):
        assert cli.main(args + ["--code", "z", "--metrics", "information"]) == 0
    z = json.loads((tmp_path / "metrics_z.json").read_text())["metrics"]["information"]
    assert set(z["mi_factors"]) == set(DSprites().factor_names) and len(z["mi_x"]) == 4
    capsys.readouterr()
    # Without the data (another machine, say), the same command is a one-line error naming the
    # dataset and the command that prepares it.
    empty = tmp_path / "no_data"
    empty.mkdir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(empty))
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "'dsprites'" in err
    assert f"tfds build dsprites --file_format=array_record --data_dir={empty}" in err
    # Training on it too, and the run folder is not created.
    fresh = tmp_path / "fresh_run"
    assert cli.main(["train", "--config", "hfvae_dsprites_tfds", "--workdir", str(fresh)]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "tfds build dsprites" in err and "Traceback" not in err
    assert not fresh.exists()
