"""WGAN-GP (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, Alg. 1) with DCGAN networks.

λ = 10, 5 critic updates per generator update (each on its own real batch), Adam(1e-4, β1 = 0,
β2 = 0.9) for both networks, no batch norm in the critic (the paper replaces it: the penalty is
per example). Batch 64 (the paper's).
"""
from disentax.config import base_config


def get_config():
    c = base_config("dcgan")
    c.dataset = "identity_sprites"
    c.dcgan.loss = "wgan_gp"
    c.dcgan.critic_steps = 5
    c.optimizer.learning_rate = 1e-4
    c.optimizer.b1 = 0.0
    c.optimizer.b2 = 0.9
    c.dcgan.critic.optimizer.learning_rate = 1e-4
    c.dcgan.critic.optimizer.b1 = 0.0
    c.dcgan.critic.optimizer.b2 = 0.9
    c.batch_size = 64
    c.num_steps = 20_000
    c.log_every = 200
    c.checkpoint_every = 2_000
    return c
