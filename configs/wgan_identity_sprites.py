"""WGAN (Arjovsky, Chintala & Bottou 2017, Alg. 1) with DCGAN networks.

Critic weights clipped to [-0.01, 0.01] after each update, 5 critic updates per generator update
(each on its own real batch), RMSProp with learning rate 5e-5 for both networks, batch 64.
"""
from disentax.config import base_config


def get_config():
    c = base_config("dcgan")
    c.dataset = "identity_sprites"
    c.dcgan.loss = "wgan"
    c.dcgan.critic_steps = 5
    c.optimizer.name = "rmsprop"
    c.optimizer.learning_rate = 5e-5
    c.dcgan.critic.optimizer.name = "rmsprop"
    c.dcgan.critic.optimizer.learning_rate = 5e-5
    c.batch_size = 64
    c.num_steps = 20_000
    c.log_every = 200
    c.checkpoint_every = 2_000
    return c
