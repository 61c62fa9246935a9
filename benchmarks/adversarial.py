"""The adversarial methods' paper numbers, as one resumable script (sized for a GPU).

1. ICM (Parascandolo et al. 2018, Sec. 4): `--seeds` runs of `icm_mechanism_digits` at the
   config's sizes (200 identity steps + 2,000 competing). It reports how many runs specialise
   (every mechanism's majority winner is a different expert; paper: 7/10 with the identity
   initialisation) and the digit classifier's accuracy on transformed digits, on the chosen experts'
   outputs and on the originals (paper: 40 % -> ~99 %). `--no-identity` repeats the runs without
   the identity phase (paper: 1/10).
2. SD-GAN (Donahue et al. 2018, Table 1): `sd_gan_identity_sprites` and a plain DCGAN baseline with
   the same budget (32 images per step), each scored by identity verification of 2,000
   class-balanced generated pairs. Real pairs give the judge's ceiling. Paper, FaceNet on
   MS-Celeb-1M, AUC / accuracy: real .913 / .867, SD-DCGAN .823 / .749.

Every run is a run folder under `--workdir`. An interrupted study resumes each run from its
checkpoint, and finished runs are read back from their evaluation.json. Measured on a 2-core CPU:
4.4 s per SD-GAN step at width 32 and 10.7 s per ICM step, so both parts want a GPU.

    python benchmarks/adversarial.py --workdir runs/adversarial_study [--seeds 10] [--gan-steps 20000]
        [--skip icm,gan] [--out benchmarks/results/adversarial.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from disentax import config as cfg  # noqa: E402
from disentax.runner.loop import train  # noqa: E402


def _evaluation(config_name: str, overrides: list[str], workdir: Path) -> dict:
    """The run's evaluation.json, training (or resuming) it first unless it is already written."""
    done = workdir / "evaluation.json"
    if not done.exists():
        t = time.perf_counter()
        train(cfg.get(config_name, overrides + ["--config.progress=false"]), workdir)
        print(f"# {workdir.name}: {time.perf_counter() - t:.0f} s", flush=True)
    return json.loads(done.read_text())


def icm(seeds: int, identity: bool, workdir: Path, extra: list[str]) -> dict:
    runs = []
    for seed in range(seeds):
        over = [f"--config.seed={seed}", *extra] + ([] if identity else ["--config.icm.identity_steps=0"])
        runs.append(_evaluation("icm_mechanism_digits", over, workdir / f"icm_{'id' if identity else 'noid'}_{seed}"))
    acc = {k: [r["classifier_accuracy"][k] for r in runs] for k in ("transformed", "experts", "originals")}
    row = {"identity_init": identity, "seeds": seeds, "specialised": sum(bool(r["specialised"]) for r in runs),
           **{f"accuracy_{k}": sum(v) / len(v) for k, v in acc.items()}, "runs": runs}
    print(f"| ICM, identity init {identity} | specialised {row['specialised']}/{seeds} | accuracy transformed "
          f"{100 * row['accuracy_transformed']:.1f} % -> experts {100 * row['accuracy_experts']:.1f} % "
          f"(originals {100 * row['accuracy_originals']:.1f} %) |", flush=True)
    return row


def gan(steps: int, base: int, judge_steps: int, pairs: int, workdir: Path, extra: list[str]) -> dict:
    common = [f"--config.num_steps={steps}", f"--config.checkpoint_every={max(steps // 10, 1)}", *extra]
    each = lambda m: [f"--config.{m}.base={base}", f"--config.{m}.judge_steps={judge_steps}",  # noqa: E731
                      f"--config.{m}.verification_pairs={pairs}"]
    sd = _evaluation("sd_gan_identity_sprites", common + each("sd_gan"), workdir / "sd_gan")
    dc = _evaluation("dcgan_identity_sprites", common + each("dcgan") + ["--config.batch_size=32"], workdir / "dcgan")
    rows = {"real": sd["verification"]["real"], "sd_gan": sd["verification"]["generated"],
            "dcgan": dc["verification"]["generated"]}
    paper = {"real": ".913 / .867", "sd_gan": ".823 / .749", "dcgan": "-"}
    print("\n| pairs | AUC | accuracy | paper (FaceNet, MS-Celeb-1M) |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['auc']:.3f} | {r['accuracy']:.3f} | {paper[name]} |")
    print(f"judge accuracy: {sd['judge']['accuracy']}", flush=True)
    return {"steps": steps, "base": base, "verification": rows, "judge": sd["judge"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", required=True, help="study folder (resumed)")
    p.add_argument("--seeds", type=int, default=10, help="ICM runs per setting")
    p.add_argument("--no-identity", action="store_true", help="also run ICM without the identity phase")
    p.add_argument("--gan-steps", type=int, default=20_000)
    p.add_argument("--gan-base", type=int, default=64)
    p.add_argument("--judge-steps", type=int, default=1000, help="training steps of the verification judge")
    p.add_argument("--pairs", type=int, default=2000, help="verification pairs (even)")
    p.add_argument("--skip", default="", help="comma list of parts to skip: icm, gan")
    p.add_argument("--override", action="append", default=[], metavar="--config.KEY=VALUE",
                   help="extra config overrides for every run (smoke tests: smaller networks)")
    p.add_argument("--out", default=None, help="results JSON")
    a = p.parse_args()
    workdir, skip, out = Path(a.workdir), set(filter(None, a.skip.split(","))), {}
    if "icm" not in skip:
        out["icm"] = [icm(a.seeds, True, workdir, a.override)]
        if a.no_identity:
            out["icm"].append(icm(a.seeds, False, workdir, a.override))
    if "gan" not in skip:
        out["gan"] = gan(a.gan_steps, a.gan_base, a.judge_steps, a.pairs, workdir, a.override)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
