"""Sweeps: the seeds and hyperparameter values of one config trained as one program.

A sweep of S members (every seed for every combination of the grid's values) stacks the members'
parameters, optimiser states and keys along a leading model axis and runs one jitted program per
training step over that axis: `jax.vmap` (one batched program; the default on accelerators) or
`jax.lax.map` (the members one after another inside the program; the default on a CPU, where XLA's
batched convolutions are several times slower than unbatched ones, see `resolve_vectorize`). The
values a grid varies enter the step as a per-member array: the method is built *inside* the traced
step with those values in its config (builders hand real-valued hyperparameters to the objectives
through `contract.hp_value`, which lets a traced value through), so one compiled step serves the
whole grid.

Member i is the run `disentax train` makes with its config (the base config, its seed, its grid
values): the same keys (`loop.run_keys(seed)`), the same batches (`sample_batch(fold_in(data_key,
step), B)`, made inside the step as the loop does for datasets rendered on device), the same
initialisation and updates. With "map" the MLP members equal single runs bit for bit and the conv
members to float32 rounding (XLA picks other convolution kernels inside the loop); with "vmap" the
batched matrix products may sum in another order. `tests/test_sweep.py` asserts both.

The sweep folder holds `sweep.json` (base config, seeds, grid, members, members that diverged),
`checkpoints/<step>` (the stacked state, with the sweep's spec), and `members/<i>/metrics.jsonl`
(+ TensorBoard events) per member. A resume checks the spec first: another grid, other seeds or
another config (other than its length and cadences) is refused. A member whose loss turns NaN is
reported and recorded; the others train on. `export_member` writes one member as an ordinary run
folder (`disentax evaluate`, `restore_run`, the notebooks read it).

Devices: with config.data_parallel (the default) the sweep runs on every device of every process,
on a 2-D mesh ("model", "data") (`sharding.make_sweep_mesh`). The model axis is the largest divisor
of the device count that divides S (their gcd), the data axis the rest, which must divide
config.batch_size (else a one-line error): 8 members on 8 devices put one member on each device; 4
members on 8 devices put each member on two, which split its batch. The stacked states, the
members' values and keys are split over "model" on their leading axis, each member's batch (made
inside the step) over "data", and the step's outputs keep those shardings, so the next step takes
them as they are; the per-step metrics ([S] numbers) come back replicated, readable on every
process. Only "vmap" can split the model axis (lax.map walks the member axis and "unroll" keeps one
state per member), so "auto" is "vmap" whenever the model axis spans several devices; an explicit
"map" or "unroll" keeps every member whole on each device and splits each member's batch over all of
them (model axis 1). config.data_parallel=False keeps the sweep on the first device. Several
processes (config.distributed, as `disentax train`) each run the same program on the global mesh;
checkpoints hold global arrays and restore into any mesh (a sweep written on 8 devices exports on
one), and only the first process writes `sweep.json` and the members' metrics.

Not yet: host-read datasets (batches are rendered inside the step).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from disentax import config as cfg
from disentax import methods
from disentax.data.registry import get_dataset
from disentax.distributions import gaussian_kl
from disentax.errors import ConfigError
from disentax.methods.registry import flatten
from disentax.metrics.udr import udr
from disentax.runner.lock import RunLock
from disentax.runner.loop import _config_dict, _first_difference, log_due, merge_probed, run_keys
from disentax.runner.signals import GracefulStop, StopRequested
from disentax.train import sharding
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import MetricWriter, read_json, to_python, write_json
from disentax.train.step import takes_log

SPEC_FILE = "sweep.json"


def _note(message: str) -> None:
    print(f"disentax: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- what is swept


def parse_grid(config, items: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """`["beta=1,4,8", "beta_vae.gamma=..."]` -> {"beta_vae.beta": (1.0, 4.0, 8.0), ...}.

    A key is a real-valued hyperparameter of `config.method`, written `NAME`, `METHOD.NAME` or
    `config.METHOD.NAME`; values are comma-separated numbers. Anything else is a one-line error.
    """
    spec = methods.get_spec(config.method)
    declared = {h.name: h for h in spec.hyperparameters}
    grid: dict[str, tuple[float, ...]] = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip().removeprefix("--").removeprefix("config.")
        if not sep or not key or not text.strip():
            raise ConfigError(f"--grid {item!r} must look like KEY=v1,v2,... (e.g. --grid beta=1,4,8)")
        group, _, name = key.rpartition(".")
        if group and group != config.method:
            raise ConfigError(f"--grid {key}: sweeps vary hyperparameters of config.method={config.method!r}, "
                              f"written {config.method}.NAME or NAME")
        if name not in declared:
            raise ConfigError(f"--grid {key}: method {config.method!r} has no hyperparameter {name!r}; "
                              f"it has: {', '.join(declared) or 'none'}")
        default = declared[name].default
        if not isinstance(default, float):
            kind = ("true or false" if isinstance(default, bool) else "an integer" if isinstance(default, int)
                    else f"a {type(default).__name__}")
            raise ConfigError(f"--grid {key}: config.{config.method}.{name} is {kind}; it shapes the program, "
                              "so it cannot vary inside one sweep (run one sweep per value)")
        full = f"{config.method}.{name}"
        if full in grid:
            raise ConfigError(f"--grid {key} is given twice")
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise ConfigError(f"--grid {key}={text}: values must be numbers separated by commas") from None
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {key}={text}: a value is repeated")
        grid[full] = values
    return grid


def sweep_members(config, num_seeds: int, grid: dict[str, tuple[float, ...]]) -> list[dict]:
    """One dict per member, {"seed": s, "<method>.<name>": value, ...}: every grid combination (in
    the order the keys were given, the last varying fastest) times seeds config.seed, ... +
    num_seeds − 1 (fastest). Each member's config is validated (a value out of range is a one-line
    error naming it)."""
    if int(num_seeds) != num_seeds or int(num_seeds) < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {num_seeds}")
    keys = list(grid)
    members = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        for j in range(int(num_seeds)):
            members.append({"seed": int(config.seed) + j, **dict(zip(keys, combo))})
    for m in members:
        try:
            member_config(config, m)
        except ConfigError as e:
            values = ", ".join(f"{k}={v}" for k, v in m.items() if k != "seed")
            raise ConfigError(f"sweep member {values}: {e}") from None
    return members


def member_config(config, member: dict) -> ml_collections.ConfigDict:
    """The config `disentax train` would use for `member`: the base config, its seed and values."""
    c = ml_collections.ConfigDict(_config_dict(config))
    c.seed = int(member["seed"])
    for key, value in member.items():
        if key != "seed":
            group, name = key.split(".")
            c[group][name] = float(value)
    return cfg.validate(c)


def _traced_config(config, keys: Sequence[str], values) -> ml_collections.ConfigDict:
    """`config` with the grid's hyperparameters set to the (traced) per-member `values`."""
    c = ml_collections.ConfigDict(_config_dict(config), type_safe=False)
    for i, key in enumerate(keys):
        group, name = key.split(".")
        c[group][name] = values[i]
    return c


