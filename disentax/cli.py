"""`disentax` command line: train (and, as they land, evaluate, traverse, benchmark)."""
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
    from disentax.train.loop import NonFiniteLossError, train

    try:
        config = cfg.get(args.config, overrides)
    except cfg.ConfigError as e:
        print(f"disentax: error: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = train(config, args.workdir)
    except cfg.ConfigError as e:
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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    rest, overrides = _split_overrides(argv)
    parser = argparse.ArgumentParser(prog="disentax", description="Disentangled VAEs in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a method from a config", usage=USAGE)
    p_train.add_argument("--config", required=True, help="config file path or name")
    p_train.add_argument("--workdir", required=True, help="run folder (resumed if it holds checkpoints)")
    args = parser.parse_args(rest)
    if args.command == "train":
        return _cmd_train(args, overrides)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
