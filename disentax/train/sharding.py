"""Data-parallel training over every visible device with `jax.sharding`.

One config runs unchanged on 1 CPU, 8 GPUs or a TPU slice: the loop builds a 1-D `Mesh`
over the devices with a single axis "data", splits the leading (batch) axis of every batch
array across it (`P("data")`) and keeps the training state — parameters, optimiser state,
step, extra networks — replicated (`P()`). The step is `jax.jit` with those in/out
shardings; XLA's SPMD partitioner (GSPMD) splits the work and inserts the collectives.

Why the batch-level estimators see the GLOBAL batch. Under `jit`, a sharded `jax.Array`
is one logical array of the global shape: `x.shape[0]` is the global batch size, and
`jnp.mean(x, 0)`, `logsumexp` over the batch axis of a [B, B, D] pairwise matrix
(minibatch-weighted/stratified sampling and HFVAE estimators of log q(z)), the sample
covariance of DIP-VAE, FactorVAE's `permute_dims` and ML-VAE's group pooling are all
written as operations on that logical array. The partitioner must produce exactly the
function the program denotes, so wherever an operation mixes examples held on different
devices it inserts the all-gather / all-reduce that makes the result equal to the
unsharded one. The program never sees a per-device shard (it would under `shard_map` or
`pmap`, where a per-shard reduction would silently become a per-device estimator). The
test `tests/multidevice/test_sharding.py` checks that one sharded step of every
registered method equals the single-device step, and that a batch-coupled statistic
computed on the sharded array differs from the mean of its per-shard values.

Random numbers: with `jax_threefry_partitionable` (on by default) a key gives the same
bits whatever the output sharding, so a batch sampled straight into its sharding (the
procedural datasets) is the batch a single device would sample.

Multi-host: `setup(config)` calls `jax.distributed.initialize()` when `config.distributed`
is "on", or "auto" and a launcher's environment is present (see `LAUNCHER_ENV`; a plain
launcher sets JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID, see
`process_layout`); every process then sees the global device list and the same mesh. Batches
are made directly in their data sharding (`disentax.data.host_pipeline`: jitted with
`batch_shardings` as out_shardings on device; host-read rows of each process assembled into global
arrays), orbax writes and restores global arrays, and only process 0 writes the run's other files. Tested with two CPU
processes of two devices each against one process of four
(tests/multidevice/test_multiprocess.py).

Checkpoints: `Checkpointer.restore(target)` restores into the shardings of `target`, so a
state written on 8 devices restores onto 1 and the reverse (the state is replicated; only
the mesh it is placed on differs).

Sweeps (`disentax.runner.sweep`) train S members at once on a 2-D mesh ("model", "data",
`make_sweep_mesh`): the members' stacked states split over "model", each member's batch over
"data". The members never exchange anything, so the model axis costs no communication; the data
axis carries each member's gradient reductions, as the 1-D mesh does for one run.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from disentax.errors import ConfigError
from disentax.train.step import takes_log

DATA_AXIS = "data"
MODEL_AXIS = "model"  # a sweep's members

# Environment variables that mean "launched as one of several processes"; with
# config.distributed="auto" any of them (with more than one task where it counts tasks)
# turns jax.distributed.initialize() on. JAX itself detects the cluster from these.
LAUNCHER_ENV = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE",
                "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")
DISTRIBUTED = ("auto", "on", "off")


def launched_multiprocess(env=None) -> bool:
    """True when the environment says this process is one of several (a multi-host launch)."""
    env = os.environ if env is None else env
    for name in LAUNCHER_ENV:
        value = env.get(name)
        if not value:
            continue
        if name in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
            if value.isdigit() and int(value) > 1:
                return True
        elif name == "TPU_WORKER_HOSTNAMES":
            if "," in value:
                return True
        else:
            return True
    return False


def initialize_distributed(mode: str = "auto", env=None) -> bool:
    """Call `jax.distributed.initialize()` per `mode` (auto | on | off); True if it is initialised.

    Must run before anything else touches a JAX backend.
    """
    if mode not in DISTRIBUTED:
        raise ValueError(f"unknown config.distributed {mode!r}; allowed: {', '.join(DISTRIBUTED)}")
    if jax.distributed.is_initialized():
        return True
    if mode == "on" or (mode == "auto" and launched_multiprocess(env)):
        jax.distributed.initialize(**process_layout(env))
        return True
    return False


def process_layout(env=None) -> dict:
    """`num_processes` / `process_id` from JAX_NUM_PROCESSES / JAX_PROCESS_ID, where set.

    JAX reads the coordinator address (JAX_COORDINATOR_ADDRESS) itself and detects SLURM, Open
    MPI and TPU pods, but a plain launcher (a shell loop, a job template) has no standard way to
    say how many processes there are and which one this is; these two variables are that way.
    """
    env = os.environ if env is None else env
    layout = {}
    for name, arg in (("JAX_NUM_PROCESSES", "num_processes"), ("JAX_PROCESS_ID", "process_id")):
        value = env.get(name)
        if value:
            if not value.isdigit():
                raise ValueError(f"{name}={value!r} must be a non-negative integer")
            layout[arg] = int(value)
    return layout


def make_mesh(devices=None) -> Mesh:
    """A 1-D mesh with axis "data" over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def setup(config) -> Mesh:
    """Initialise multi-host JAX if asked (config.distributed) and return the data mesh.

    config.data_parallel=False keeps everything on the first device.
    """
    initialize_distributed(config.get("distributed", "auto"))
    if not config.get("data_parallel", True):
        return make_mesh(jax.devices()[:1])
    mesh = make_mesh()
    n = mesh.size
    if int(config.batch_size) % n:
        raise ConfigError(
            f"config.batch_size={config.batch_size} must be divisible by the {n} devices of the data mesh; "
            "change it or set config.data_parallel=False"
        )
    return mesh


