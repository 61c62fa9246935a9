"""Brunner, Wang, Wattenhofer & Weigelt (2018), "Natural language multitasking: analyzing and improving
syntactic saliency of hidden representations", Table 2: the best-of-100 K-means clustering error of
the syntax prototypes' representations.

    python reproduce/multitask_seq2seq_syntax.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's numbers (Table 2, lower is better): R-1024 (reconstruction alone, D = 1024) 149,
R-D-1024 (reconstruction and German) 22, R-D-P-256 (reconstruction, German and POS tags, D = 256) 3.
The claim: the more tasks the decoders share, the more the representation clusters by syntax.

What is measured: the method's own evaluation (`evaluation.json`, written when training ends; see
`disentax.methods.multitask_seq2seq` and `disentax.metrics.syntax_clustering`), the paper's protocol
exactly: the 13 prototype templates filled with random lexicon words 100 times each plus 100 empty
sentences (1,400 sentences), encoded to r, K-means with K = 14, each cluster given its majority
template and every other member counted as an error, the best of 100 K-means runs (the same
sentences and K-means seeds for every model). Each row's note gives the mean and median error over
the 100 runs and each decoder's per-token test perplexity (teacher forcing; the paper's Table 1).

What departs from the paper: the procedural `multitask_text` corpus (40,000 sentences of a grammar
with toy German translations and the grammar's tags) instead of Europarl with NLTK tags; and what the
paper leaves open, chosen in the configs `multitask_seq2seq_rep`, `multitask_seq2seq_rep_de` and
`multitask_seq2seq_multitask_text` (Adam 1e-3, batch 64, clipping at global norm 5, embeddings 128,
30,000 steps; the LSTMs of 512 units and D are the paper's). `paper` trains those configs as they
are, one seed each (Table 2 reports one model each).

Budgets (steps × batch, seeds; LSTM width): smoke 2 × 8, 1 seed, LSTMs of 8, embeddings 4, 3
fillings per template, 2 K-means runs (each model's own D kept) (CI only); cpu 1,500 × 64, 1 seed,
LSTMs of 128 (a quarter of the paper's 512; a step measured 1.1 s at 512, 0.11 s for R and 0.17 s
for R-D-P at 128 on the shared 2-core CPU, so about 10 minutes of training for the three models,
then the 100 K-means runs each); paper 30,000 × 64, 1 seed, LSTMs of 512. Smoke, both runs: 29 s in
the test suite on the same machine, 65-70 s run alone while other jobs shared the two cores (most
of it compiling: each model's init and train step take 3-6 s each to compile even at width 8).
Measured at the cpu budget (last session): R-1024 494, R-D-1024 409, R-D-P-256 245: the paper's
ordering, far from its values (1,500 steps are 5 % of the configs' length, at a quarter of the
width). Each model of each seed trains in `<workdir>/s<seed>/<model>` through
`disentax.runner.loop.train`, so a rerun resumes the training and reads the evaluation it wrote.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import _harness as h

SCRIPT = "multitask_seq2seq_syntax"
_HP = "multitask_seq2seq"
_TINY = {f"{_HP}.hidden": 8, f"{_HP}.embed_dim": 4, f"{_HP}.per_template": 3, f"{_HP}.kmeans_runs": 2,
         f"{_HP}.eval_sentences": 6}
BUDGETS = {
    "smoke": h.Budget(steps=2, batch=8, seeds=1, extra={"overrides": _TINY}),
    "cpu": h.Budget(steps=1_500, batch=64, seeds=1,
                    extra={"overrides": {f"{_HP}.hidden": 128}, "note": "LSTMs of 128 (the paper's 512)"}),
    "paper": h.Budget(steps=30_000, batch=64, seeds=1,
                      extra={"overrides": {}, "note": "the configs' length (the paper gives none)"}),
}
# (Table 2's name, config, the paper's best-of-100 error)
MODELS = [("R-1024", "multitask_seq2seq_rep", "149"), ("R-D-1024", "multitask_seq2seq_rep_de", "22"),
          ("R-D-P-256", "multitask_seq2seq_multitask_text", "3")]


def run(budget: h.Budget, workdir) -> list[dict]:
    """The three models per seed; rows {"seed", "model", "diverged", "best", "mean", "median", ...}."""
    rows = []
    for seed in range(budget.seeds):
        for label, config_name, _ in MODELS:
            t = time.perf_counter()
            trained = h.train_seed(config_name, budget, seed, Path(workdir) / f"s{seed}" / label, rows, model=label)
            if trained is None:
                continue
            ev = trained[1]
            c = ev["clustering_error"]
            row = {"seed": seed, "model": label, "diverged": None, "best": c["best"], "mean": c["mean"],
                   "median": c["median"], "runs": c["runs"], "sentences": c["sentences"],
                   "perplexity": {t: p["perplexity"] for t, p in ev["perplexity"].items() if isinstance(p, dict)},
                   "widths": ev["widths"]}
            rows.append(row)
            h.progress(f"seed={seed} {label}: clustering error {c['best']} (best of {c['runs']}; mean "
                       f"{c['mean']:.0f}) of {c['sentences']} sentences ({time.perf_counter() - t:.0f} s)")
    return rows


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    extra = f"; {budget.extra['note']}" if budget.extra.get("note") else ""
    measured = []
    for label, _, paper in MODELS:
        mine = [r for r in rows if r["model"] == label and r["diverged"] is None]
        lost = sum(r["model"] == label and r["diverged"] is not None for r in rows)
        detail = "; ".join(
            f"s{r['seed']}: {r['sentences']} prototype sentences, mean over the {r['runs']} K-means runs "
            f"{r['mean']:.0f}, median {r['median']:.0f}; test perplexity "
            + ", ".join(f"{t} {p:.3f}" for t, p in r["perplexity"].items())
            + f"; LSTMs {r['widths']['lstm']}, D {r['widths']['representation']}" for r in mine)
        note = "; ".join(x for x in ("procedural multitask_text, not Europarl" + extra
                                     + (f"; {lost} seed(s) diverged, left out" if lost else ""), detail) if x)
        measured.append(h.Measured(f"{label}: best-of-{mine[0]['runs'] if mine else 100} clustering error",
                                   paper, [r["best"] for r in mine], digits=0, note=note))
    return h.report(SCRIPT, args, budget, measured, {"runs": rows})


if __name__ == "__main__":
    main()
