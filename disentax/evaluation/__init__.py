"""Method-specific evaluations that go beyond the disentanglement metrics (pictures, counting,
swap tests). Import the submodule you need, e.g. `from disentax.evaluation import objects`."""
