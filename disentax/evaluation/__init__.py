"""Method-specific evaluations beyond the disentanglement metrics: the weak-supervision protocols
(`weak_supervision`), object pictures and counting (`objects`), information-placement swap tests
(`information_placement`), identity verification (`verification`), retrieval and single-dimension AUCs of
embeddings (`retrieval`). Import the submodule you need, e.g. `from disentax.evaluation import objects`."""
