"""The entangled baseline of Whitney & Fergus (2018), Sec. 3: the model of
`independent_prediction_bouncing_digits` with one transition over the whole latent space, one
factor of k·d = 32 dimensions instead of two of 16, everything else identical (the paper: "any
differences ... coming exclusively from the factorization in the latent space").

Evaluated like the factored model, except that it has no factors to compare: same- and
cross-factor information are those of the best of 20 random partitions of its 32 units into two
groups of 16 (largest same − cross), as in the paper (Table 2, moving MNIST, entangled: 4.66 /
2.61, ELBO −2896 per frame). Our departures are those of the factored config.
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "independent_prediction_bouncing_digits")
    c.independent_prediction.factored = False
    return c
