"""β-VAE (Higgins et al. 2017) on 3D Shapes (Burgess & Kim 2018; TFDS `shapes3d`, 64x64 RGB).

disentanglement_lib's unsupervised study settings (Locatello et al. 2019): β = 4 from the sweep
β ∈ {1, 2, 4, 6, 8, 16}, 10 latent dimensions, Burgess et al. 2018 conv architecture
(App. A.1), Bernoulli pixels, Adam(1e-4), batch 64, 300k steps. Ground-truth factors
(floor/wall/object hue, scale, shape, orientation) make it scorable by `disentax evaluate`.
Needs `pip install 'disentax[tfds]'` and `tfds build shapes3d --file_format=array_record`.
"""
from disentax.config import base_config


def get_config():
    c = base_config("beta_vae")
    c.dataset = "shapes3d"
    return c
