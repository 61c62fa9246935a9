"""ARAE (Zhao, Kim, Zhang, Rush & LeCun 2018, "Adversarially regularized autoencoders for unaligned
text style-transfer", Alg. 1) for sentiment transfer on the procedural `sentiment_text` corpus: the
"ARAE" rows of the paper's Table 1.

From the paper: one decoder per sentiment and greedy decoding with the opposite one for transfer
(Sec. 4); a WGAN critic with weight clipping between encoder codes and generator codes (Eq. 1); an
adversarial code classifier with λ(2) = 1 (Sec. 3, "we always set λ(2) = 1"); Alg. 1's block
order.

The workshop paper is silent on everything else (λ(1): Table 1 names λ_a and λ_b without values;
ε, k, network sizes, code size, optimisers, learning rates, batch size, training length), so those
are chosen (each named "chosen" in the method's hyperparameters, the reasons in
`disentax.methods.arae`'s docstring): GRU encoder and decoders (embeddings 128, 256 hidden units), a
128-d code on the unit sphere, z ~ N(0, I_32), two-layer 256-unit generator and critic, ε = 0.01
and k = 5 (Arjovsky et al. 2017's WGAN), λ(1) = 1 weighting the encoder's gradient from the critic;
SGD with learning rate 1 and gradient clipping 1 for every autoencoder and encoder update and
Adam(1e-4, β1 = 0.5) for the critic, generator and classifier (the authors' released code), batch 64
(32 negative + 32 positive sentences), 2,500 iterations (a CPU budget of about 5.5 minutes on two
cores, not the paper's 25 epochs).
"""
from disentax.config import base_config


def get_config():
    c = base_config("arae")
    c.log_every = 100
    c.checkpoint_every = 1000
    return c
