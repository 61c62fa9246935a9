"""Stopping a run on SIGINT / SIGTERM without losing anything.

The handler only records the request; the loop looks at it between steps, where the state is
consistent, saves a checkpoint there and says which step it saved. Raising from the handler
instead would land anywhere (inside a JAX compilation, a garbage-collection callback, or between
a donated step and the assignment of its result), which crashed or lost work. A second signal
means "now": from the command line the process exits at once saying nothing was saved (the
checkpoints already on disk are complete: orbax renames a step folder only when it is written);
in a library call it raises KeyboardInterrupt.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequested(KeyboardInterrupt):
    """Training stopped on a signal or Ctrl-C; `saved_step` is the checkpoint written on the way
    out (None if nothing needed saving or could be), `step` the step reached."""

    def __init__(self, step: int, saved_step: int | None, signum: int | None = None, latest: int | None = None):
        self.step, self.saved_step, self.signum, self.latest = step, saved_step, signum, latest
        if saved_step is not None:
            what = f"stopped at step {step}; checkpoint {saved_step} saved"
        elif latest is not None:
            what = f"stopped at step {step}; nothing new to save (newest checkpoint: {latest})"
        else:
            what = f"stopped at step {step}; no checkpoint was written"
        super().__init__(what)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 130)


class GracefulStop:
    """Context manager installing SIGINT/SIGTERM handlers that set `requested` (main thread only;
    elsewhere it does nothing and Ctrl-C arrives as a KeyboardInterrupt). `exit_on_second`: a second
    signal ends the process at once (the command line); otherwise it raises KeyboardInterrupt."""

    def __init__(self, exit_on_second: bool = False):
        self.exit_on_second = exit_on_second
        self.requested = False
        self.signum: int | None = None
        self.saved_step: int | None = None  # set by the loop once its checkpoint on the way out is written
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if not self.requested:
            self.requested, self.signum = True, signum
            print(f"\ndisentax: {signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
                  "(again to stop at once, without saving)", file=sys.stderr, flush=True)
            return
        if self.exit_on_second:
            done = (f"checkpoint {self.saved_step} was saved" if self.saved_step is not None
                    else "nothing more is saved; the checkpoints already written are complete")
            print(f"disentax: {signal.Signals(signum).name} again: stopping now; {done}", file=sys.stderr, flush=True)
            os._exit(EXIT_CODES.get(signum, 130))
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
        return False


__all__ = ["GracefulStop", "StopRequested"]
