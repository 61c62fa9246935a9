"""Nothing lost: signals, damaged checkpoints, a replaced run identity, two processes on one folder,
atomic files, honest records, and one-line errors for what a user can fix. Each test first makes
the situation that used to lose work or print a traceback."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from disentax import cli
from disentax import config as cfg
from disentax.metrics.suite import METRICS_VERSION
from disentax.runner import evaluate as run_evaluate
from disentax.runner import loop
from disentax.runner.lock import RunLock
from disentax.runner.restore import restore_run
from disentax.train import checkpoint as checkpoint_mod
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import MetricWriter, read_metrics

from helpers import QUICK, child_env, configure, same_leaves

TINY = {"model.encoder": "mlp", "model.mlp_hidden": (32,), "batch_size": 8, "progress": False}
CLI_TINY = ["--config.model.encoder=mlp", "--config.model.mlp_hidden=(32,)", "--config.batch_size=8",
            "--config.progress=false", "--config.log_every=5", "--config.checkpoint_every=10"]


def small(**over):
    return configure("beta_vae_dsprites", **{**QUICK, **TINY, "checkpoint_every": 10, **over})


def one_line(text: str) -> bool:
    return text.strip().count("\n") == 0 and "Traceback" not in text


# ----------------------------------------------------------------------------- signals, for real


def _cli(workdir, *extra):
    env = child_env()
    return subprocess.Popen([sys.executable, "-m", "disentax.cli", "train", "--config", "beta_vae_dsprites",
                             "--workdir", str(workdir), *CLI_TINY, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_rows(workdir, n, proc, timeout=240):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        path = Path(workdir) / "metrics.jsonl"
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return True
        time.sleep(0.001)
    return False


def test_sigint_mid_run_stops_between_steps_keeps_every_row_and_resumes_exactly(tmp_path):
    run = tmp_path / "run"
    proc = _cli(run, "--config.num_steps=400")
    assert _wait_rows(run, 2, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    stopped = int(err.split("stopped at step ")[1].split(";")[0])
    assert f"checkpoint {stopped} saved" in err and "Traceback" not in err
    assert stopped in Checkpointer(run / "checkpoints").all_steps()
    rows = [r["step"] for r in read_metrics(run)]
    assert rows == list(range(5, stopped + 1, 5)), (rows, stopped)  # the row of a log step is never lost
    # Resumed to a fixed length, it is the run that was never interrupted.
    length = (stopped // 10 + 1) * 10
    resumed = subprocess.run([sys.executable, "-m", "disentax.cli", "train", "--config", "beta_vae_dsprites",
                              "--workdir", str(run), *CLI_TINY, f"--config.num_steps={length}"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0 and f"resuming {run} from checkpoint {stopped}" in resumed.stderr
    straight = loop.train(small(num_steps=length, log_every=5), tmp_path / "straight", finish=False)
    _, _, _, state = restore_run(run)
    assert same_leaves(state.params, straight["state"].params)
    assert [(r["step"], r["loss"]) for r in read_metrics(run)] == [
        (r["step"], r["loss"]) for r in read_metrics(tmp_path / "straight")]


def test_sigterm_during_start_up_says_nothing_was_saved_and_writes_nothing(tmp_path):
    run = tmp_path / "run"
    proc = _cli(run, "--config.num_steps=400")
    time.sleep(1.0)  # importing JAX and building: no step has run
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    assert "SIGTERM during start-up: stopped before anything was written" in err or "no checkpoint was written" in err
    assert "Traceback" not in err and "checkpoint 0 saved" not in err
    assert not (run / "checkpoints").exists() or not Checkpointer(run / "checkpoints").all_steps()


def test_a_second_signal_stops_at_once_and_says_so(tmp_path):
    run = tmp_path / "run"
    proc = _cli(run, "--config.num_steps=100000", "--config.checkpoint_every=20")
    assert _wait_rows(run, 5, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and "Traceback" not in err
    assert "again: stopping now" in err or "checkpoint" in err.split("stopped at step")[-1]
    # Whatever is on disk restores: orbax only renames a step folder once it is complete.
    steps = Checkpointer(run / "checkpoints").all_steps()
    assert steps and restore_run(run)[3] is not None


# ----------------------------------------------------------------------------- damaged checkpoints


@pytest.mark.parametrize("damage", ["truncated_metadata", "deleted_metadata", "empty_folder"])
def test_a_damaged_newest_checkpoint_is_set_aside_and_the_newest_good_one_resumes(tmp_path, damage):
    c = small(num_steps=30)
    straight = loop.train(small(num_steps=40), tmp_path / "straight", finish=False)
    loop.train(c, tmp_path / "run", finish=False)
    ckpts = tmp_path / "run" / "checkpoints"
    bad = 30
    if damage == "truncated_metadata":
        (ckpts / "30" / "state" / "_METADATA").write_text('{"tree')
    elif damage == "deleted_metadata":
        (ckpts / "30" / "state" / "_METADATA").unlink()
    else:
        bad = 35  # an empty step folder newer than every real one
        (ckpts / "35").mkdir()
    notes = []
    # evaluate only reads: it skips the damaged step and moves nothing
    _, _, _, state = restore_run(tmp_path / "run", note=notes.append)
    assert int(state.step) in (20, 30) and (ckpts / str(bad)).exists()
    result = loop.train(small(num_steps=40), tmp_path / "run", finish=False, note=notes.append)
    assert any(f"checkpoint {bad}" in n and "does not restore" in n for n in notes), notes
    assert (tmp_path / "run" / "corrupt_checkpoints" / str(bad)).exists()
    assert result["start"] == (20 if bad == 30 else 30)
    assert same_leaves(result["state"].params, straight["state"].params)


# ----------------------------------------------------------------------------- the run's identity


def test_the_checkpoint_carries_the_config_so_a_deleted_config_json_cannot_swap_the_run(tmp_path):
    loop.train(small(num_steps=10), tmp_path, finish=False)
    (tmp_path / "config.json").unlink()
    with pytest.raises(cfg.ConfigError, match=r"config\.beta_vae\.beta=4\.0, not 8\.0 \(read from its checkpoints\)"):
        loop.train(small(num_steps=20, **{"hp.beta": 8.0}), tmp_path, finish=False)
    with pytest.raises(cfg.ConfigError, match=r"config\.model\.latent_dim=10, not 6"):
        loop.train(small(num_steps=20, **{"model.latent_dim": 6}), tmp_path, finish=False)
    assert not (tmp_path / "config.json").exists()  # nothing written by a refused resume
    # A different method is named as such, not by one of its keys.
    other = configure("beta_tcvae_dsprites", **{**QUICK, **TINY, "num_steps": 20})
    with pytest.raises(cfg.ConfigError, match=r"config\.method='beta_vae', not 'beta_tcvae'"):
        loop.train(other, tmp_path, finish=False)
    # The right config resumes and writes config.json back.
    assert loop.train(small(num_steps=20), tmp_path, finish=False)["start"] == 10
    assert json.loads((tmp_path / "config.json").read_text())["beta_vae"]["beta"] == 4.0


def test_garbage_config_json_is_rewritten_from_the_checkpoint(tmp_path, capsys):
    loop.train(small(num_steps=10), tmp_path, finish=False)
    (tmp_path / "config.json").write_text("{not json")
    assert loop.train(small(num_steps=20), tmp_path, finish=False)["start"] == 10
    assert json.loads((tmp_path / "config.json").read_text())["method"] == "beta_vae"
    assert restore_run(tmp_path)[0].method == "beta_vae"


def test_a_failed_start_leaves_no_folder_that_refuses_the_corrected_command(tmp_path, monkeypatch, capsys):
    real = loop.sharding.jit_init

    def out_of_memory(init_state, mesh):
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 9e12 bytes")

    monkeypatch.setattr(loop.sharding, "jit_init", out_of_memory)
    args = ["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path / "r"), *CLI_TINY,
            "--config.num_steps=3", "--config.model.latent_dim=100000"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "out of memory initialising 'beta_vae'" in err
    assert not (tmp_path / "r").exists()
    monkeypatch.setattr(loop.sharding, "jit_init", real)
    assert cli.main(args[:-1]) == 0


# ----------------------------------------------------------------------------- one process per folder


def test_a_second_training_on_one_folder_is_refused_and_a_dead_holder_leaves_no_lock(tmp_path, capsys):
    loop.train(small(num_steps=2), tmp_path, finish=False)
    with RunLock(tmp_path):
        assert cli.main(["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path), *CLI_TINY,
                         "--config.num_steps=4"]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and f"{tmp_path} is in use: disentax process {os.getpid()} is training there" in err
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from disentax.runner.lock import RunLock; "
                               f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(cfg.ConfigError, match="is in use"):
        RunLock(tmp_path).acquire()
    holder.kill()
    holder.wait()
    RunLock(tmp_path).acquire().release()  # the lock died with its process


# ----------------------------------------------------------------------------- files written whole


def test_trimming_metrics_on_resume_never_truncates_the_file_in_place(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in (5, 10, 15)))

    def killed(*args):
        raise KeyboardInterrupt  # as if the process died before the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        MetricWriter(tmp_path, resume_step=10, tensorboard=False)
    monkeypatch.undo()
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [5, 10, 15]
    MetricWriter(tmp_path, resume_step=10, tensorboard=False).close()
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [5, 10]


def test_evaluate_never_relabels_scores_of_another_checkpoint(tmp_path):
    loop.train(small(num_steps=3, checkpoint_every=3), tmp_path, finish=False)
    first = run_evaluate.evaluate_run(tmp_path, "mig", num_train=64)
    assert first["metrics"]["mig"]["computed_with"] == {"step": 3, "seed": 0, "protocol": first["protocol"],
                                                       "metrics_version": METRICS_VERSION}
    loop.train(small(num_steps=6, checkpoint_every=3), tmp_path, finish=False)
    second = run_evaluate.evaluate_run(tmp_path, "factor_vae", num_train=64, num_eval=32, num_variance_estimate=64)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["step"] == 6 and set(saved["metrics"]) == {"factor_vae"}  # the step-3 MIG is not carried over
    assert saved["metrics"]["factor_vae"]["computed_with"]["step"] == 6 and second["step"] == 6


# ----------------------------------------------------------------------------- one line for what a user can fix


@pytest.mark.parametrize("body, needle", [
    ("def get_config(:\n", "line 1: invalid syntax"),
    ("def get_config():\n    return undefined_name\n", "line 2: NameError: name 'undefined_name' is not defined"),
])
def test_a_broken_config_file_is_one_line(tmp_path, capsys, body, needle):
    (tmp_path / "bad.py").write_text(body)
    assert cli.main(["train", "--config", str(tmp_path / "bad.py"), "--workdir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and needle in err


@pytest.mark.parametrize("override, needle", [
    ("--config.model.conv_channels=()", "config.model.conv_channels must be a tuple of positive integers"),
    ("--config.traversal_steps=0", "config.traversal_steps must be a positive integer"),
    ("--config.num_viz_images=0", "config.num_viz_images must be a positive integer"),
    ("--config.optimizer.grad_clip=-1", "config.optimizer.grad_clip must be >= 0"),
    ("--config.optimizer.b1=5", "config.optimizer.b1 must be in [0, 1)"),
])
def test_values_that_used_to_fail_after_training_are_refused_first(tmp_path, capsys, override, needle):
    assert cli.main(["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path / "r"), override]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and needle in err and not (tmp_path / "r").exists()


def test_a_workdir_that_is_a_file_or_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "f").write_text("")
    assert cli.main(["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path / "f"), *CLI_TINY]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "ro").mkdir()

    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("disentax.runner.lock.os.open", refuse)  # as a read-only folder does (root ignores modes)
    assert cli.main(["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path / "ro"), *CLI_TINY]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and f"cannot write in {tmp_path / 'ro'}: Permission denied" in err


def test_evaluate_on_a_folder_it_cannot_write_fails_before_computing(tmp_path, capsys, monkeypatch):
    loop.train(small(num_steps=2, checkpoint_every=2), tmp_path, finish=False)
    (tmp_path / "metrics.json.tmp").mkdir()  # the metrics file cannot be written beside it
    computed = []
    monkeypatch.setattr(run_evaluate, "evaluate", lambda *a, **k: computed.append(1) or {})
    assert cli.main(["evaluate", "--workdir", str(tmp_path), "--metrics", "mig"]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "cannot write" in err and not computed


def test_a_full_disk_is_one_line_and_the_last_good_checkpoint_survives(tmp_path, capsys, monkeypatch):
    real = checkpoint_mod.Checkpointer.save

    def full_at_20(self, step, state, config=None):
        if step >= 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, step, state, config)

    monkeypatch.setattr(checkpoint_mod.Checkpointer, "save", full_at_20)
    code = cli.main(["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path), *CLI_TINY,
                     "--config.num_steps=30"])
    err = capsys.readouterr().err
    assert code == 4 and one_line(err) and "No space left on device" in err
    monkeypatch.undo()
    assert Checkpointer(tmp_path / "checkpoints").all_steps() == [10]
    assert int(restore_run(tmp_path)[3].step) == 10


# ----------------------------------------------------------------------------- the smaller ones


def test_finished_runs_lower_lengths_resume_notes_and_errors_between_steps(tmp_path, capsys, monkeypatch):
    args = ["train", "--config", "beta_vae_dsprites", "--workdir", str(tmp_path), *CLI_TINY]
    assert cli.main(args + ["--config.num_steps=10"]) == 0
    capsys.readouterr()
    assert cli.main(args + ["--config.num_steps=10"]) == 0
    out, err = capsys.readouterr()
    assert "already at step 10" in out and "nan" not in out and f"resuming {tmp_path} from checkpoint 10" in err
    assert cli.main(args + ["--config.num_steps=5"]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "holds a run at step 10, past config.num_steps=5" in err

    # An error between steps (a host data error, say) keeps the work so far.
    real = loop._step_function

    def failing_at_15(*a, **k):
        next_batch, run = real(*a, **k)

        def batch(step):
            if step == 15:
                raise RuntimeError("a record could not be read")
            return next_batch(step)

        return batch, run

    monkeypatch.setattr(loop, "_step_function", failing_at_15)
    with pytest.raises(RuntimeError, match="could not be read"):
        loop.train(small(num_steps=30), tmp_path, finish=False)
    assert 15 in Checkpointer(tmp_path / "checkpoints").all_steps()
    monkeypatch.undo()
    straight = loop.train(small(num_steps=30), tmp_path / "straight", finish=False)
    assert same_leaves(loop.train(small(num_steps=30), tmp_path, finish=False)["state"].params,
                       straight["state"].params)
    shutil.rmtree(tmp_path / "straight")
    assert np.isfinite(read_metrics(tmp_path)[-1]["loss"])