# ----------------------------------------------------------------------------- the stacked program


VECTORIZE = ("auto", "vmap", "map", "unroll")


def resolve_vectorize(vectorize: str, split_members: bool = False) -> str:
    """How the members share the one program: "vmap" (a batched program), "map" (`lax.map`, the members
    one after another in a loop inside the program) or "unroll" (each member's step written out in
    the program, on its own state: XLA sees S independent unbatched steps). "auto" is "vmap" when
    the members are split over several devices (`split_members`: the only way that can shard the
    member axis), else "unroll" on a CPU and "vmap" on accelerators. On the 2-core CPU
    (`benchmarks/RESULTS.md` §8) the batched conv step ran at 0.18-0.26x the sequential single runs
    (S = 4-16) and "map" at 0.07x, while the unrolled steps ran 1.1-1.3x the sequential single runs
    at S = 4; on an accelerator the batched program is what fills the device."""
    if vectorize not in VECTORIZE:
        raise ConfigError(f"vectorize={vectorize!r} is unknown; allowed: {', '.join(VECTORIZE)}")
    if vectorize == "auto":
        return "vmap" if split_members or jax.default_backend() != "cpu" else "unroll"
    return vectorize


def sweep_mesh(config, num_members: int, vectorize: str):
    """(mesh, vectorize): the sweep's ("model", "data") mesh (see the module docstring) and the
    resolved `vectorize`; config.data_parallel=False keeps it on the first device."""
    devices = jax.devices() if config.get("data_parallel", True) else jax.devices()[:1]
    vectorize = resolve_vectorize(vectorize, sharding.model_axis_size(num_members, len(devices)) > 1)
    mesh = sharding.make_sweep_mesh(num_members, int(config.batch_size), devices, split_members=vectorize == "vmap")
    return mesh, vectorize


