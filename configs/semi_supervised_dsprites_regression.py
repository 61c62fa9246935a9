"""Semi-supervised structured VAE (Siddharth et al. 2017) on procedural dSprites with a
discrete and a continuous partially-supervised latent: y = shape (3 classes, classified) and
c = pos_x (regressed), the style z carrying the rest.

Siddharth et al. (2017), Sec. 3 after Eq. 4 and Sec. 4.2, partially supervise a continuous latent
by regression (the faces' lighting direction next to the identity class). Here the regressed factor
is the horizontal position `pos_x`: it is continuous and ordered (32 evenly spaced levels), not
periodic, and means the same for every shape. Orientation is periodic and the square's and
ellipse's symmetries make it ambiguous (a 90° turn of a square is the same image), and scale has
only 6 levels; either can be chosen with `--config.semi_supervised.regression_factors=scale`
(several at once as `pos_x,scale`). Orientation's error is then reported as the paper's cosine
distance.

Targets are standardised: level k of a K-level factor maps to (k − (K−1)/2) / sqrt((K²−1)/12),
mean 0 and variance 1 over the dataset (every dSprites factor is uniform over its evenly spaced
levels), the moments of the N(0, 1) prior on c. A labelled example carries its shape and its
position; the labelled set is l per shape (`semi_supervised.labels_per_class`). The supervised
term for c is α·log q(c_i|x_i) with c_i fed downstream (see `disentax.objectives.semi_supervised`
for why the density weight of Eq. 4 is not used for continuous latents).

Everything else as `semi_supervised_dsprites`: conv stacks of Burgess et al. 2018 App. A.1,
10-dim style, Adam(1e-3) (the appendix of Siddharth et al.), batch 64, l = 10, r = 10 %, plug-in
estimator, α = 50 (chosen, see `semi_supervised_digits`).
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "semi_supervised_dsprites")
    c.semi_supervised.regression_factors = ("pos_x",)
    return c
