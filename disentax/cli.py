"""`disentax` command line: train, sweep, evaluate, list."""
from __future__ import annotations

import signal
import sys

# Run as the command (the console script or `python -m disentax.cli`), a signal that comes while
# JAX loads (seconds) only records itself, and `main` stops cleanly on it; imported as a module
# (tests, notebooks), nothing changes.
_EARLY: list[int] = []
_EARLY_PREVIOUS: dict = {}
if sys.argv and sys.argv[0].rsplit("/", 1)[-1] in ("disentax", "cli.py"):
    _EARLY_PREVIOUS = {s: signal.signal(s, lambda signum, frame: _EARLY.append(signum))
                       for s in (signal.SIGINT, signal.SIGTERM)}

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from disentax import config as cfg  # noqa: E402
from disentax.data.tfds import DatasetNotPreparedError  # noqa: E402
from disentax.errors import ConfigError  # noqa: E402
from disentax.metrics.dci import IMPORTANCE_MODELS  # noqa: E402
from disentax.runner import evaluate as run_evaluate  # noqa: E402
from disentax.runner import sweep, sweep_scores  # noqa: E402
from disentax.runner.listing import SECTIONS, listing  # noqa: E402
from disentax.runner.loop import NonFiniteLossError, train  # noqa: E402
from disentax.runner.restore import RunNotFoundError  # noqa: E402
from disentax.runner.signals import StopRequested  # noqa: E402

USAGE = """disentax train --config CONFIG --workdir DIR [--config.KEY=VALUE ...]

CONFIG is a file path (configs/beta_vae_dsprites.py) or a bare name (beta_vae_dsprites).
Overrides: --config.beta_vae.beta=8 --config.model.latent_dim=6 --config.num_steps=2000
--config.method=beta_tcvae switches method (the new one starts from its published defaults)."""

SWEEP_USAGE = """disentax sweep --config CONFIG --workdir DIR --seeds S [--grid KEY=v1,v2,...]... [--vectorize auto]
                      [--config.KEY=VALUE ...]
       disentax sweep export --workdir DIR --member I --to RUN_DIR
       disentax sweep udr --workdir DIR [--num-points 1000]

Trains S seeds (config.seed, config.seed + 1, ...) for every combination of the grid's values as one
program: the members' states stacked along a model axis, one vmapped step. KEY is a real-valued
hyperparameter of the method (beta or beta_vae.beta). Rerun to resume. `export` writes member I
(numbered as in DIR/sweep.json) as an ordinary run folder that `disentax evaluate` reads; `udr`
scores every member against the other seeds of its grid point (Duan et al. 2020) into DIR/udr.json."""

EVALUATE_USAGE = """disentax evaluate --workdir DIR [--metrics mig,dci,...|all] [--code NAME] [--num-train N] [--num-eval N]

Restores the run's latest checkpoint, scores the method's code (its default one unless --code names
another; `disentax list` and the first printed line say which dimensions hold what) with the metrics
that apply to its dataset, writes DIR/metrics.json and prints tables. Default metrics:
mig, dci, sap, modularity, beta_vae, factor_vae, information, irs, infomec, mcc, unsupervised;
the slow ones run when named, or with --metrics all: mig_exact, dci_es, downstream; so does
beta_vae_changed (the β-VAE metric with pairs that differ in one factor).
--dci-importance lightgbm (~19x faster than disentanglement_lib's gbt) also makes downstream use LightGBM.
Codes from another framework: python -m disentax.metrics CODES.npy FACTORS.npy.

On a sweep folder (`disentax sweep`) it scores every member with one shared encoding pass per metric
draw and writes DIR/results.jsonl, DIR/results.csv (a row per member, a column per score, udr when a
grid point has several seeds), prints median [quartiles] per grid value, and draws
DIR/metric_distributions.png and DIR/metric_rank_correlation.png."""


def _error(message: str, code: int = 2) -> int:
    print(f"disentax: error: {message}", file=sys.stderr)
    return code


def _split_overrides(argv):
    rest, overrides = [], []
    for a in argv:
        (overrides if a.startswith("--config.") else rest).append(a)
    return rest, overrides


