"""Banijamali, Khajenezhad, Ghodsi & Ghavamzadeh (2018), "Disentangling dynamics and content for
control and planning", Sec. 4 and Table 1: a locally linear latent model learned from the planar
system's observations with actions (X, the disc agent) and transferred to action-free observations
of the same system drawn with another agent (Y, the cross), then used to plan with iLQR in both.

    python reproduce/dynamics_content_planar.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's numbers (Table 1, the planar system, 20 runs per set, mean ± sd): with action (X)
reconstruction loss 3.6 ± 1.7, prediction loss 6.2 ± 2.8, planning loss 21.4 ± 2.9, success rate
100 %; without action (Y) 3.9 ± 2.2, 6.3 ± 3.0, 22.0 ± 2.4, 100 %. The paper gives no units for any
of the three losses, no Q and R for its Eq. 7 and no horizon T. The claim: the dynamics learned from
X carry over to Y, whose losses and success rate are as good as X's.

What is measured: the method's own evaluation (`evaluation.json`, written when training ends; see
`disentax.methods.dynamics_content`), for X and for Y, on fresh states of the simulator (not the
training pools). Our units: reconstruction and prediction losses are the per-image sum of squared
errors between the decoder's sigmoid means and the 40x40 image (pixels in [0, 1]; the Bernoulli
negative log-likelihood, in nats, is in each row's note); the prediction decodes ẑ_t+1 = A(z)z +
B(z)u + c(z) from the encoded x_t and a random action. The planning loss is Eq. 7 on the TRUE
states reached by receding-horizon iLQR in the latent space (T = 40 steps executed, plans of 20
steps), positions in units of the map side, actions in units of the action bound, Q = I and
R = 0.01 I; success is the agent within 2 px of the goal at T and never leaving that disc after
first entering it (Sec. 4's "remains near the goal"). Planning has two rows per set, 20 runs each:
Sec. 4's task (start within 1 px of a corner, goal within 1 px of the opposite one) and random
start / goal pairs with a free straight segment between them (Sec. 4's "different sets of initial
and final observations"); X's success notes add the same planner run on the true coordinates with
a free-space model (a perfect embedding; the method's `*_oracle`), which says what the quadratic
cost allows: it walks into the obstacles on the diagonal of the corner task. Each row's measured
value is the mean over seeds of the per-run means (over images or planning runs); the note gives
the first seed's spread over images or runs, the paper's "±", and the final distance to the goal
in pixels.

What departs from the paper (the choices of `configs/dynamics_content_planar.py`, each with its
reason in the method's docstring): our planar system (`disentax.envs.planar`, 40x40, six obstacles,
actions in [-2, 2]² px); E2C's MLP sizes, z_dim = w_dim = 2; Adam 1e-3, batch 128, 20,000 steps (the
paper gives no optimiser or length); content priors N(∓1, I); Eq. 6's prior behind stop_gradient; each
Y example paired with the X-view of its own state as that prior's input; the planning protocol and
cost above. Since the units differ, the losses compare with Table 1's only in their pattern (Y's
close to X's) and the success rate in full. `paper` runs the config's 20,000 steps with 3 seeds
(the paper reports one model).

Budgets (steps × batch, seeds): smoke 2 × 16, 1 seed, 8-unit networks, pools of 64 / 32, a 2-run
planning evaluation of 3 steps (CI only); cpu 20,000 × 128, 1 seed, the config's full settings
(MLPs are cheap): a step measured 12 ms alone on the shared 2-core CPU, the whole budget 4.1 minutes
(training, then the evaluation's 6 × 20 planning runs: two tasks per set and X's two oracle rows; a
rerun that resumes 7 s; a second seed would fit in the ten minutes); paper 20,000 × 128, 3 seeds.
Smoke: about 45 s on the same machine. Measured there: the losses are of
Table 1's order (reconstruction SSE 0.86 X / 1.42 Y, prediction 7.8 / 9.4) and Y's latent map is
nearly X's, the transfer the paper claims; planning is not: 0 % of the corner runs in both sets, the
agent stopping against the first obstacle on the diagonal exactly as the planner on the true
coordinates does, and 15 % / 10 % of the random in-sight pairs against that oracle's 70 % (see the
finding in `reproduce/RESULTS.md`). Each seed trains in `<workdir>/s<seed>` through
`disentax.runner.loop.train`, so a rerun resumes the training and reads the evaluation it wrote.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import _harness as h

SCRIPT = "dynamics_content_planar"
CONFIG = "dynamics_content_planar"
_HP = "dynamics_content"
_TINY = {f"{_HP}.encoder_hidden": (8,), f"{_HP}.decoder_hidden": (8,), f"{_HP}.transition_hidden": (8,),
         f"{_HP}.backward_hidden": (8,), f"{_HP}.x_examples": 64, f"{_HP}.y_examples": 32,
         f"{_HP}.eval_examples": 8, f"{_HP}.plan_runs": 2, f"{_HP}.plan_steps": 3, f"{_HP}.plan_horizon": 3,
         f"{_HP}.plan_iterations": 1}
BUDGETS = {
    "smoke": h.Budget(steps=2, batch=16, seeds=1, extra={"overrides": _TINY}),
    "cpu": h.Budget(steps=20_000, batch=128, seeds=1, extra={"overrides": {}}),
    "paper": h.Budget(steps=20_000, batch=128, seeds=3, extra={"overrides": {}}),
}
SETS = (("x", "X, with action"), ("y", "Y, without action"))
# Banijamali et al. (2018), Table 1, the planar system (units not given), 20 runs per set.
PAPER = {"x": {"reconstruction": "3.6 ± 1.7", "prediction": "6.2 ± 2.8", "planning": "21.4 ± 2.9",
               "success_rate": "100 %"},
         "y": {"reconstruction": "3.9 ± 2.2", "prediction": "6.3 ± 3.0", "planning": "22.0 ± 2.4",
               "success_rate": "100 %"}}


TASKS = (("corners", "corner to corner"), ("random", "random pairs in sight"))


def run(budget: h.Budget, workdir) -> list[dict]:
    """One model per seed; rows {"seed", "diverged", "x": {...}, "y": {...}, "units", ...}, each set's
    dict the evaluation's: reconstruction and prediction {"mean", "std"}, and per planning task
    ("corners", "random", and for X the oracle's "corners_oracle", "random_oracle") {"planning",
    "final_distance_px", "success_rate"}."""
    rows = []
    for seed in range(budget.seeds):
        t = time.perf_counter()
        trained = h.train_seed(CONFIG, budget, seed, Path(workdir) / f"s{seed}", rows)
        if trained is None:
            continue
        _, ev, _ = trained
        row = {"seed": seed, "diverged": None, "x": ev["x"], "y": ev["y"], "units": ev["units"],
               "plan_runs": ev["plan_runs"], "plan_steps": ev["plan_steps"], "plan_horizon": ev["plan_horizon"],
               "held_out_examples": ev["held_out_examples"], "success_radius_px": ev["success_radius_px"]}
        rows.append(row)
        h.progress(f"seed={seed}: " + "; ".join(
            f"{name.upper()} rec {row[name]['reconstruction']['mean']:.2f}, pred {row[name]['prediction']['mean']:.2f}, "
            + ", ".join(f"{task} plan {row[name][task]['planning']['mean']:.2f} success "
                        f"{100 * row[name][task]['success_rate']:.0f} % final "
                        f"{row[name][task]['final_distance_px']['mean']:.1f} px" for task, _ in TASKS)
            for name, _ in SETS) + f" ({time.perf_counter() - t:.0f} s)")
    return rows


def _spread(r: dict | None, digits: int = 1) -> str:
    """"m ± s" of an evaluation's {"mean", "std"} (its spread over images or runs); "" for none."""
    return f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}" if r else ""