def _shardings(mesh, vectorize: str):
    """(members, states, replicated): arrays with a leading member axis split over "model"; the
    states' (a list of whole states when unrolled); and whole on every device."""
    members = NamedSharding(mesh, P(sharding.MODEL_AXIS))
    rep = sharding.replicated(mesh)
    return members, (rep if vectorize == "unroll" else members), rep


def stack_members(states):
    """A list of member states -> one state with a leading member axis (a stacked state stays)."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states) if isinstance(states, list) else states


def unstack_members(stacked, size: int) -> list:
    return [jax.tree.map(lambda a: a[i], stacked) for i in range(size)]


def _over_members(fn: Callable, vectorize: str, spmd_axis_name: str | None = None) -> Callable:
    """`fn(*args)` of one member -> the same over stacked members (vmap, lax.map or unrolled).
    `spmd_axis_name` names the mesh axis of the vmapped one in `fn`'s sharding constraints."""
    if vectorize == "vmap":
        return jax.vmap(fn, spmd_axis_name=spmd_axis_name)
    if vectorize == "map":
        return lambda *stacked: jax.lax.map(lambda a: fn(*a), stacked)

    def unrolled(*stacked):
        size = jax.tree.leaves(stacked)[0].shape[0]
        outs = [fn(*jax.tree.map(lambda a: a[i], stacked)) for i in range(size)]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)

    return unrolled


def _sweep_functions(config, dataset, keys: Sequence[str], batch_size: int, vectorize: str = "vmap", mesh=None):
    """(base method, init(init_keys, data_keys) -> states, step(values, states, data_keys, step_keys, step,
    log)), the step vmapped, `lax.map`ped or unrolled over the members (`resolve_vectorize`), jitted on
    `mesh` (`sweep_mesh`; default: the first device) with the shardings of `_shardings`."""
    mesh = sharding.make_sweep_mesh(1, batch_size, jax.devices()[:1]) if mesh is None else mesh
    members, states_sharding, rep = _shardings(mesh, vectorize)
    base = methods.build(config, dataset)
    batch_shardings = sharding.member_batch_shardings(
        jax.eval_shape(lambda: base.sample_batch(jax.random.PRNGKey(0), batch_size)), mesh)

    def init_member(init_key, data_key):
        return base.init_state(init_key, base.sample_batch(jax.random.fold_in(data_key, 0), batch_size))

    def member_step(values, state, data_key, step_key, step, log):
        method = methods.build(_traced_config(config, keys, values), dataset)
        # Rendered straight into its sharding: under vmap, P("model", "data") over [S, B, ...].
        batch = jax.lax.with_sharding_constraint(method.sample_batch(jax.random.fold_in(data_key, step), batch_size),
                                                 batch_shardings)
        key = jax.random.fold_in(step_key, step)
        fn = method.train_step
        return fn(state, batch, key, log) if takes_log(fn) else fn(state, batch, key)

    init = jax.jit(jax.vmap(init_member), in_shardings=(members, members), out_shardings=members)
    if vectorize == "unroll":
        # The states stay a list: each member's buffers are donated and updated where they are,
        # with no slicing out of and stacking back into one array per step.
        def over(values, states, data_keys, step_keys, step, log):
            outs = [member_step(values[i], states[i], data_keys[i], step_keys[i], step, log)
                    for i in range(len(states))]
            return [o[0] for o in outs], jax.tree.map(lambda *xs: jnp.stack(xs), *[o[1] for o in outs])
    else:
        def over(values, states, data_keys, step_keys, step, log):
            return _over_members(lambda *m: member_step(*m, step, log), vectorize, sharding.MODEL_AXIS)(
                values, states, data_keys, step_keys)

    # The new states in the old ones' sharding, so the next step takes them as they are; the metrics
    # ([S] numbers) replicated, so every process can read them.
    step = jax.jit(over, in_shardings=(members, states_sharding, members, members, rep, rep),
                   out_shardings=(states_sharding, rep), donate_argnums=(1,))
    return base, init, step