def _run_training(args, overrides, run):
    """(config, result) of `run(config)` on the config of `args`, or the exit code of a failure,
    said in one line: a bad config, a missing dataset, a non-finite loss, a signal, a write error."""
    try:
        config = cfg.get(args.config, overrides)
    except ConfigError as e:
        return _error(str(e))
    if (code := _stopped_early()) is not None:
        return code
    try:
        # SIGINT / SIGTERM stop after the current step with a checkpoint; a second one exits at once.
        return config, run(config)
    except (ConfigError, DatasetNotPreparedError) as e:  # one line: what is wrong or missing, how to fix it
        return _error(str(e))
    except NonFiniteLossError as e:
        return _error(str(e), 3)
    except StopRequested as e:
        resume = "; rerun the same command to resume" if (e.saved_step or e.latest) is not None else ""
        print(f"disentax: {e} in {args.workdir}{resume}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a full disk, a folder that cannot be written: what failed, in one line
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _error(f"{where}{e.strerror or e}", 4)


def _cmd_train(args, overrides) -> int:
    outcome = _run_training(args, overrides, lambda c: train(c, args.workdir, exit_on_second_signal=True))
    if isinstance(outcome, int):
        return outcome
    config, result = outcome
    m = result["metrics"]
    if result["step"] == result["start"]:
        print(f"{args.workdir} is already at step {result['step']} (config.num_steps={config.num_steps}); "
              "nothing to train: raise --config.num_steps to continue")
        return 0
    kl = f", kl {m['kl']:.3f}" if "kl" in m else ""  # a VAE's; GANs and embeddings have none
    print(f"trained {config.method} to step {result['step']}: loss {m.get('loss', float('nan')):.3f}{kl}; "
          f"run folder {args.workdir}")
    return 0


def _cmd_sweep(args, overrides) -> int:
    if args.action in ("export", "udr") and overrides:
        return _error(f"sweep {args.action} takes no config overrides, got {overrides[0]}")
    if args.action == "udr":
        try:
            record = sweep.score_udr(args.workdir, num_points=args.num_points)
        except (ConfigError, RunNotFoundError, ValueError) as e:
            return _error(str(e))
        for row in record["members"]:
            values = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("index", "udr", "informative"))
            score = "—" if row["udr"] is None else f"{row['udr']:.3f} ({row['informative']} informative latents)"
            print(f"member {row['index']:>3} {values}: UDR {score}")
        print(f"written to {args.workdir}/udr.json")
        return 0
    if args.action == "export":
        try:
            to = sweep.export_member(args.workdir, args.member, args.to)
        except (ConfigError, RunNotFoundError) as e:
            return _error(str(e))
        print(f"member {args.member} of {args.workdir} written to {to}; score it with "
              f"`disentax evaluate --workdir {to}`")
        return 0
    if args.config is None or args.seeds is None:
        return _error("sweep needs --config and --seeds (or `disentax sweep export ...`)")
    outcome = _run_training(args, overrides, lambda c: sweep.train_sweep(
        c, args.workdir, args.seeds, args.grid or (), vectorize=args.vectorize, exit_on_second_signal=True))
    if isinstance(outcome, int):
        return outcome
    config, result = outcome
    n, diverged = len(result["members"]), result["diverged"]
    if result["step"] == result["start"]:
        print(f"{args.workdir} is already at step {result['step']} (config.num_steps={config.num_steps}); "
              "nothing to train: raise --config.num_steps to continue")
        return 0
    losses = [m.get("loss", float("nan")) for m in result["metrics"]]
    finite = [v for v in losses if v == v and abs(v) != float("inf")]
    summary = f"losses {min(finite):.3f} to {max(finite):.3f}" if finite else "no finite loss"
    print(f"trained {n} members of {config.method} to step {result['step']}: {summary}"
          + (f"; {len(diverged)} diverged (members {', '.join(map(str, sorted(diverged)))})" if diverged else "")
          + f"; sweep folder {args.workdir} (members in {args.workdir}/sweep.json)")
    return 0