def model_axis_size(num_members: int, num_devices: int) -> int:
    """How many devices a sweep's members are split over: the largest divisor of the device count
    that divides the member count (their gcd), so every device holds the same number of members."""
    return math.gcd(int(num_members), int(num_devices))


def make_sweep_mesh(num_members: int, batch_size: int, devices=None, split_members: bool = True) -> Mesh:
    """The 2-D mesh ("model", "data") of a sweep of `num_members` over `devices` (default: every
    device of every process).

    The model axis is `model_axis_size(num_members, len(devices))` (1 with `split_members=False`:
    every member whole on every device); the data axis is the rest and splits each member's batch,
    so it must divide `batch_size` (else a one-line ConfigError). Devices fill the data axis first:
    neighbours (the same host, where it fits) share a member and its gradient all-reduce.
    """
    devices = jax.devices() if devices is None else list(devices)
    n = len(devices)
    model = model_axis_size(num_members, n) if split_members else 1
    data = n // model
    if int(batch_size) % data:
        layout = (f"splits the members over {model} devices and each member's batch over {data}" if model > 1
                  else f"keeps every member whole on each device and splits its batch over all {data}")
        fix = ("use vectorize vmap, which splits the members" if model_axis_size(num_members, n) > model
               else f"use a number of members with a factor in common with {n}" if model == 1
               else "change the number of members")
        raise ConfigError(f"a sweep of {num_members} members on {n} devices {layout}: config.batch_size={batch_size} "
                          f"must be divisible by {data}; change it, {fix}, or set config.data_parallel=False")
    return Mesh(np.asarray(devices).reshape(model, data), (MODEL_AXIS, DATA_AXIS))


