"""The plain autoencoder row ("AE") of Zhao, Kim, Zhang, Rush & LeCun (2018), Table 1: the ARAE
of `arae_sentiment_text` without its regularisers.

The same encoder, code and attribute-conditioned decoders (one per sentiment, transfer by greedy
decoding with the opposite one), trained by Alg. 1's block (1) alone: λ(1) = λ(2) = 0, so the
generator, the WGAN critic and the code classifier and their blocks (2), (2b), (3), (3b) are left
out. The paper gives no settings for this row either (the workshop paper is silent on sizes,
optimiser and training length); everything not about the regularisers equals `arae_sentiment_text`.
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "arae_sentiment_text")
    c.arae.lambda_adv = 0.0
    c.arae.lambda_class = 0.0
    return c