def _check_sweepable(config, dataset, keys, init, step_fn, values, init_keys, data_keys, step_keys, vectorize):
    if getattr(dataset, "on_host", False):
        raise ConfigError(f"dataset {config.dataset!r} is read on the host; sweeps render each member's batches "
                          "inside the step, so they need a dataset made on the device (the procedural ones)")
    try:
        states = jax.eval_shape(init, init_keys, data_keys)
        if vectorize == "unroll":
            one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), states)
            states = [one] * values.shape[0]
        jax.eval_shape(step_fn, values, states, data_keys, step_keys, np.uint32(0), np.bool_(True))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            jax.errors.TracerIntegerConversionError) as e:
        raise ConfigError(f"method {config.method!r} cannot sweep {', '.join(keys)}: its builder needs the value "
                          f"as a Python number ({str(e).splitlines()[0][:160]})") from None


# ----------------------------------------------------------------------------- training


def sweep_spec(config, members: list[dict], grid: dict) -> dict:
    return {"config": _config_dict(config), "grid": {k: list(v) for k, v in grid.items()},
            "members": members}


def _check_spec(workdir: Path, saved: dict, current: dict) -> None:
    if saved.get("grid") != current["grid"]:
        raise ConfigError(f"{workdir} holds a sweep over {saved.get('grid')}, not {current['grid']}; "
                          "use a new --workdir or the same grid to resume")
    if [m["seed"] for m in saved.get("members", [])] != [m["seed"] for m in current["members"]]:
        raise ConfigError(f"{workdir} holds a sweep of seeds {sorted({m['seed'] for m in saved['members']})}, "
                          f"not {sorted({m['seed'] for m in current['members']})}; use a new --workdir or the same seeds")
    key = _first_difference(saved.get("config", {}), current["config"])
    if key is not None:
        old, new = flatten(saved["config"]).get(key), flatten(current["config"]).get(key)
        raise ConfigError(f"{workdir} holds a sweep with config.{key}={old!r}, not {new!r}; "
                          "use a new --workdir or the same config to resume")


def train_sweep(config, workdir, num_seeds: int = 1, grid: Sequence[str] | dict = (), *, vectorize: str = "auto",
                exit_on_second_signal: bool = False, note: Callable[[str], None] = _note) -> dict:
    """Train the members of a sweep (see the module docstring) in `workdir`, resuming if it holds one.

    `grid`: `--grid` items ("beta=1,4,8") or a parsed {"<method>.<name>": values}; `vectorize`: how
    the members share the step (`resolve_vectorize`; either way one program). Returns {"step",
    "start", "states" (stacked, on the sweep's mesh), "members", "vectorize", "metrics" (last logged,
    per member), "diverged"}.
    """
    config = cfg.validate(config)
    # Before anything touches a JAX backend (the mesh and resolve_vectorize do).
    sharding.initialize_distributed(config.get("distributed", "auto"))
    grid = grid if isinstance(grid, dict) else parse_grid(config, grid)
    members = sweep_members(config, num_seeds, grid)
    mesh, vectorize = sweep_mesh(config, len(members), vectorize)
    workdir = Path(workdir)
    with GracefulStop(exit_on_second=exit_on_second_signal) as stop, contextlib.ExitStack() as cleanup:
        return _train_sweep(config, workdir, members, grid, mesh, vectorize, stop, cleanup, note)


def _fetch(tree):
    """numpy copies of the device arrays in `tree`, whole on every process: an array split over
    several processes is gathered (`process_allgather`), any other is read from this process."""
    def get(a):
        if isinstance(a, jax.Array) and not (a.is_fully_addressable or a.is_fully_replicated):
            return multihost_utils.process_allgather(a, tiled=True)
        return np.asarray(a)

    return jax.tree.map(get, tree)


