"""Run several metrics on one representation: what ``disentax evaluate`` calls.

``evaluate(key, representation_fn, dataset, names, posterior_fn=...)`` returns ``{name: scores}``;
a metric that does not apply (no ground-truth factors, no Gaussian posterior of the scored code) gets
``{"not_applicable": reason}`` instead of a number. Each metric's key is ``fold_in(key, position in
ALL_METRICS)``, so a metric's value does not depend on which others ran with it.

`representation_fn(x) -> [B, D]` is what every metric scores; `posterior_fn(x)` gives the Gaussian
parameters of exactly those D dimensions (a `GaussianPosterior`-like object with `mean` and `logvar`,
or a `(mean, logvar)` pair), which `information` and `mig_exact` need.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from disentax.metrics.beta_vae import beta_vae_score
from disentax.metrics.dci import dci_score
from disentax.metrics.factor_vae import factor_vae_score
from disentax.metrics.information import mutual_information_per_dim
from disentax.metrics.mig import mig_exact, mig_score
from disentax.metrics.modularity import modularity_explicitness_score
from disentax.metrics.sap import sap_score
from disentax.metrics.utils import NotApplicable, require_factors, sample_codes

__all__ = ["ALL_METRICS", "DEFAULT_METRICS", "METRIC_SUMMARIES", "evaluate", "parse_metric_names"]

# Order matters: it fixes each metric's key.
ALL_METRICS = ("mig", "dci", "sap", "modularity", "beta_vae", "factor_vae", "information", "mig_exact")
# mig_exact scores all 737,280 dSprites images against 10,000 codes six times over: minutes on a
# GPU, hours on a CPU, so it only runs when asked for.
DEFAULT_METRICS = tuple(m for m in ALL_METRICS if m != "mig_exact")
METRIC_SUMMARIES = {
    "mig": "mutual information gap, 20-bin histograms of the codes (Chen et al. (2018))",
    "dci": "disentanglement, completeness, informativeness from feature importances (Eastwood & Williams (2018))",
    "sap": "separated attribute predictability (Kumar et al. (2018))",
    "modularity": "modularity and explicitness (Ridgeway & Mozer (2018))",
    "beta_vae": "accuracy of a linear classifier of the fixed factor (Higgins et al. (2017))",
    "factor_vae": "majority-vote accuracy on variance-normalised codes (Kim & Mnih (2018))",
    "information": "I(x; z_d) and I(v_k; z_d) per dimension from the Gaussian posterior (Esmaeili et al. (2019))",
    "mig_exact": "MIG from entropies of q(z|x) over the whole factor grid (Chen et al. (2018)); slow on CPU",
}


def parse_metric_names(text: str | Sequence[str] | None) -> list[str]:
    """``"mig,dci"`` -> ["mig", "dci"]; None/"" -> DEFAULT_METRICS; "all" -> ALL_METRICS."""
    if text is None or text == "":
        return list(DEFAULT_METRICS)
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    if names == ["all"]:
        return list(ALL_METRICS)
    bad = [n for n in names if n not in ALL_METRICS]
    if bad:
        raise ValueError(f"unknown metric {bad[0]!r}; allowed: {', '.join(ALL_METRICS)} (or all)")
    return list(dict.fromkeys(names))


def _mean_logvar(posterior_fn: Callable) -> Callable:
    """x -> (mean, logvar) from a posterior function returning a GaussianPosterior or a pair."""

    def encode(x):
        post = posterior_fn(x)
        mean, logvar = (post.mean, post.logvar) if hasattr(post, "mean") else post
        if mean.shape != logvar.shape:
            raise ValueError(f"the posterior's mean {mean.shape} and logvar {logvar.shape} must have one shape")
        return mean, logvar

    return encode


def _information(key, posterior_fn, no_posterior, dataset, num_train, progress):
    if posterior_fn is None:
        raise NotApplicable(f"information needs the Gaussian posterior of the scored code; {no_posterior}")
    require_factors(dataset, "information")
    k_data, k_mi = jax.random.split(key)
    encode = _mean_logvar(posterior_fn)
    codes, factors = sample_codes(k_data, lambda x: jnp.concatenate(encode(x), axis=-1), dataset, num_train,
                                  progress=progress, desc="information")
    d = codes.shape[1] // 2  # [mean | logvar], each D wide
    out = mutual_information_per_dim(k_mi, codes[:, :d], codes[:, d:], factors)
    mi_y = out.pop("mi_y")
    out["mi_factors"] = dict(zip(dataset.factor_names, mi_y))
    return out


def evaluate(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    names: Sequence[str] | str | None = None,
    *,
    posterior_fn: Callable | None = None,
    no_posterior: str = "the method gives none",
    num_train: int | None = None,
    num_eval: int | None = None,
    num_variance_estimate: int | None = None,
    dci_importance: str = "gbt",
    mig_exact_samples: int = 10_000,
    progress: bool = False,
    on_result: Callable[[str, dict], None] | None = None,
) -> dict:
    """Scores of the named metrics (default :data:`DEFAULT_METRICS`) at the published protocols.

    ``num_train``/``num_eval``/``num_variance_estimate`` override the protocol sizes (10,000 /
    5,000 / 10,000) for quick runs; `posterior_fn` (images -> the Gaussian posterior of the
    representation's dimensions) is needed by ``information`` and ``mig_exact``, which otherwise
    report ``not_applicable`` with `no_posterior` as the reason. `on_result(name, scores)` is
    called as each finishes.
    """
    names = parse_metric_names(names)
    tr = 10_000 if num_train is None else int(num_train)
    ev = 5_000 if num_eval is None else int(num_eval)
    var = 10_000 if num_variance_estimate is None else int(num_variance_estimate)
    runners = {
        "mig": lambda k: mig_score(k, representation_fn, dataset, num_train=tr, progress=progress),
        "dci": lambda k: dci_score(k, representation_fn, dataset, num_train=tr, num_test=ev,
                                   importance=dci_importance, progress=progress),
        "sap": lambda k: sap_score(k, representation_fn, dataset, num_train=tr, num_test=ev, progress=progress),
        "modularity": lambda k: modularity_explicitness_score(k, representation_fn, dataset, num_train=tr,
                                                              num_test=ev, progress=progress),
        "beta_vae": lambda k: beta_vae_score(k, representation_fn, dataset, num_train=tr, num_eval=ev,
                                             progress=progress),
        "factor_vae": lambda k: factor_vae_score(k, representation_fn, dataset, num_train=tr, num_eval=ev,
                                                 num_variance_estimate=var, progress=progress),
        "information": lambda k: _information(k, posterior_fn, no_posterior, dataset, tr, progress),
        "mig_exact": lambda k: _mig_exact(k, posterior_fn, no_posterior, dataset, mig_exact_samples, progress),
    }
    results = {}
    for name in names:
        k = jax.random.fold_in(key, ALL_METRICS.index(name))
        try:
            scores = runners[name](k)
        except NotApplicable as e:
            scores = {"not_applicable": str(e)}
        results[name] = scores
        if on_result is not None:
            on_result(name, scores)
    return results


def _mig_exact(key, posterior_fn, no_posterior, dataset, num_samples, progress):
    if posterior_fn is None:
        raise NotApplicable(f"mig_exact needs the Gaussian posterior of the scored code; {no_posterior}")
    require_factors(dataset, "mig_exact")
    return mig_exact(key, _mean_logvar(posterior_fn), dataset, num_samples=num_samples, progress=progress)
