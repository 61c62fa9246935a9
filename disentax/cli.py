"""`disentax` command line: train, evaluate (and, as they land, traverse, benchmark)."""
from __future__ import annotations

import argparse
import signal
import sys

USAGE = """disentax train --config CONFIG --workdir DIR [--config.KEY=VALUE ...]

CONFIG is a file path (configs/beta_vae_dsprites.py) or a bare name (beta_vae_dsprites).
Overrides: --config.beta=8 --config.model.latent_dim=6 --config.num_steps=2000"""


def _interrupt(signum, frame):
    """SIGTERM behaves like Ctrl-C, so a killed run saves its checkpoint before exiting."""
    raise KeyboardInterrupt


def _split_overrides(argv):
    rest, overrides = [], []
    for a in argv:
        (overrides if a.startswith("--config.") else rest).append(a)
    return rest, overrides


def _cmd_train(args, overrides) -> int:
    from disentax import config as cfg
    from disentax.data.tfds import DatasetNotPreparedError
    from disentax.train.loop import NonFiniteLossError, train

    try:
        config = cfg.get(args.config, overrides)
    except cfg.ConfigError as e:
        print(f"disentax: error: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = train(config, args.workdir)
    except (cfg.ConfigError, DatasetNotPreparedError) as e:  # one line: what is wrong or missing, how to fix it
        print(f"disentax: error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLossError as e:
        print(f"disentax: error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"\ndisentax: interrupted; checkpoint saved in {args.workdir}; rerun the same command to resume",
              file=sys.stderr)
        return 130
    m = result["metrics"]
    print(f"trained {config.method} to step {result['step']}: loss {m.get('loss', float('nan')):.3f}, "
          f"kl {m.get('kl', float('nan')):.3f}; run folder {args.workdir}")
    return 0


EVALUATE_USAGE = """disentax evaluate --workdir DIR [--metrics mig,dci,...] [--num-train N] [--num-eval N]

Restores the run's latest checkpoint, scores its representation (the encoder mean) with the
metrics that apply to its dataset, writes DIR/metrics.json and prints a table. Default metrics:
mig, dci, sap, modularity, beta_vae, factor_vae, information (add mig_exact, or --metrics all)."""


def _format_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_format_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def _cmd_evaluate(args) -> int:
    import json
    from pathlib import Path

    import jax

    from disentax.metrics.suite import evaluate, parse_metric_names
    from disentax.train.restore import RunNotFoundError, restore_run

    try:
        names = parse_metric_names(args.metrics)
    except ValueError as e:
        print(f"disentax: error: {e}", file=sys.stderr)
        return 2
    for flag in ("num_train", "num_eval", "num_variance_estimate", "mig_exact_samples"):
        value = getattr(args, flag)
        if value is not None and value < 2:
            print(f"disentax: error: --{flag.replace('_', '-')} must be an integer >= 2, got {value}", file=sys.stderr)
            return 2
    from disentax.data.tfds import DatasetNotPreparedError

    try:
        config, method, dataset, state = restore_run(args.workdir)
    except (RunNotFoundError, DatasetNotPreparedError) as e:  # one line: what is missing, how to make it
        print(f"disentax: error: {e}", file=sys.stderr)
        return 2
    if method.representation is None:
        print(f"disentax: error: method {config.method!r} defines no representation to evaluate", file=sys.stderr)
        return 2
    params = state.params
    representation_fn = lambda x: method.representation(params, x)  # noqa: E731
    encode_fn = None
    if hasattr(method.model, "encode"):
        encode_fn = lambda x: method.model.apply({"params": params}, x, method=method.model.encode)  # noqa: E731
    step = int(state.step)
    print(f"evaluating {config.method} on {config.dataset} at step {step}: {', '.join(names)}")

    def show(name, scores):
        for k, v in scores.items():
            print(f"  {name:<12} {k:<24} {_format_value(v)}", flush=True)

    results = evaluate(
        jax.random.PRNGKey(args.seed), representation_fn, dataset, names, encode_fn=encode_fn,
        num_train=args.num_train, num_eval=args.num_eval, num_variance_estimate=args.num_variance_estimate,
        dci_importance=args.dci_importance, mig_exact_samples=args.mig_exact_samples or 10_000,
        progress=not args.no_progress, on_result=show,
    )
    path = Path(args.workdir) / "metrics.json"
    previous = {}
    if path.exists():
        try:
            previous = json.loads(path.read_text()).get("metrics", {})
        except (json.JSONDecodeError, AttributeError):
            previous = {}
    record = {
        "step": step, "method": config.method, "dataset": config.dataset, "seed": args.seed,
        "protocol": {"num_train": args.num_train or 10_000, "num_eval": args.num_eval or 5_000,
                     "num_variance_estimate": args.num_variance_estimate or 10_000,
                     "dci_importance": args.dci_importance},
        "metrics": {**previous, **results},
    }
    path.write_text(json.dumps(record, indent=2, sort_keys=True))
    print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    rest, overrides = _split_overrides(argv)
    parser = argparse.ArgumentParser(prog="disentax", description="Disentangled VAEs in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a method from a config", usage=USAGE)
    p_train.add_argument("--config", required=True, help="config file path or name")
    p_train.add_argument("--workdir", required=True, help="run folder (resumed if it holds checkpoints)")
    p_eval = sub.add_parser("evaluate", help="score a trained run with disentanglement metrics", usage=EVALUATE_USAGE)
    p_eval.add_argument("--workdir", required=True, help="run folder written by `disentax train`")
    p_eval.add_argument("--metrics", default=None, help="comma-separated metric names, or all")
    p_eval.add_argument("--num-train", type=int, default=None, help="training points per metric (protocol: 10000)")
    p_eval.add_argument("--num-eval", type=int, default=None, help="evaluation points per metric (protocol: 5000)")
    p_eval.add_argument("--num-variance-estimate", type=int, default=None, help="factor_vae variance points (10000)")
    p_eval.add_argument("--mig-exact-samples", type=int, default=None, help="codes per entropy in mig_exact (10000)")
    p_eval.add_argument("--dci-importance", default="gbt", choices=("gbt", "random_forest", "lasso"))
    p_eval.add_argument("--seed", type=int, default=0, help="PRNG seed of the metrics' sampling")
    p_eval.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(rest)
    if args.command == "evaluate":
        if overrides:
            print(f"disentax: error: evaluate takes no config overrides, got {overrides[0]}", file=sys.stderr)
            return 2
        return _cmd_evaluate(args)
    if args.command == "train":
        return _cmd_train(args, overrides)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