def _train_sweep(config, workdir: Path, members, grid, mesh, vectorize, stop, cleanup, note) -> dict:
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"--workdir {workdir} is a file, not a folder")
    dataset = get_dataset(config.dataset)
    keys = list(grid)
    batch_size, num_steps = int(config.batch_size), int(config.num_steps)
    spec = sweep_spec(config, members, grid)
    # With several processes every one runs this program on the global mesh; only the first writes
    # the folder's files and holds its lock (orbax coordinates the checkpoints itself), as the loop does.
    lead = jax.process_index() == 0

    # Checked against what the checkpoints were trained with (their own copy of the spec first), and
    # only when there are some: a folder whose first attempt stopped before a checkpoint starts afresh.
    ckpt_dir = workdir / "checkpoints"
    if ckpt_dir.is_dir():
        probe = Checkpointer(ckpt_dir, create=False)
        try:
            steps = probe.all_steps()
            saved = next((c for c in (probe.saved_config(s) for s in reversed(steps)) if c is not None), None)
        finally:
            probe.close()
        if saved is None and steps:
            saved = read_json(workdir / SPEC_FILE)
        if saved is not None:
            _check_spec(workdir, saved, spec)

    member_sharding, _, rep = _shardings(mesh, vectorize)
    # (init, data, step, diagnostics pool) keys per member and the members' values, made on the host
    # and placed on the global mesh: every process holds the same numbers.
    run = np.stack([np.asarray(run_keys(m["seed"])) for m in members])  # [S, 4, 2]
    probe_keys = np.asarray(jax.vmap(jax.random.fold_in, (0, None))(run[:, 3], 1))
    values = np.asarray([[m[k] for k in keys] for m in members], np.float32).reshape(len(members), len(keys))
    init_keys, data_keys, step_keys, probe_keys, values = jax.device_put(
        (run[:, 0], run[:, 1], run[:, 2], probe_keys, values), member_sharding)
    base, init, step_fn = _sweep_functions(config, dataset, keys, batch_size, vectorize, mesh)
    _check_sweepable(config, dataset, keys, init, step_fn, values, init_keys, data_keys, step_keys, vectorize)
    # An unrolled sweep keeps one whole state per member; its checkpoints hold them stacked.
    if vectorize == "unroll":
        stacked = jax.jit(stack_members, out_shardings=member_sharding)
        unstacked = jax.jit(lambda s: unstack_members(s, len(members)), out_shardings=rep)
    else:
        stacked = unstacked = lambda s: s

    if lead:
        workdir.mkdir(parents=True, exist_ok=True)
        cleanup.enter_context(RunLock(workdir))
    states = unstacked(init(init_keys, data_keys))
    ckpt = Checkpointer(ckpt_dir, max_to_keep=int(config.max_checkpoints))
    cleanup.callback(ckpt.close)
    start, last_saved = 0, None
    for s in reversed(ckpt.all_steps()):
        if s > num_steps:
            raise ConfigError(f"{workdir} holds a sweep at step {s}, past config.num_steps={num_steps}; "
                              "raise num_steps to continue it, or use a new --workdir")
        try:
            restored = ckpt.restore(stacked(states), s)  # into the states' shardings on this mesh
        except Exception as e:  # a damaged step: try the one before (the sweep's NaN members are kept as they are)
            note(f"sweep checkpoint {s} does not restore ({type(e).__name__}); trying an older one")
            continue
        if np.all(_fetch(restored.step) == s):
            states, start, last_saved = unstacked(restored), s, s
            note(f"resuming the sweep in {workdir} from step {s} (of {num_steps}), {len(members)} members")
            break
    previous = read_json(workdir / SPEC_FILE) or {}
    diverged = {int(k): int(v) for k, v in previous.get("diverged", {}).items() if int(v) <= start}

    def write_spec():  # the members, how they share the program, and the ones that diverged
        if lead:
            write_json(workdir / SPEC_FILE, {**spec, "vectorize": vectorize,
                                             "diverged": {str(k): v for k, v in diverged.items()}})

    write_spec()

    writers = []
    for i in range(len(members)):
        if lead:
            (workdir / "members" / str(i)).mkdir(parents=True, exist_ok=True)
        writers.append(MetricWriter(workdir / "members" / str(i), resume_step=start, enabled=lead))
    for w in writers:
        cleanup.callback(w.close)
    diagnose = None
    if base.diagnose is not None:
        over = _over_members(base.diagnose, vectorize)
        # Every process runs it (the members' parameters may live on several hosts); the estimates
        # come back replicated.
        diagnose = jax.jit(lambda params, pool_keys, step: over(
            stack_members(params), jax.vmap(jax.random.fold_in, (0, None))(pool_keys, step)), out_shardings=rep)

    pending: list[tuple[int, jax.Array]] = []  # (step, losses [S]) not yet looked at on the host

    def check_pending():
        if not pending:
            return
        losses = np.stack([_fetch(loss) for _, loss in pending])  # [steps, S]
        for i in np.flatnonzero(~np.all(np.isfinite(losses), axis=0)):
            if int(i) not in diverged:
                first = pending[int(np.flatnonzero(~np.isfinite(losses[:, i]))[0])][0]
                diverged[int(i)] = first
                what = ", ".join(f"{k}={v}" for k, v in members[i].items())
                note(f"sweep member {i} ({what}) diverged: loss non-finite at step {first}; the others train on")
                write_spec()
        pending.clear()

    metrics: dict = {}
    t_last, step_last = time.perf_counter(), start

    def log(step):
        nonlocal t_last, step_last
        check_pending()
        values_host = _fetch(metrics)
        now = time.perf_counter()
        rate = (step - step_last) / max(now - t_last, 1e-9)
        probed = None
        if diagnose is not None:
            params = [m.params for m in states] if isinstance(states, list) else states.params
            probed = _fetch(diagnose(params, probe_keys, np.uint32(step)))
            now = time.perf_counter()
        t_last, step_last = now, step
        for i, writer in enumerate(writers):
            row = to_python({k: v[i] for k, v in values_host.items()})
            if probed is not None:
                merge_probed(row, to_python({k: v[i] for k, v in probed.items()}))
            row["steps_per_sec"] = rate
            writer.write(step, row)

    def save(step):
        nonlocal last_saved
        check_pending()
        ckpt.save(step, stacked(states), spec)
        last_saved = step

    bar = None
    if config.progress and lead:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_steps, initial=start, desc=f"sweep of {len(members)}", unit="step", mininterval=1.0,
                   dynamic_ncols=True)
        cleanup.callback(bar.close)
    step = start
    consistent = True
    try:
        while step < num_steps and not stop.requested:
            logged = log_due(step + 1, config.log_every, num_steps)
            consistent = False
            states, metrics = step_fn(values, states, data_keys, step_keys, np.uint32(step), np.bool_(logged))
            consistent = True
            pending.append((step + 1, metrics["loss"]))
            step += 1
            if bar is not None:
                bar.update(1)
            if log_due(step, config.log_every, num_steps):
                log(step)
                ckpt.check_for_errors()
            if step % config.checkpoint_every == 0:
                save(step)
        if stop.requested:
            saved_step = None
            if step != start and last_saved != step:
                save(step)
                saved_step = step
            ckpt.wait()
            stop.saved_step = saved_step
            raise StopRequested(step, saved_step, stop.signum, last_saved)
        if last_saved != step:
            save(step)
        ckpt.wait()
    except StopRequested:
        raise
    except BaseException:
        if consistent and step != start and last_saved != step:
            with contextlib.suppress(Exception):
                save(step)
                ckpt.wait()
        raise
    last = _fetch(metrics)
    return {"step": step, "start": start, "states": stacked(states), "members": members, "vectorize": vectorize,
            "metrics": [to_python({k: v[i] for k, v in last.items()}) for i in range(len(members))] if metrics else [],
            "diverged": dict(diverged)}


