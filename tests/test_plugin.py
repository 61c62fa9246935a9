"""A method from outside the package: the README's "Adding a method" example, installed as its own
package (`pip install -e` into a fresh virtual environment that sees this one's packages), is found
through the `disentax.methods` entry-point group by an unchanged `disentax`, trained, listed and
evaluated."""
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import child_env

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks(section: str) -> dict[str, str]:
    """The fenced code blocks of README.md's `## <section>`, by language."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section '## {section}'"
    return {lang: body for lang, body in re.findall(r"```(\w+)\n(.*?)```", match.group(1), re.S)}


def test_the_readme_example_is_about_30_lines():
    blocks = readme_blocks("Adding a method")
    assert {"python", "toml"} <= set(blocks)
    assert 20 <= len(blocks["python"].strip().splitlines()) <= 40


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory):
    """A virtual environment with the README's example installed as package `warmup-vae-plugin`."""
    blocks = readme_blocks("Adding a method")
    root = tmp_path_factory.mktemp("plugin")
    pkg = root / "warmup-vae-plugin"
    pkg.mkdir()
    (pkg / "warmup_vae.py").write_text(blocks["python"])
    (pkg / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=64", "wheel"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "warmup-vae-plugin"
        version = "0.0.1"

        [tool.setuptools]
        py-modules = ["warmup_vae"]

    """) + blocks["toml"])
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    # No build isolation: setuptools and wheel come from this environment (the test extra), offline.
    out = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e",
                          str(pkg)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return python


def _disentax(python, *args, cwd=None):
    env = child_env()
    return subprocess.run([str(python), "-m", "disentax.cli", *args], capture_output=True, text=True, timeout=600,
                          env=env, cwd=cwd)


def test_this_environment_does_not_know_the_plugin():
    from disentax import methods

    assert "warmup_vae" not in methods.available()


def test_disentax_finds_trains_lists_and_evaluates_the_plugin(plugin_python, tmp_path):
    listing = _disentax(plugin_python, "list", "methods")
    assert listing.returncode == 0, listing.stderr
    assert "warmup_vae" in listing.stdout and "warmup_steps = 1000" in listing.stdout

    run = tmp_path / "run"
    args = ["train", "--config", "beta_vae_dsprites", "--workdir", str(run), "--config.method=warmup_vae",
            "--config.warmup_vae.warmup_steps=4", "--config.num_steps=6", "--config.log_every=2",
            "--config.batch_size=8", "--config.progress=false", "--config.model.encoder=mlp",
            "--config.model.mlp_hidden=(32,)"]
    out = _disentax(plugin_python, *args)
    assert out.returncode == 0, out.stderr
    assert "trained warmup_vae to step 6" in out.stdout
    saved = json.loads((run / "config.json").read_text())
    assert saved["method"] == "warmup_vae" and saved["warmup_vae"] == {"beta": 4.0, "warmup_steps": 4}
    # β rises linearly over the first 4 steps, then holds (the objective logs it); the record of
    # step s holds the metrics of the step that started from state.step = s - 1.
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert [r["beta"] for r in records] == [pytest.approx(1.0), pytest.approx(3.0), pytest.approx(4.0)]
    assert (run / "traversals.png").exists()

    out = _disentax(plugin_python, "evaluate", "--workdir", str(run), "--metrics", "mig,information",
                    "--num-train", "64", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "code 'z' (10 dims: z 0-9)" in out.stdout
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert len(metrics["information"]["mi_x"]) == 10

    # A bad value of the plugin's own hyperparameter is a one-line error, like any other.
    bad = _disentax(plugin_python, "train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path / "bad"),
                    "--config.method=warmup_vae", "--config.warmup_vae.warmup_steps=0")
    assert bad.returncode == 2 and "config.warmup_vae.warmup_steps must be >= 1, got 0" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0


def test_the_readme_example_registers_in_process_too(tmp_path):
    """Without packaging: `register(SPEC)` in your own script, then train through the Python API."""
    from disentax import config as cfg
    from disentax import methods
    from disentax.runner import train

    namespace = {}
    exec(compile(readme_blocks("Adding a method")["python"], "warmup_vae.py", "exec"), namespace)
    methods.register(namespace["SPEC"])
    c = cfg.get("vae_dsprites", ["--config.method=warmup_vae", "--config.num_steps=2", "--config.batch_size=8",
                                 "--config.progress=false", "--config.model.encoder=mlp",
                                 "--config.model.mlp_hidden=(32,)"])
    result = train(c, tmp_path, finish=False)
    assert result["step"] == 2 and result["metrics"]["beta"] == pytest.approx(4.0 * 1 / 1000)
