"""Run configurations: the shared base ConfigDict, loading config files, overrides, checks.

A config file is a Python file in `configs/` defining `get_config()` that starts from
`base_config()` and sets its method's published defaults. Command-line overrides look
like `--config.beta=8` or `--config.model.latent_dim=6`.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Iterable

import ml_collections


class ConfigError(ValueError):
    """A bad config key or value. Its message is one line naming the key and what is allowed."""


def base_config() -> ml_collections.ConfigDict:
    """Fields every method shares. Defaults follow disentanglement_lib (Locatello et al. 2019)."""
    c = ml_collections.ConfigDict()
    c.method = "vae"
    c.dataset = "dsprites"
    c.seed = 0
    c.batch_size = 64
    c.num_steps = 300_000  # disentanglement_lib's training length on dSprites
    c.model = ml_collections.ConfigDict(
        dict(
            encoder="conv",  # conv | mlp
            latent_dim=10,
            conv_channels=(32, 32, 32, 32),
            hidden=(256, 256),
            mlp_hidden=(1200, 1200),
            likelihood="bernoulli",
            # How the conv model's stride-2 layers are computed: the same function and parameters
            # either way (disentax.models.layers); "auto" = fastest measured on the backend.
            upsample="auto",  # auto | conv_transpose | subpixel | matmul | col2im | gemm | adjoint
            downsample="auto",  # auto | conv | s2d | matmul | adjoint
        )
    )
    c.optimizer = ml_collections.ConfigDict(
        dict(name="adam", learning_rate=1e-4, b1=0.9, b2=0.999, eps=1e-8, grad_clip=0.0)
    )
    # Data parallel over every visible device (disentax.train.sharding); the batch size is global.
    c.data_parallel = True
    c.distributed = "auto"  # auto | on | off: jax.distributed.initialize() for multi-host launches
    c.log_every = 100
    c.checkpoint_every = 1000
    c.max_checkpoints = 3
    c.progress = True
    c.num_viz_images = 8
    c.traversal_steps = 11
    c.traversal_range = 3.0
    return c


def _search_paths(name: str) -> list[Path]:
    here = Path(__file__).resolve().parent.parent / "configs"
    return [Path.cwd() / "configs" / f"{name}.py", here / f"{name}.py"]


def load_config_file(path_or_name: str) -> ml_collections.ConfigDict:
    """Load `get_config()` from a config file path, or from `configs/NAME.py` given a bare name."""
    path = Path(path_or_name)
    if not path.suffix:
        candidates = _search_paths(path_or_name)
        found = [p for p in candidates if p.exists()]
        if not found:
            available = sorted({p.stem for d in candidates for p in d.parent.glob("*.py")})
            raise ConfigError(f"config {path_or_name!r} not found; available: {', '.join(available)}")
        path = found[0]
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    spec = importlib.util.spec_from_file_location(f"_disentax_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {str(path)!r} defines no get_config()")
    return module.get_config()


def sibling_config(config_file: str, name: str) -> ml_collections.ConfigDict:
    """`get_config()` of `NAME.py` next to `config_file`: for a config that changes a few values
    of another (call it with `__file__`), wherever the configs folder lives."""
    return load_config_file(str(Path(config_file).with_name(f"{name}.py")))


def _parse_value(key: str, text: str, current):
    """Parse `text` into the type of the value it replaces."""
    if isinstance(current, bool):
        low = text.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ConfigError(f"config.{key} must be true or false, got {text!r}")
    if isinstance(current, int):
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"config.{key} must be an integer, got {text!r}") from None
        if value != int(value):
            raise ConfigError(f"config.{key} must be an integer, got {text!r}")
        return int(value)
    if isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"config.{key} must be a number, got {text!r}") from None
    if isinstance(current, (tuple, list)):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            # Bare words, comma-separated: pos_x,scale -> ("pos_x", "scale") (shells eat the quotes).
            words = [w.strip() for w in text.split(",")]
            if not text.strip() or not all(w.isidentifier() for w in words):
                raise ConfigError(f"config.{key} must be a tuple like (32, 32) or a,b, got {text!r}") from None
            value = tuple(words)
        if isinstance(value, str):
            value = (value,)
        if isinstance(value, (int, float)):
            value = (value,)
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"config.{key} must be a tuple like (32, 32), got {text!r}")
        return tuple(value)
    return text


def apply_overrides(config: ml_collections.ConfigDict, overrides: Iterable[str]) -> ml_collections.ConfigDict:
    """Apply `--config.a.b=value` (or `config.a.b=value`) overrides, checking every key exists."""
    for item in overrides:
        raw = item[2:] if item.startswith("--") else item
        if not raw.startswith("config.") or "=" not in raw:
            raise ConfigError(f"override {item!r} must look like --config.KEY=VALUE")
        key, text = raw[len("config.") :].split("=", 1)
        node = config
        parts = key.split(".")
        for depth, part in enumerate(parts):
            prefix = ".".join(parts[:depth])
            if not isinstance(node, ml_collections.ConfigDict) or part not in node:
                allowed = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
                where = f"config.{prefix}" if prefix else "config"
                raise ConfigError(f"unknown config key 'config.{key}'; {where} has: {', '.join(allowed)}")
            if depth < len(parts) - 1:
                node = node[part]
        leaf = parts[-1]
        current = node[leaf]
        if isinstance(current, ml_collections.ConfigDict):
            raise ConfigError(f"config.{key} is a group; set one of its keys: {', '.join(sorted(current.keys()))}")
        with node.unlocked():
            node[leaf] = _parse_value(key, text, current)
    return config


def _require(cond: bool, message: str):
    if not cond:
        raise ConfigError(message)


def validate(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Check the values every run relies on; raises ConfigError with a one-line message."""
    from disentax import methods  # late: these import the heavy modules
    from disentax.data import registry as data
    from disentax.objectives import LIKELIHOODS
    from disentax.models.vae import ENCODERS

    _require(config.method in methods.available(), f"config.method={config.method!r} is unknown; allowed: {', '.join(methods.available())}")
    _require(config.dataset in data.available(), f"config.dataset={config.dataset!r} is unknown; allowed: {', '.join(data.available())}")
    for key in ("batch_size", "num_steps", "log_every", "checkpoint_every", "max_checkpoints"):
        _require(int(config[key]) >= 1, f"config.{key} must be a positive integer, got {config[key]}")
    _require(config.model.encoder in ENCODERS, f"config.model.encoder={config.model.encoder!r} is unknown; allowed: {', '.join(ENCODERS)}")
    _require(config.model.likelihood in LIKELIHOODS, f"config.model.likelihood={config.model.likelihood!r} is unknown; allowed: {', '.join(LIKELIHOODS)}")
    _require(config.get("distributed", "auto") in ("auto", "on", "off"),
             f"config.distributed={config.get('distributed')!r} is unknown; allowed: auto, on, off")
    from disentax.models import layers

    for kind, allowed in (("upsample", layers.UPSAMPLE), ("downsample", layers.DOWNSAMPLE)):
        value = config.model.get(kind, "auto")
        _require(value == "auto" or value in allowed,
                 f"config.model.{kind}={value!r} is unknown; allowed: auto, {', '.join(allowed)}")
    _require(config.model.latent_dim >= 1, f"config.model.latent_dim must be >= 1, got {config.model.latent_dim}")
    _require(config.optimizer.name in OPTIMIZERS, f"config.optimizer.name={config.optimizer.name!r} is unknown; allowed: {', '.join(OPTIMIZERS)}")
    _require(config.optimizer.learning_rate > 0, f"config.optimizer.learning_rate must be > 0, got {config.optimizer.learning_rate}")
    methods.validate(config)
    return config


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def get(path_or_name: str, overrides: Iterable[str] = ()) -> ml_collections.ConfigDict:
    """Load a config file, apply overrides, validate: what `disentax train` does."""
    config = load_config_file(path_or_name)
    apply_overrides(config, overrides)
    return validate(config)


def to_dict(config: ml_collections.ConfigDict) -> dict:
    return config.to_dict()


def from_dict(values: dict) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(values)


__all__ = [
    "ConfigError",
    "OPTIMIZERS",
    "apply_overrides",
    "base_config",
    "from_dict",
    "get",
    "load_config_file",
    "to_dict",
    "validate",
]
