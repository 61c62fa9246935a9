"""The runner: the training loop, restoring a run, scoring it, listing what is registered.

    from disentax.runner import train, restore_run, evaluate_run
"""
from disentax.runner.evaluate import evaluate_run
from disentax.runner.loop import NonFiniteLossError, train
from disentax.runner.restore import RunNotFoundError, restore_run

__all__ = ["NonFiniteLossError", "RunNotFoundError", "evaluate_run", "restore_run", "train"]
