"""Flax modules: encoders, decoders and the VAE that pairs them."""
from disentax.models.decoders import ConvDecoder, MLPDecoder, likelihood_params
from disentax.models.discriminators import LatentDiscriminator, build_discriminator
from disentax.models.encoders import ConvEncoder, MLPEncoder
from disentax.models.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    Expert,
    ExpertCommittee,
    ICMDiscriminator,
    SiameseDiscriminator,
)
from disentax.models.vae import VAE, build_vae

__all__ = [
    "ConvEncoder",
    "MLPEncoder",
    "ConvDecoder",
    "MLPDecoder",
    "likelihood_params",
    "VAE",
    "build_vae",
    "LatentDiscriminator",
    "build_discriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "SiameseDiscriminator",
    "Expert",
    "ExpertCommittee",
    "ICMDiscriminator",
]
