"""Methods: the `Method` contract (API), the registry, and one module per family.

    from disentax import methods
    spec = methods.get_spec("beta_vae")          # name, paper, hyperparameters and their defaults
    method = methods.build(config, dataset)      # a Method: init_state, train_step, sample_batch, codes, ...

The contract is documented in `disentax.methods.contract`; a method from another package registers
through the `disentax.methods` entry-point group (`disentax.methods.registry`). The in-package
families: `vae` (vae, beta_vae, annealed_vae, beta_tcvae, dip_vae_i, dip_vae_ii), `hfvae`,
`factor_vae`, `gan` (dcgan, sd_gan), `mocogan` (Tulyakov et al. (2018), video), `icm`, `independent_prediction` (Whitney & Fergus (2018), on video clips), `controllable_factors`
(Thomas et al. (2018), by acting in `disentax.envs`), `dynamics_content` (Banijamali et al. (2018), planning), `semi_supervised`, `ml_vae`, `mvae` (mvae, mvae_baseline), `auxiliary`
(auxiliary_vae, auxiliary_vae_clustering), `embedding` (f_statistic, triplet), `factor_capacity` and `jade` (jade, with its single / paired
classifier variants).
"""
# The other families register themselves on import.
from disentax.methods import (  # noqa: F401, E402
    arae,
    attribute_transfer,
    auxiliary,
    controllable_factors,
    dynamics_content,
    embedding,
    factor_capacity,
    factor_vae,
    gan,
    hfvae,
    icm,
    independent_prediction,
    jade,
    ml_vae,
    mmd_traversal,
    mocogan,
    multitask_seq2seq,
    mvae,
    semi_supervised,
)
from disentax.methods.common import concatenated, encoder_of, gaussian_code, images_only, vae_pictures
from disentax.methods.contract import (
    Check,
    Code,
    GaussianPosterior,
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    between,
    greater_than,
    one_of,
    positive_ints,
)
from disentax.methods.registry import (
    ENTRY_POINT_GROUP,
    available,
    build,
    check_hyperparameters,
    get_spec,
    need,
    register,
)
from disentax.methods.vae import decomposition_diagnostics, vae_method

__all__ = [
    "Check", "Code", "ENTRY_POINT_GROUP", "GaussianPosterior", "Hyperparameter", "Method", "MethodSpec",
    "at_least", "available", "between", "build", "check_hyperparameters", "concatenated", "decomposition_diagnostics",
    "encoder_of", "gaussian_code", "get_spec", "greater_than", "images_only", "need", "one_of", "positive_ints",
    "register", "vae_method", "vae_pictures",
]