def _cmd_evaluate(args) -> int:
    for flag in ("num_train", "num_eval", "num_variance_estimate", "mig_exact_samples"):
        value = getattr(args, flag)
        if value is not None and value < 2:
            return _error(f"--{flag.replace('_', '-')} must be an integer >= 2, got {value}")
    try:
        run_evaluate.parse_metric_names(args.metrics)
    except ValueError as e:
        return _error(str(e))
    if (Path(args.workdir) / sweep.SPEC_FILE).is_file():
        return _evaluate_sweep(args)
    state = {"first": True}

    def start(record):
        print(f"evaluating {record['method']} on {record['dataset']} at step {record['step']}")
        print(run_evaluate.describe_code(record), flush=True)

    def show(name, scores):
        print(run_evaluate.format_scores(name, scores, header=state["first"]), flush=True)
        state["first"] = False

    try:
        record = run_evaluate.evaluate_run(
            args.workdir, args.metrics, code=args.code, seed=args.seed, num_train=args.num_train,
            num_eval=args.num_eval, num_variance_estimate=args.num_variance_estimate,
            dci_importance=args.dci_importance, mig_exact_samples=args.mig_exact_samples or 10_000,
            progress=not args.no_progress, on_start=start, on_result=show,
            note=lambda message: print(f"disentax: {message}", file=sys.stderr, flush=True),
        )
    except (RunNotFoundError, DatasetNotPreparedError, ConfigError) as e:  # what is missing, how to make it
        return _error(str(e))
    except OSError as e:
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _error(f"{where}{e.strerror or e}", 4)
    if record.get("code") is None:  # a method without a representation: its own evaluation
        print(record["not_applicable"])
        if record["evaluation"] is None:
            return 0
        print(json.dumps(record["evaluation"], indent=1, sort_keys=True))
        print(f"wrote {record['path']}")
        return 0
    tables = run_evaluate.format_dimension_tables(record)
    if tables:
        print("\n" + tables)
    print(f"wrote {record['path']}")
    return 0


def _evaluate_sweep(args) -> int:
    def done(row):
        what = ", ".join([f"seed={row['seed']}"] + [f"{k.rpartition('.')[2]}={v:g}" for k, v in row.items()
                                                     if k.count(".") == 1 and k.split(".")[0] == row["method"]])
        if row["diverged"] is not None:
            print(f"member {row['member']:>3} ({what}): diverged at step {row['diverged']}, not scored", flush=True)
            return
        flat = sweep_scores.flat_scores(row["metrics"])
        heads = sweep_scores.headline_columns(list(flat))
        print(f"member {row['member']:>3} ({what}): " + ", ".join(f"{c} {flat[c]:.3f}" for c in heads), flush=True)

    try:
        out = sweep_scores.evaluate_sweep(
            args.workdir, args.metrics, code=args.code, seed=args.seed, num_train=args.num_train,
            num_eval=args.num_eval, num_variance_estimate=args.num_variance_estimate,
            dci_importance=args.dci_importance, mig_exact_samples=args.mig_exact_samples or 10_000,
            progress=not args.no_progress, on_member=done,
            note=lambda message: print(f"disentax: {message}", file=sys.stderr, flush=True))
    except (RunNotFoundError, DatasetNotPreparedError, ConfigError) as e:
        return _error(str(e))
    except OSError as e:
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _error(f"{where}{e.strerror or e}", 4)
    print(f"\nmedian [25%, 75%] over the members of each grid value, step {out['step']}:")
    print(sweep_scores.format_summary(out["summary"]))
    print("wrote " + ", ".join(out["paths"].values()))
    return 0


def _cmd_list(args) -> int:
    bad = [w for w in args.what if w not in SECTIONS]
    if bad:
        return _error(f"unknown section {bad[0]!r}; allowed: {', '.join(SECTIONS)}")
    print(listing(args.what or SECTIONS))
    return 0


def _restore_signals() -> None:
    """Give SIGINT/SIGTERM back the handlers they had before this module was imported."""
    for s, handler in _EARLY_PREVIOUS.items():
        signal.signal(s, handler)
    _EARLY_PREVIOUS.clear()