# ----------------------------------------------------------------------------- one member out


def read_spec(workdir) -> dict:
    workdir = Path(workdir)
    spec = read_json(workdir / SPEC_FILE)
    if spec is None:
        raise ConfigError(f"{workdir} is not a sweep folder: no readable {SPEC_FILE} "
                          "(train one with `disentax sweep`)")
    return spec


def _restore_stacked(workdir: Path, spec: dict):
    """(base config, its method, stacked states, step) of the sweep's newest checkpoint, the states on
    the first device whatever mesh wrote them."""
    base = cfg.validate(cfg.from_dict(spec["config"]))
    dataset = get_dataset(base.dataset)
    members = spec["members"]
    method, init, _ = _sweep_functions(base, dataset, list(spec["grid"]), int(base.batch_size))
    run = np.stack([np.asarray(run_keys(m["seed"])) for m in members])
    # Shapes, dtypes and shardings (the first device) are all a restore needs: nothing is computed,
    # and a checkpoint written on any mesh restores here.
    template = jax.eval_shape(init, run[:, 0], run[:, 1])
    ckpt = Checkpointer(workdir / "checkpoints", create=False) if (workdir / "checkpoints").is_dir() else None
    if ckpt is None or ckpt.latest_step() is None:
        raise ConfigError(f"{workdir} holds no sweep checkpoint yet")
    try:
        step = ckpt.latest_step()
        states = ckpt.restore(template, step)
    finally:
        ckpt.close()
    return base, method, states, step


