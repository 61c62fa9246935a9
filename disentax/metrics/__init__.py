"""Disentanglement metrics: arrays (or a representation function and a dataset) in, floats out.

Array metrics take codes ``[N, D]`` and integer factors ``[N, K]``: :func:`mig`, :func:`dci`,
:func:`sap`, :func:`modularity_explicitness`, :func:`clustering_accuracy`, :func:`irs`; :func:`mcc`,
:func:`dci_es` and :func:`infomec` also take real-valued factors. Sampling metrics take
``(key, representation_fn, dataset)`` with a :class:`~disentax.data.GroundTruthDataset`:
:func:`beta_vae_score`, :func:`factor_vae_score`, and the ``*_score`` wrappers that run the array
metrics at disentanglement_lib's protocol. :func:`mig_exact` and
:func:`mutual_information_per_dim` use the encoder's full Gaussian posterior. :func:`mapc`,
:func:`cvr`, :func:`tdv`, :func:`ud90` describe the correlation of a coding layer (Kågebäck & Mogren
2017). :func:`downstream_task` and :func:`unsupervised_scores` are disentanglement_lib's downstream-task
and unsupervised scores (Locatello et al. 2019); :func:`udr` ranks models of one setting by how
consistently their seeds agree, without ground truth (Duan et al. 2020). A metric that cannot apply to a dataset raises
:class:`NotApplicable`.

For sequences: :func:`ksg_mutual_information` is Kraskov et al. (2004)'s k-nearest-neighbour estimate of
I(X; Y) for continuous arrays; :func:`partitioned_mutual_information` and :func:`best_random_partition`
use it to compare same- and cross-factor transition information of latent factors (Whitney & Fergus
2018); :func:`average_content_distance` is MoCoGAN's average content distance of shape-motion clips
(Tulyakov et al. 2018).

:func:`evaluate` runs metrics by name on a representation function and a dataset (what ``disentax
evaluate`` calls), :func:`evaluate_arrays` on codes and factors already computed; ``python -m
disentax.metrics CODES.npy FACTORS.npy`` does the latter from the command line, for codes of any
framework.
"""
from disentax.metrics.beta_vae import beta_vae_changed_score, beta_vae_score
from disentax.metrics.clustering import clustering_accuracy
from disentax.metrics.content_distance import (
    average_content_distance,
    content_distance_summary,
    content_distances,
    shape_colours,
)
from disentax.metrics.correlation import cvr, mapc, tdv, ud90
from disentax.metrics.dci import (
    IMPORTANCE_MODELS,
    dci,
    dci_from_importance,
    dci_score,
    importance_matrix,
    lightgbm_impurity_importance,
)
from disentax.metrics.dci_es import dci_es, dci_es_score, explicitness_from_curve, loss_capacity_curves
from disentax.metrics.downstream import DOWNSTREAM_MODELS, downstream_task, downstream_task_score
from disentax.metrics.factor_vae import factor_vae_score
from disentax.metrics.infomec import infomec, infomec_nmi, infomec_score
from disentax.metrics.information import aggregate_entropy, encode_dataset, mutual_information_per_dim
from disentax.metrics.irs import irs, irs_score
from disentax.metrics.ksg import (
    best_random_partition,
    consecutive_partition,
    ksg_mutual_information,
    partitioned_mutual_information,
    transition_pairs,
)
from disentax.metrics.mcc import abs_correlation_matrix, match_correlations, mcc, mcc_score
from disentax.metrics.mig import mig, mig_exact, mig_score
from disentax.metrics.modularity import modularity, modularity_explicitness, modularity_explicitness_score
from disentax.metrics.sap import sap, sap_score
from disentax.metrics.suite import ALL_METRICS, DEFAULT_METRICS, METRICS_VERSION, evaluate, evaluate_arrays
from disentax.metrics.syntax_clustering import clustering_error  # Brunner et al. (2018)
from disentax.metrics.udr import informative_latents, udr, udr_pair
from disentax.metrics.unsupervised import (
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    latent_mutual_info_score,
    unsupervised_score,
    unsupervised_scores,
)
from disentax.metrics.utils import (
    NotApplicable,
    discrete_mutual_info,
    histogram_discretize,
    sample_codes,
    sample_train_test,
)

__all__ = [
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "DOWNSTREAM_MODELS",
    "IMPORTANCE_MODELS",
    "METRICS_VERSION",
    "abs_correlation_matrix",
    "average_content_distance",
    "best_random_partition",
    "consecutive_partition",
    "content_distance_summary",
    "content_distances",
    "ksg_mutual_information",
    "partitioned_mutual_information",
    "shape_colours",
    "transition_pairs",
    "aggregate_entropy",
    "beta_vae_changed_score",
    "beta_vae_score",
    "clustering_accuracy",
    "clustering_error",
    "cvr",
    "dci",
    "dci_es",
    "dci_es_score",
    "dci_from_importance",
    "dci_score",
    "discrete_mutual_info",
    "downstream_task",
    "downstream_task_score",
    "encode_dataset",
    "evaluate",
    "evaluate_arrays",
    "explicitness_from_curve",
    "factor_vae_score",
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "histogram_discretize",
    "importance_matrix",
    "infomec",
    "infomec_nmi",
    "infomec_score",
    "irs",
    "irs_score",
    "latent_mutual_info_score",
    "lightgbm_impurity_importance",
    "loss_capacity_curves",
    "mapc",
    "match_correlations",
    "mcc",
    "mcc_score",
    "udr",
    "udr_pair",
    "informative_latents",
    "mig",
    "mig_exact",
    "mig_score",
    "modularity",
    "modularity_explicitness",
    "modularity_explicitness_score",
    "mutual_information_per_dim",
    "NotApplicable",
    "sample_codes",
    "sample_train_test",
    "sap",
    "sap_score",
    "tdv",
    "ud90",
    "unsupervised_score",
    "unsupervised_scores",
]
