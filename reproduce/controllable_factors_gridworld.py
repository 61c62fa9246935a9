"""Thomas, Bengio, Fedus, Pondard, Beaudoin, Larochelle, Pineau, Precup & Bengio (2018), "Disentangling
the independently controllable factors of variation by interacting with the world", Sec. 4.1 and
App. B.1: an encoder h = f(s), factors φ and policies π_φ trained to maximise the selectivity (Eq. 1),
read against the true coordinates of the agent (grid world) or of the two digits (digit grid world).

    python reproduce/controllable_factors_gridworld.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's claims (figures only, no numbers): in the MazeBase-like grid world with the redundant
actions, K = 2, the Gaussian kernel, one-step policies and an autoencoder loss, the variations
h' − h of sampled factors fall on four modes (±x, ±y; Fig. 2a) and h of every reachable cell forms a
lattice whose axes are the agent's x and y (Fig. 2b: "we can recover the x and y position of the
agent in any observation s simply by looking at its latent encoding h"). With two digits moved by 8
actions, K = 4 coordinates, K separately parameterised policies and no autoencoder (App. B.1), "for
each [of x1, y1, x2, y2], at least one f_k recovers it almost linearly, from the raw pixels only"
(Fig. 4).

What is measured: the method's own evaluation (`evaluation.json`, written when training ends; see
`disentax.methods.controllable_factors`), the reading of those figures the issue asks for: over every
reachable state (`env.all_states()`, inference-mode batch norm), the |Pearson correlation| of each
learned coordinate h_k with each true coordinate, and per true coordinate the best |corr| over k
(one row each: x, y in the grid world, x1, y1, x2, y2 in the digit world). Each row's note gives which
h_k it is, the R² of the coordinate's least-squares fit on (h, 1), the same best |corr| of the
untrained encoder (step 0, the same key: what a random convolutional network already reads off the
pixels), the mean selectivity of π against its ceiling log n, and the greedy actions of sampled
factors (how many distinct actions, Sec. 5's mode collapse). Fig. 2a, 2b and 4 themselves are
`variations.png`, `lattice.png` and `factors.png` in each run folder.

What departs from the paper: the configs `controllable_factors_gridworld` (Sec. 4.1, the grid world
with the redundant actions) and `controllable_factors_digit_gridworld` (App. B.1; scikit-learn's 8x8
digits on a 7x7 grid instead of MNIST) with the method's chosen defaults where the paper is silent
(Adam 5e-4, batch 64, ε-greedy 0.1, β_H = 0.01, λ_AE = 1, 32-channel encoder, 64-unit hidden
layers, n = 256 factors) and 5,000 steps (the paper gives no length). `paper` runs those configs
with 3 seeds each (the paper shows one model each).

Budgets (steps × batch, seeds; widths): smoke 2 × 8, 1 seed, 4-channel encoder, 8-unit layers, 8
factors, small evaluations (CI only); cpu 5,000 × 32 (the configs' length at half their batch), 1 seed
per world, a 16-channel encoder (half the configs' width; n = 256 factors and 64 hidden units kept): a
step measured 48 ms in the grid world and 23 ms in the digit world on the shared 2-core CPU (195 and
117 ms at the configs' width and batch 64), the whole budget 5.9 minutes (4.2 for the grid world,
1.7 for the digits, each with its two evaluations; a rerun that resumes 31 s); paper 5,000 × 64, 3 seeds, the configs' widths.
Smoke: about 45 s on the same machine. A cpu budget checks the pipeline and shows a direction (do
the learned coordinates read the true ones better than the untrained encoder's?), not the figures.
Measured there: in the grid world the autoencoder loss took the run (reconstruction 83 -> 15 per
image, selectivity 0.01 of log 256 = 5.5) and h read x and y worse than the untrained encoder
(0.11 / 0.26 against 0.40 / 0.36); in the digit world the four policies took the four moves of the
second digit, and the factors became ±x and ±y of both digits together (best |corr| 0.90 / 0.89
with x2 / y2 and 0.43 / 0.44 with x1 / y1 from the same h_k), not the four coordinates of Fig. 4
(see the finding in `reproduce/RESULTS.md`). Each world of each seed trains in
`<workdir>/s<seed>/{gridworld,digits}` through `disentax.runner.loop.train`, so a rerun resumes the
training and reads the evaluation it wrote.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import _harness as h

SCRIPT = "controllable_factors_gridworld"
_HP = "controllable_factors"
_TINY = {f"{_HP}.channels": (4, 4, 4, 4), f"{_HP}.hidden": 8, f"{_HP}.num_factors": 8, f"{_HP}.eval_states": 16,
         f"{_HP}.eval_factors": 32}
_NARROW = {f"{_HP}.channels": (16, 16, 16, 16)}
BUDGETS = {
    "smoke": h.Budget(steps=2, batch=8, seeds=1, extra={"overrides": _TINY}),
    "cpu": h.Budget(steps=5_000, batch=32, seeds=1,
                    extra={"overrides": _NARROW, "note": "encoder width 16 (the config's 32), batch 32"}),
    "paper": h.Budget(steps=5_000, batch=64, seeds=3, extra={"overrides": {}}),
}
# (label, config, the paper's claim per true coordinate)
WORLDS = [
    ("gridworld", "controllable_factors_gridworld",
     {"x": "x recovered by h (Fig. 2b: lattice axes x, y)", "y": "y recovered by h (Fig. 2b: lattice axes x, y)"}),
    ("digits", "controllable_factors_digit_gridworld",
     {c: f"{c} recovered almost linearly by some h_k (Fig. 4)" for c in ("x1", "y1", "x2", "y2")}),
]


def run(budget: h.Budget, workdir) -> list[dict]:
    """Both worlds per seed; rows {"seed", "world", "best", "factor", "r2", "untrained", "selectivity", ...}."""
    rows = []
    for seed in range(budget.seeds):
        for label, config_name, _ in WORLDS:
            t = time.perf_counter()
            trained = h.train_seed(config_name, budget, seed, Path(workdir) / f"s{seed}" / label, rows, world=label)
            if trained is None:
                continue
            c, ev, method = trained
            before = h.untrained_evaluation(method, c)
            corr, greedy = ev["correlation"], ev["greedy_actions"]
            row = {"seed": seed, "world": label, "diverged": None, "env": ev["env"], "states": ev["states"],
                   "best": corr["best_abs_corr"], "factor": corr["best_factor"], "r2": corr["r2"],
                   "abs_corr": corr["abs_corr"], "untrained": before["correlation"]["best_abs_corr"],
                   "untrained_r2": before["correlation"]["r2"], "selectivity": ev["selectivity"],
                   "variation_norm": ev["variation_norm"], "greedy_actions": greedy}
            rows.append(row)
            best = ", ".join(f"{n} {v:.2f} (h{row['factor'][n]}; untrained {row['untrained'][n]:.2f})"
                             for n, v in row["best"].items())
            h.progress(f"seed={seed} {label}: best |corr| {best}; selectivity {ev['selectivity']['mean']:.2f} of "
                       f"{ev['selectivity']['ceiling_log_n']:.2f} ({time.perf_counter() - t:.0f} s)")
    return rows


def _greedy(row: dict) -> str:
    g = row["greedy_actions"]
    if "distinct" in g:  # one shared policy: the histogram of the greedy action over sampled factors
        return f"greedy actions of {g['factors']} sampled factors: {g['distinct']} distinct of {len(g['actions'])}"
    return "greedy action of each policy: " + ", ".join(g["top_action"])


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    narrow = f"; {budget.extra['note']}" if budget.extra.get("note") else ""
    measured = []
    for label, _, claims in WORLDS:
        mine = [r for r in rows if r["world"] == label and r["diverged"] is None]
        lost = sum(r["world"] == label and r["diverged"] is not None for r in rows)
        world = "grid world, redundant actions, K = 2, λ_AE = 1" if label == "gridworld" else \
            "sklearn digits (not MNIST), K = 4 separate policies, no autoencoder"
        common = world + narrow + (f"; {lost} seed(s) diverged, left out" if lost else "")
        for name, claim in claims.items():
            detail = "; ".join(
                f"s{r['seed']}: h{r['factor'][name]}, R² {r['r2'][name]:.2f}, untrained {r['untrained'][name]:.2f}, "
                f"selectivity {r['selectivity']['mean']:.2f} of {r['selectivity']['ceiling_log_n']:.2f}, {_greedy(r)}"
                for r in mine)
            states = f"over {mine[0]['states']} reachable states" if mine else ""
            measured.append(h.Measured(f"{label}: best |corr| of h_k with {name}", claim, [r["best"][name] for r in mine],
                                       digits=2, note=f"{common}; {states}; {detail}"))
    return h.report(SCRIPT, args, budget, measured, {"runs": rows})


if __name__ == "__main__":
    main()