def export_member(workdir, index: int, to, note: Callable[[str], None] = _note) -> Path:
    """Write member `index` of the sweep in `workdir` as an ordinary run folder `to`: its config
    (`config.json`), its state at the sweep's newest checkpoint (`checkpoints/<step>`, with the
    config) and its `metrics.jsonl`. Returns `to`."""
    workdir, to = Path(workdir), Path(to)
    spec = read_spec(workdir)
    members = spec["members"]
    if not 0 <= int(index) < len(members):
        raise ConfigError(f"--member {index}: the sweep in {workdir} has members 0 to {len(members) - 1}")
    if (to / "checkpoints").exists():
        raise ConfigError(f"--to {to} already holds a run; choose a new folder")
    base, _, states, step = _restore_stacked(workdir, spec)
    member = jax.tree.map(lambda a: a[int(index)], states)
    config = member_config(base, members[int(index)])
    to.mkdir(parents=True, exist_ok=True)
    out = Checkpointer(to / "checkpoints", max_to_keep=int(config.max_checkpoints))
    try:
        out.save(step, member, _config_dict(config))
    finally:
        out.close()
    write_json(to / "config.json", _config_dict(config), sort_keys=True)
    source = workdir / "members" / str(int(index)) / "metrics.jsonl"
    if source.is_file():
        rows = [line for line in source.read_text().splitlines() if line.strip()
                and json.loads(line).get("step", 0) <= step]
        (to / "metrics.jsonl").write_text("".join(r + "\n" for r in rows))
    diverged = spec.get("diverged", {}).get(str(int(index)))
    if diverged is not None:
        note(f"member {index} diverged at step {diverged}: its exported parameters are not finite")
    return to


def score_udr(workdir, num_points: int = 1000, seed: int = 0, kl_threshold: float = 0.01) -> dict:
    """UDR (`disentax.metrics.udr`, Duan et al. 2020) of every member of the sweep in `workdir`
    against the other seeds of its grid point, written to `workdir/udr.json` and returned.

    Every member encodes the same `num_points` images (drawn with `seed`; the paper's 1,000) in one
    call over the stacked members; its code is the default code's posterior mean, its latents' KLs the mean closed-form
    KL(q(z_d|x) ‖ N(0, 1)) over those images. A grid point with one seed, or a member that diverged,
    gets None.
    """
    workdir = Path(workdir)
    spec = read_spec(workdir)
    base, method, states, step = _restore_stacked(workdir, spec)
    if method.posterior is None:
        raise ConfigError(f"method {base.method!r}'s code has no Gaussian posterior; UDR needs its latents' KLs "
                          f"({method.code().no_posterior})")
    x = method.dataset.sample(jax.random.PRNGKey(int(seed)), int(num_points))[0]
    post = jax.jit(_over_members(lambda p: method.posterior(p, x), resolve_vectorize("auto")))(states.params)
    means = np.asarray(post.mean, np.float64)
    kls = np.asarray(jax.vmap(lambda m, lv: gaussian_kl(m, lv).mean(0))(post.mean, post.logvar), np.float64)
    members, diverged = spec["members"], {int(k) for k in spec.get("diverged", {})}
    settings: dict[tuple, list[int]] = {}
    for i, m in enumerate(members):
        if i not in diverged:
            settings.setdefault(tuple((k, v) for k, v in m.items() if k != "seed"), []).append(i)
    scores: dict[int, dict] = {}
    for indices in settings.values():
        if len(indices) < 2:
            continue
        out = udr([means[i] for i in indices], [kls[i] for i in indices], kl_threshold)
        for n, i in enumerate(indices):
            scores[i] = {"udr": out["udr"][n], "informative": out["informative"][n]}
    record = {"step": int(step), "num_points": int(num_points), "seed": int(seed), "kl_threshold": float(kl_threshold),
              "members": [{"index": i, **m, **scores.get(i, {"udr": None, "informative": None})}
                          for i, m in enumerate(members)]}
    write_json(workdir / "udr.json", record)
    return record


__all__ = ["SPEC_FILE", "export_member", "member_config", "parse_grid", "read_spec", "score_udr", "sweep_members",
           "train_sweep"]