def _stopped_early() -> int | None:
    """The exit code when a signal came during start-up (after saying so), else None."""
    if not _EARLY:
        return None
    print(f"disentax: {signal.Signals(_EARLY[0]).name} during start-up: stopped before anything was written",
          file=sys.stderr)
    return 130 if _EARLY[0] == signal.SIGINT else 143


def main(argv=None) -> int:
    if (code := _stopped_early()) is not None:
        return code
    argv = sys.argv[1:] if argv is None else list(argv)
    rest, overrides = _split_overrides(argv)
    parser = argparse.ArgumentParser(prog="disentax", description="Disentangled representation learning in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a method from a config", usage=USAGE)
    p_train.add_argument("--config", required=True, help="config file path or name")
    p_train.add_argument("--workdir", required=True, help="run folder (resumed if it holds checkpoints)")
    p_sweep = sub.add_parser("sweep", help="train seeds x hyperparameter values as one program", usage=SWEEP_USAGE)
    p_sweep.add_argument("action", nargs="?", choices=("export", "udr"),
                         help="export: write one member as a run folder; udr: score the members without labels")
    p_sweep.add_argument("--config", default=None, help="config file path or name")
    p_sweep.add_argument("--workdir", required=True, help="sweep folder (resumed if it holds checkpoints)")
    p_sweep.add_argument("--seeds", type=int, default=None, help="seeds per grid point")
    p_sweep.add_argument("--grid", action="append", default=None, metavar="KEY=v1,v2,...",
                         help="a hyperparameter and its values; repeat for a product grid")
    p_sweep.add_argument("--member", type=int, default=None, help="export: the member's index")
    p_sweep.add_argument("--to", default=None, help="export: the run folder to write")
    p_sweep.add_argument("--vectorize", default="auto", choices=sweep.VECTORIZE,
                         help="how members share the program: unroll (CPU default), vmap (accelerators), map")
    p_sweep.add_argument("--num-points", type=int, default=1000, help="udr: images every member encodes")
    p_eval = sub.add_parser("evaluate", help="score a trained run with disentanglement metrics", usage=EVALUATE_USAGE)
    p_eval.add_argument("--workdir", required=True, help="run folder written by `disentax train`")
    p_eval.add_argument("--metrics", default=None, help="comma-separated metric names, or all")
    p_eval.add_argument("--code", default=None, help="which of the method's codes to score (default: its first)")
    p_eval.add_argument("--num-train", type=int, default=None, help="training points per metric (protocol: 10000)")
    p_eval.add_argument("--num-eval", type=int, default=None, help="evaluation points per metric (protocol: 5000)")
    p_eval.add_argument("--num-variance-estimate", type=int, default=None, help="factor_vae variance points (10000)")
    p_eval.add_argument("--mig-exact-samples", type=int, default=None, help="codes per entropy in mig_exact (10000)")
    p_eval.add_argument("--dci-importance", default="gbt", choices=IMPORTANCE_MODELS,
                        help="DCI's importance model; lightgbm also sets downstream's boosted trees (default gbt)")
    p_eval.add_argument("--seed", type=int, default=0, help="PRNG seed of the metrics' sampling")
    p_eval.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_list = sub.add_parser("list", help="methods (hyperparameters, defaults), configs, datasets, metrics")
    p_list.add_argument("what", nargs="*", metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    args = parser.parse_args(rest)
    if args.command not in ("train", "sweep"):
        _restore_signals()  # Ctrl-C ends `evaluate` and `list` as usual; `train` takes the signals over
    if overrides and args.command not in ("train", "sweep"):
        return _error(f"{args.command} takes no config overrides, got {overrides[0]}")
    if args.command == "sweep":
        if args.action == "export" and (args.member is None or args.to is None):
            return _error("sweep export needs --member I and --to RUN_DIR")
        return _cmd_sweep(args, overrides)
    if args.command == "evaluate":
        return _cmd_evaluate(args)
    if args.command == "list":
        return _cmd_list(args)
    return _cmd_train(args, overrides)


if __name__ == "__main__":
    sys.exit(main())
