"""Tulyakov et al. (2018), "MoCoGAN: decomposing motion and content for video generation", Table 1:
the average content distance (ACD) of generated shape-motion clips.

    python reproduce/mocogan_shape_motion.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's numbers (Table 1, shape motion; 0-255 colour units): reference (real clips) 0, VGAN
5.02, MoCoGAN 1.79. A clip's ACD is the mean pairwise L2 distance between the shape's colours in its
frames; a generator that keeps the object's content fixed while it moves scores low.

What is measured: the method's own evaluation (`evaluation.json`, written when training ends; see
`disentax.methods.mocogan` and `disentax.metrics.content_distance`) on 256 generated clips, the
generator in inference mode: (1) their ACD; (2) the ACD of 256 real clips, the check on the metric
(the paper's reference 0); (3) not in the paper, which shows it only in pictures: the L2 distance
between the mean shape colours of two generated clips that share z_C and draw their own motion
noise (0 when the content code alone sets the object's colour), with the same distance for real
clip pairs that share their content in the note. Each row's note also gives the ACD with each
frame's colour the mean of the shape's pixels (the paper's literal statistic, where the method
reports it beside the default), the pixel threshold, the clips left out (fewer than two frames
showing a shape), and the ACD of the same generator untrained (step 0, the same noise): a
generator that paints every frame alike scores near 0 without having learnt anything, so the
number is read against that and the pictures (`content_motion_grid.gif` in the run folder).

What departs from the paper: the config `mocogan_shape_motion` (the authors' released code's
sizes: d_C = 50, d_M = d_E = 10, width 64, Adam 2e-4, β1 = 0.5; one batch of 16 clips feeds both
critics; a dense-head image critic; no weight decay) on the procedural `shape_motion` clips
(circles and squares of random size and colour on Bezier paths, 16 frames of 64x64, drawn without
end where the paper had 4,000 fixed videos). `paper` trains the released code's 100,000 steps
with 3 seeds (chosen; Table 1 reports one model).

Budgets (steps × batch, seeds; width): smoke 2 × 4, 1 seed, width 4 and codes of 4 / 3 / 2 dims, 8
evaluation clips (CI only); cpu 650 × 16, 1 seed, width (`base`) 16, the paper's code sizes: a step
measured 1.17 s on the shared 2-core CPU (8.5 s at width 64), the whole budget 14.0 minutes (12.9 of
training, then the evaluations of the trained and the untrained generator; a rerun that resumes
68 s); paper 100,000 × 16, 3 seeds, width 64. Smoke: about 40 s on the same machine. A cpu budget
checks the pipeline and shows a direction (does the ACD of generated clips move towards the real
clips' as the generator starts drawing shapes?), not the paper's number: 650 steps are 0.65 % of the
released length, at a quarter of its width. Measured there: the critics were right on every clip
from the first logged step on and the generator drew no shape, only dim speckle with a bright left
column and top row, so its ACD (2.30, near the paper's 1.79) is the colour drift of that speckle,
not a sign of consistent content (see the finding in `reproduce/RESULTS.md`). Each seed trains in
`<workdir>/s<seed>` through `disentax.runner.loop.train`, so a rerun resumes the training and reads
the evaluation it wrote.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import _harness as h
import numpy as np

SCRIPT = "mocogan_shape_motion"
_TINY = {"mocogan.base": 4, "mocogan.content_dim": 4, "mocogan.motion_dim": 3, "mocogan.noise_dim": 2,
         "mocogan.acd_clips": 8, "mocogan.eval_chunk": 4, "mocogan.picture_rows": 2}
BUDGETS = {
    "smoke": h.Budget(steps=2, batch=4, seeds=1, extra={"overrides": _TINY}),
    "cpu": h.Budget(steps=650, batch=16, seeds=1,
                    extra={"overrides": {"mocogan.base": 16}, "note": "width 16 (the paper's 64)"}),
    "paper": h.Budget(steps=100_000, batch=16, seeds=3, extra={"overrides": {}}),
}
PAPER = {"generated": "1.79 (MoCoGAN; VGAN 5.02)", "real": "0 (reference)",
         "pairs": "pictures only (Fig. 2), no number"}


def run(budget: h.Budget, workdir) -> list[dict]:
    """Train and score each seed; rows {"seed", "generated", "real", "pairs", "untrained", ...}."""
    rows = []
    for seed in range(budget.seeds):
        t = time.perf_counter()
        trained = h.train_seed("mocogan_shape_motion", budget, seed, Path(workdir) / f"s{seed}", rows)
        if trained is None:
            continue
        c, ev, method = trained
        before = h.untrained_evaluation(method, c)
        row = {"seed": seed, "diverged": None, "threshold": ev["threshold"], "acd": ev["acd"],
               "same_content_colour_distance": ev["same_content_colour_distance"],
               "untrained": {"acd": before["acd"], "same_content_colour_distance":
                             before["same_content_colour_distance"]},
               "generated": ev["acd"]["generated"]["acd"], "real": ev["acd"]["real"]["acd"],
               "pairs": ev["same_content_colour_distance"]["generated"]["distance"]}
        rows.append(row)
        h.progress(f"seed={seed}: ACD generated {row['generated']:.2f}, real {row['real']:.2f}; same-z_C colour "
                   f"distance {row['pairs']:.2f} (untrained: ACD {before['acd']['generated']['acd']:.2f}, pairs "
                   f"{before['same_content_colour_distance']['generated']['distance']:.2f}) "
                   f"({time.perf_counter() - t:.0f} s)")
    return rows


def _mean(values) -> str:
    values = [float(v) for v in values if v is not None and np.isfinite(v)]
    return f"{np.mean(values):.2f}" if values else "n/a"


def _acd_note(rows, which: str) -> str:
    """The mean-statistic ACD (where reported), the clips left out and, for generated clips, the
    untrained generator's ACD, over the rows' seeds."""
    parts = []
    if all("acd_mean" in r["acd"][which] for r in rows):
        literal = _mean(r["acd"][which]["acd_mean"] for r in rows)
        parts.append(f"with the frame's mean colour (the paper's literal statistic) {literal}")
    left = sum(r["acd"][which]["num_left_out"] for r in rows)
    total = sum(r["acd"][which]["num_clips"] for r in rows)
    parts.append(f"{left} of {total} clips left out (under two frames showing a shape)")
    if which == "generated":
        parts.append(f"untrained generator {_mean(r['untrained']['acd']['generated']['acd'] for r in rows)}")
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    good = [r for r in rows if r["diverged"] is None]
    diverged = len(rows) - len(good)
    common = "procedural shape motion" + (f"; {budget.extra['note']}" if budget.extra.get("note") else "")
    if good:
        common += f"; pixel threshold {good[0]['threshold']:g}; 0-255 units"
    if diverged:
        common += f"; {diverged} seed(s) diverged, left out"
    pairs_real = _mean(r["same_content_colour_distance"]["real"]["distance"] for r in good)
    pairs_untrained = _mean(r["untrained"]["same_content_colour_distance"]["generated"]["distance"] for r in good)
    pairs_left = sum(r["same_content_colour_distance"]["generated"]["num_left_out"] for r in good)
    measured = [
        h.Measured("ACD of generated clips", PAPER["generated"], [r["generated"] for r in good], digits=2,
                   note=f"{common}; {_acd_note(good, 'generated')}" if good else common),
        h.Measured("ACD of real clips", PAPER["real"], [r["real"] for r in good], digits=2,
                   note=f"{common}; {_acd_note(good, 'real')}" if good else common),
        h.Measured("colour distance of generated clip pairs sharing z_C", PAPER["pairs"], [r["pairs"] for r in good],
                   digits=2, note=f"{common}; real pairs sharing their content {pairs_real}; untrained generator "
                                  f"{pairs_untrained}; {pairs_left} pair(s) left out"),
    ]
    return h.report(SCRIPT, args, budget, measured, {"runs": rows})


if __name__ == "__main__":
    main()