def member_batch_shardings(batch: Any, mesh: Mesh) -> Any:
    """Per-leaf shardings of ONE member's batch on a sweep mesh: the leading axis over "data" where
    it splits evenly, else replicated. Inside the sweep's `vmap(..., spmd_axis_name=MODEL_AXIS)`
    each becomes P("model", "data") (or P("model")) on the stacked [S, B, ...] batch."""
    data = mesh.shape[DATA_AXIS]

    def spec(x):
        split = np.ndim(x) >= 1 and np.shape(x)[0] % data == 0
        return NamedSharding(mesh, P(DATA_AXIS) if split else P())

    return jax.tree.map(spec, batch)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over "data", the rest whole; a prefix for any batch pytree."""
    return NamedSharding(mesh, P(DATA_AXIS))


def batch_shardings(batch: Any, mesh: Mesh) -> Any:
    """Per-leaf shardings of a batch pytree (arrays or shape structs): the leading axis over "data"
    where it splits evenly over the devices, else replicated — scalars (a semi-supervised batch's
    labelled flag) and small per-group tables (ML-VAE's group values). Sharding only lays data
    out; under jit every computation still sees the global arrays."""
    return jax.tree.map(lambda x: batch_sharding(mesh) if _splits(x, mesh) else replicated(mesh), batch)


def _splits(x, mesh: Mesh) -> bool:
    return np.ndim(x) >= 1 and np.shape(x)[0] % mesh.size == 0


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every array of `tree` whole on every device of `mesh`."""
    return jax.device_put(tree, replicated(mesh))


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Split the leading axis of every array in `batch` over the mesh (see `batch_shardings`).

    Device arrays are resharded; host (numpy) arrays are the global batch on one process,
    or, with several processes, this process's slice of it.
    """
    sharding = batch_sharding(mesh)

    def put(x):
        if jax.process_count() > 1 and not isinstance(x, jax.Array) and np.ndim(x) >= 1:
            return jax.make_array_from_process_local_data(sharding, np.asarray(x))
        return jax.device_put(x, sharding if _splits(x, mesh) else replicated(mesh))

    return jax.tree.map(put, batch)


def jit_init(init_state: Callable, mesh: Mesh) -> Callable:
    """jit `init_state(key, batch) -> state` with the state replicated over the mesh."""
    def call(key, batch):
        return jax.jit(init_state, in_shardings=(replicated(mesh), batch_shardings(batch, mesh)),
                       out_shardings=replicated(mesh))(key, batch)

    return call


def jit_step(train_step: Callable, mesh: Mesh, donate: bool = True) -> Callable:
    """jit `train_step(state, batch, key[, log]) -> (state, metrics)` data-parallel over `mesh`.

    State, key and the `log` flag replicated, batch split on its leading axis, outputs replicated
    (so the next step's input sharding matches and nothing recompiles). Donates the old state.
    `log` reaches steps that take it (`disentax.train.step.takes_log`); others ignore it.
    """
    rep = replicated(mesh)
    step_fn = _with_log(train_step)
    compiled: dict = {}

    def call(state, batch, key, log=True):
        # One jit per batch structure: arrays split over "data", scalar leaves replicated.
        signature = (jax.tree.structure(batch), tuple(np.ndim(x) for x in jax.tree.leaves(batch)))
        if signature not in compiled:
            compiled[signature] = jax.jit(
                step_fn,
                in_shardings=(rep, batch_shardings(batch, mesh), rep, rep),
                out_shardings=rep,
                donate_argnums=(0,) if donate else (),
            )
        return compiled[signature](state, batch, key, np.bool_(log))

    return call


def jit_sampled_step(train_step: Callable, sample_batch: Callable, batch_size: int, data_key: jax.Array,
                     step_key: jax.Array, mesh: Mesh, donate: bool = True) -> Callable:
    """jit `(state, step, log) -> (state, metrics)`: the batch of `step`, `sample_batch(fold_in(data_key,
    step), batch_size)`, made inside the step's program in its data sharding, and the step's key
    `fold_in(step_key, step)` too.

    For datasets rendered on device: one program per step instead of three (two key derivations and
    the sampler), nothing built or moved on the host between steps, and XLA can schedule the
    rendering with the step. The batch and key are the ones `DeviceBatches` and the loop would make
    (threefry is a pure function of key and counter), so the run is the same run.
    """
    rep = replicated(mesh)
    step_fn = _with_log(train_step)
    shardings = batch_shardings(jax.eval_shape(lambda k: sample_batch(k, batch_size), data_key), mesh)

    def fused(state, step, log):
        batch = jax.lax.with_sharding_constraint(sample_batch(jax.random.fold_in(data_key, step), batch_size),
                                                 shardings)
        return step_fn(state, batch, jax.random.fold_in(step_key, step), log)

    jitted = jax.jit(fused, in_shardings=(rep, rep, rep), out_shardings=rep, donate_argnums=(0,) if donate else ())
    return lambda state, step, log=True: jitted(state, np.uint32(step), np.bool_(log))


def _with_log(train_step: Callable) -> Callable:
    if takes_log(train_step):
        return train_step
    return lambda state, batch, key, log: train_step(state, batch, key)