def _oracle(first: dict | None, task: str) -> str:
    """The planner on the true coordinates (the method's `<task>_oracle`, X only) in a note."""
    o = first["x"].get(f"{task}_oracle") if first else None
    if not o:
        return ""
    return (f"; the same planner on the true coordinates (free-space model, a perfect embedding): success "
            f"{100 * o['success_rate']:.0f} %, Eq. 7 {o['planning']['mean']:.2f}, final {o['final_distance_px']['mean']:.1f} px")


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    mine = [r for r in rows if r["diverged"] is None]
    lost = len(rows) - len(mine)
    common = "our planar system" + (f"; {lost} seed(s) diverged, left out" if lost else "")
    first = mine[0] if mine else None
    measured = []
    for name, label in SETS:
        sets = [r[name] for r in mine]
        one = sets[0] if sets else None
        shape = f", {one['agent_shape']} agent" if one else ""
        images = f"{first['held_out_examples']} fresh images" if first else ""
        measured += [
            h.Measured(f"{label}: reconstruction loss (SSE per image)", PAPER[name]["reconstruction"],
                       [s["reconstruction"]["mean"] for s in sets], digits=2,
                       note=f"{common}{shape}; units not given in the paper, ours the sum of squared errors of "
                            f"the 40x40 sigmoid means, pixels in [0, 1]; {images}; first seed over images "
                            f"{_spread(one and one['reconstruction'], 2)}, Bernoulli NLL "
                            f"{_spread(one and one['reconstruction_bernoulli_nll'])} nats"),
            h.Measured(f"{label}: prediction loss (SSE per image)", PAPER[name]["prediction"],
                       [s["prediction"]["mean"] for s in sets], digits=2,
                       note=f"{common}{shape}; x_t+1 decoded from A(z)z + B(z)u + c(z), one random action; "
                            f"units as the reconstruction's; first seed over images "
                            f"{_spread(one and one['prediction'], 2)}, Bernoulli NLL "
                            f"{_spread(one and one['prediction_bernoulli_nll'])} nats"),
        ]
        for task, what in TASKS:
            runs = (f"{first['plan_runs']} runs {what}, T = {first['plan_steps']}, receding-horizon iLQR with plans "
                    f"of {first['plan_horizon']}" if first else "")
            got = [s[task] for s in sets]
            g = got[0] if got else None
            measured += [
                h.Measured(f"{label}: planning loss (Eq. 7), {what}", PAPER[name]["planning"],
                           [x["planning"]["mean"] for x in got], digits=2,
                           note=f"{common}; {runs}; Eq. 7 on true positions in map sides, actions in bound units, "
                                f"Q = I, R = 0.01 I (the paper gives neither units nor Q, R); first seed over runs "
                                f"{_spread(g and g['planning'], 2)}"),
                h.Measured(f"{label}: success rate %, {what}", PAPER[name]["success_rate"],
                           [x["success_rate"] for x in got], scale=100.0, digits=0,
                           note=f"{common}; {runs}; within {first['success_radius_px'] if first else ''} px of the goal "
                                f"at T and after first reaching it; final distance to the goal, first seed "
                                f"{_spread(g and g['final_distance_px'])} px"
                                + (_oracle(first, task) if name == "x" else "")),
            ]
    return h.report(SCRIPT, args, budget, measured, {"runs": rows})


if __name__ == "__main__":
    main()
