"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising") on procedural dSprites.

- γ = 35: the paper's dSprites setting (Sec. 6, Fig. 3: best disentanglement at reconstruction
  error ≈ 40); disentanglement_lib sweeps γ ∈ {10, 20, 30, 40, 50, 100}.
- VAE: the conv encoder/decoder of Burgess et al. 2018 (the paper's "same as in [9]"), Bernoulli
  likelihood, Adam(1e-4, β = (0.9, 0.999)), batch 64, 300k steps (disentanglement_lib).
- Discriminator (`config.factor_vae.discriminator`): MLP with 6 hidden layers × 1000 units
  (Sec. 6), LeakyReLU(0.2), 2 logits (index 0 = "sample of q(z)"); Adam(1e-4, β = (0.5, 0.9))
  (disentanglement_lib's FactorVAE discriminator optimiser).
- One discriminator update per VAE update, as disentanglement_lib does; the paper used five
  (see `factor_vae_dsprites_5d.py`, or override `--config.factor_vae.discriminator.steps_per_vae_step=5`).
- `factor_vae.discriminator.two_batch=True`: the permuted samples come from a second, independent
  batch (Alg. 1 of the ICML version); `False` permutes the same batch (disentanglement_lib).
"""
from disentax.config import base_config


def get_config():
    return base_config("factor_vae")
