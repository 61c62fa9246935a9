"""Pure objectives: arrays in, `(loss, aux)` out. Import into your own JAX code freely."""
from disentax.objectives.adversarial import (
    clip_params,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    icm_discriminator_loss,
    wgan_critic_loss,
    wgan_generator_loss,
    wgan_gp_critic_loss,
    winner_take_all_loss,
)
from disentax.objectives.controllable_embedding import dynamics_content_elbo, invert_transition, locally_linear
from disentax.objectives.cross_domain import classifier_loss, cross_domain_kl, jade_loss
from disentax.objectives.dip import covariance_penalty, dip_vae
from disentax.objectives.elbo import (
    LIKELIHOODS,
    annealed_vae,
    beta_vae,
    capacity,
    elbo,
    reconstruction_log_likelihood,
    reconstruction_mean,
)
from disentax.objectives.embedding import f_statistic_loss, triplet_loss
from disentax.objectives.factor import (
    discriminator_tc,
    factor_vae_discriminator_loss,
    factor_vae_loss,
    permute_dims,
)
from disentax.objectives.grouped import ml_vae, product_of_gaussians
from disentax.objectives.mmd import median_heuristic, mmd2, traversal_objective, traverse, witness
from disentax.objectives.selectivity import gaussian_kernel_log, positive_projection_log, reinforce_loss
from disentax.objectives.semi_supervised import semi_supervised_vae, supervised_objective, unsupervised_objective
from disentax.objectives.sequential import fixed_variance_gaussian_log_likelihood, sequential_elbo
from disentax.objectives.text import gumbel_softmax, length_mask, lengths_of, sequence_nll, soft_sequence_nll
from disentax.objectives.total_correlation import beta_tcvae, hfvae

__all__ = [
    "dynamics_content_elbo",
    "gaussian_kernel_log",
    "invert_transition",
    "locally_linear",
    "positive_projection_log",
    "reinforce_loss",
    "LIKELIHOODS",
    "beta_tcvae",
    "covariance_penalty",
    "dip_vae",
    "hfvae",
    "annealed_vae",
    "beta_vae",
    "capacity",
    "discriminator_tc",
    "elbo",
    "ml_vae",
    "product_of_gaussians",
    "semi_supervised_vae",
    "sequential_elbo",
    "fixed_variance_gaussian_log_likelihood",
    "supervised_objective",
    "unsupervised_objective",
    "factor_vae_discriminator_loss",
    "factor_vae_loss",
    "permute_dims",
    "reconstruction_log_likelihood",
    "reconstruction_mean",
    "clip_params",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "icm_discriminator_loss",
    "wgan_critic_loss",
    "wgan_generator_loss",
    "wgan_gp_critic_loss",
    "winner_take_all_loss",
    "f_statistic_loss",
    "triplet_loss",
    "classifier_loss",
    "cross_domain_kl",
    "jade_loss",
    "median_heuristic", "mmd2", "traversal_objective", "traverse", "witness",
    "gumbel_softmax",
    "length_mask",
    "lengths_of",
    "sequence_nll",
    "soft_sequence_nll",
]
