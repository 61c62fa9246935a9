import subprocess
import sys

import pytest

from disentax import cli
from disentax import config as cfg


@pytest.mark.parametrize(
    "override, needle",
    [
        ("--config.betta=8", "unknown config key 'config.betta'"),
        ("--config.model.latnt_dim=3", "unknown config key 'config.model.latnt_dim'"),
        ("--config.batch_size=abc", "config.batch_size must be an integer"),
        ("--config.batch_size=1.5", "config.batch_size must be an integer"),
        ("--config.beta_vae.beta=-1", "config.beta_vae.beta must be >= 0"),
        ("--config.beta=8", "method parameters live in config.beta_vae: --config.beta_vae.beta"),
        ("--config.beta_vae.bta=8", "unknown config key 'config.beta_vae.bta'; config.beta_vae has: beta"),
        ("--config.method=bogus", "config.method='bogus' is unknown; allowed:"),
        ("--config.model.likelihood=poisson", "config.model.likelihood='poisson' is unknown; allowed:"),
        ("--config.model=3", "config.model is a group"),
        ("--config.progress=maybe", "config.progress must be true or false"),
        ("--config.num_steps=0", "config.num_steps must be a positive integer"),
    ],
)
def test_bad_override_is_one_line_error(tmp_path, capsys, override, needle):
    code = cli.main(["train", "--config", "configs/beta_vae_dsprites.py", "--workdir", str(tmp_path / "r"), override])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert err.strip().count("\n") == 0, err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists(), "a rejected config must not create the run folder"


def test_unknown_config_name(capsys, tmp_path):
    assert cli.main(["train", "--config", "nope_dsprites", "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config 'nope_dsprites' not found" in err and "beta_vae_dsprites" in err


def test_overrides_are_typed():
    c = cfg.get("beta_vae_dsprites", ["--config.beta_vae.beta=8", "--config.model.latent_dim=6",
                                      "--config.model.hidden=(128,128)", "--config.progress=false"])
    assert c.beta_vae.beta == 8.0 and isinstance(c.beta_vae.beta, float)
    assert c.model.latent_dim == 6 and c.model.hidden == (128, 128) and c.progress is False
    for text, want in [("pos_x", ("pos_x",)), ("pos_x,scale", ("pos_x", "scale")), ("('pos_x',)", ("pos_x",)),
                       ("'scale'", ("scale",)), ("()", ())]:
        c = cfg.get("semi_supervised_dsprites", [f"--config.semi_supervised.regression_factors={text}"])
        assert c.semi_supervised.regression_factors == want
    with pytest.raises(cfg.ConfigError, match="must be a tuple like"):
        cfg.get("beta_vae_dsprites", ["--config.model.hidden=12 8"])


def test_console_script_trains_and_resumes(tmp_path):
    args = [sys.executable, "-m", "disentax.cli", "train", "--config", "vae_dsprites", "--workdir", str(tmp_path),
            "--config.batch_size=8", "--config.num_steps=4", "--config.log_every=2", "--config.progress=false",
            "--config.model.encoder=mlp", "--config.model.mlp_hidden=(32,)"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "trained vae to step 4" in out.stdout
    out = subprocess.run(args[:-4] + ["--config.num_steps=6"] + args[-3:], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "to step 6" in out.stdout
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == ["4", "6"]


def test_a_missing_optional_extra_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    # As if tensorflow-datasets were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    code = cli.main(["train", "--config", "beta_vae_shapes3d", "--workdir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0 and "Traceback" not in err
    assert "dataset 'shapes3d'" in err and "pip install 'disentax[tfds]'" in err
    assert not (tmp_path / "r").exists()


def test_list_prints_methods_with_defaults_and_sources_configs_datasets_and_metrics(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for line in ("  beta_tcvae ", "      beta = 6.0 (>= 0): weight of the total correlation",
                 "  factor_vae_dsprites_5d ", "  dsprites ", "  mig_exact "):
        assert line in out, line
    assert "[Higgins et al. (2017)" in out
    assert cli.main(["list", "datasets"]) == 0 and "Methods" not in capsys.readouterr().out
    assert cli.main(["list", "colours"]) == 2 and "unknown section 'colours'" in capsys.readouterr().err
