"""Run configurations: the shared fields, each method's group of hyperparameters, files, overrides.

A config is an `ml_collections.ConfigDict` of the fields every run shares (dataset, batch size,
model, optimiser, logging) plus one group named after the method holding its hyperparameters:

    config.method = "beta_tcvae"
    config.beta_tcvae.beta = 6.0          # --config.beta_tcvae.beta=8 on the command line

`base_config(method)` gives the shared defaults and the method's published defaults (its
`MethodSpec`); a config file in `configs/` defines `get_config()` starting from it and sets only what
differs. `--config.method=NAME` on top of a file switches method: the file's changes to shared fields
stay, the new method's group starts from its own defaults.
"""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from typing import Iterable

import ml_collections

from disentax import methods
from disentax.data import registry as data_registry
from disentax.errors import ConfigError
from disentax.methods.registry import flatten, set_path
from disentax.models import layers
from disentax.models.vae import ENCODERS
from disentax.objectives import LIKELIHOODS
from disentax.train.optim import OPTIMIZERS

__all__ = [
    "ConfigError", "OPTIMIZERS", "apply_overrides", "base_config", "from_dict", "get", "load_config_file",
    "shared_config", "sibling_config", "to_dict", "validate", "with_method", "with_new_hyperparameters",
]


def shared_config() -> ml_collections.ConfigDict:
    """Fields every method shares. Defaults follow disentanglement_lib (Locatello et al. (2019))."""
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
            # > 0: a denoising autoencoder, its encoder fed images with up to this fraction of the
            # pixels flipped (salt and pepper; Peychev et al. (2018) use 0.2). Single-network VAEs.
            salt_and_pepper=0.0,
            # How the conv model's stride-2 layers are computed: the same function and parameters
            # either way (disentax.models.layers); "auto" = fastest measured on the backend.
            upsample="auto",  # auto | conv_transpose | subpixel | matmul | col2im | gemm | adjoint
            downsample="auto",  # auto | conv | s2d | matmul | adjoint
        )
    )
    c.optimizer = ml_collections.ConfigDict(
        # weight_decay: adamw only; momentum: sgd only.
        dict(name="adam", learning_rate=1e-4, b1=0.9, b2=0.999, eps=1e-8, grad_clip=0.0, weight_decay=1e-4,
             momentum=0.9)
    )
    # Data parallel over every visible device (disentax.train.sharding); the batch size is global.
    c.data_parallel = True
    c.distributed = "auto"  # auto | on | off: jax.distributed.initialize() for multi-host launches
    c.log_every = 100
    # Images in the pool of the ELBO decomposition (MI, TC, dimension-wise KL) logged at each logging
    # step; 0 logs the training batch's own estimate, biased low (it reads negative at batch 64).
    c.diagnostics_points = 1024
    c.checkpoint_every = 1000
    c.max_checkpoints = 3
    c.progress = True
    c.num_viz_images = 8
    c.traversal_steps = 11
    c.traversal_range = 3.0
    return c


def base_config(method: str = "vae") -> ml_collections.ConfigDict:
    """The shared fields with `method`'s shared defaults applied, and its group at its defaults."""
    spec = methods.get_spec(method)
    c = shared_config()
    c.method = method
    for key, value in spec.shared_defaults.items():
        set_path(c, key, value)
    if spec.hyperparameters:
        c[method] = spec.defaults()
    return c


# ----------------------------------------------------------------------------- files


def _search_paths(name: str) -> list[Path]:
    here = Path(__file__).resolve().parent.parent / "configs"
    return [Path.cwd() / "configs" / f"{name}.py", here / f"{name}.py"]


def config_names() -> list[str]:
    """Names of the config files `load_config_file` finds by bare name."""
    return sorted({p.stem for d in _search_paths("x") for p in d.parent.glob("*.py") if not p.stem.startswith("_")})


def load_config_file(path_or_name: str) -> ml_collections.ConfigDict:
    """Load `get_config()` from a config file path, or from `configs/NAME.py` given a bare name."""
    path = Path(path_or_name)
    if not path.suffix:
        found = [p for p in _search_paths(path_or_name) if p.exists()]
        if not found:
            raise ConfigError(f"config {path_or_name!r} not found; available: {', '.join(config_names())}")
        path = found[0]
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    spec = importlib.util.spec_from_file_location(f"_disentax_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ConfigError(f"config file {str(path)!r} line {e.lineno}: {e.msg}") from None
    except Exception as e:  # a NameError, an ImportError... in the file: its line and message
        raise ConfigError(f"config file {str(path)!r}{_line_in(e, path)}: {type(e).__name__}: {e}") from None
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {str(path)!r} defines no get_config()")
    try:
        return module.get_config()
    except ConfigError:
        raise
    except Exception as e:  # ConfigDict refuses a wrong type or an unknown key; or any error in the file
        raise ConfigError(f"config file {str(path)!r}{_line_in(e, path)}: {type(e).__name__}: "
                          f"{str(e).strip(chr(34) + chr(39))}") from None


def _line_in(error: Exception, path: Path) -> str:
    """' line N' of the innermost frame of `error` inside the config file `path`, if any."""
    tb, line = error.__traceback__, None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" line {line}" if line else ""


def sibling_config(config_file: str, name: str) -> ml_collections.ConfigDict:
    """`get_config()` of `NAME.py` next to `config_file`: for a config that changes a few values
    of another (call it with `__file__`), wherever the configs folder lives."""
    return load_config_file(str(Path(config_file).with_name(f"{name}.py")))


# ----------------------------------------------------------------------------- switching method


_MISSING = object()


def with_method(config: ml_collections.ConfigDict, method: str) -> ml_collections.ConfigDict:
    """`config` for `method` instead of `config.method`: the changes `config` made to shared fields
    (relative to `base_config(config.method)`) applied to `base_config(method)`; the old method's
    group is dropped and the new one starts from its published defaults."""
    if method == config.method:
        return config
    old = config.method
    before = flatten(base_config(old))
    fresh = base_config(method)
    for key, value in flatten(config).items():
        top = key.split(".")[0]
        if top in (old, "method") or before.get(key, _MISSING) == value:
            continue
        if top in methods.available() and top != method:
            raise ConfigError(f"config.{top} holds parameters of method {top!r}; drop them to use method {method!r}")
        set_path(fresh, key, value)
    return fresh


# ----------------------------------------------------------------------------- overrides


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
        if isinstance(value, (str, int, float)):
            value = (value,)
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"config.{key} must be a tuple like (32, 32), got {text!r}")
        return tuple(value)
    return text


def _split_override(item: str) -> tuple[str, str]:
    raw = item[2:] if item.startswith("--") else item
    if not raw.startswith("config.") or "=" not in raw:
        raise ConfigError(f"override {item!r} must look like --config.KEY=VALUE")
    key, text = raw[len("config."):].split("=", 1)
    return key, text


def apply_overrides(config: ml_collections.ConfigDict, overrides: Iterable[str]) -> ml_collections.ConfigDict:
    """`config` with `--config.a.b=value` (or `config.a.b=value`) overrides applied, every key
    checked to exist. A `--config.method=NAME` is applied first (see `with_method`), so the new
    method's keys can be overridden in the same call. Returns the (possibly new) config."""
    pairs = [_split_override(item) for item in overrides]
    for key, text in pairs:
        if key == "method":
            if text not in methods.available():
                raise ConfigError(f"config.method={text!r} is unknown; allowed: {', '.join(methods.available())}")
            config = with_method(config, text)
    for key, text in pairs:
        if key == "method":
            continue
        node = config
        parts = key.split(".")
        for depth, part in enumerate(parts):
            prefix = ".".join(parts[:depth])
            if not isinstance(node, ml_collections.ConfigDict) or part not in node:
                allowed = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
                where = f"config.{prefix}" if prefix else "config"
                hint = ""
                if not prefix and config.method in config and part in config[config.method]:
                    hint = f" (method parameters live in config.{config.method}: --config.{config.method}.{key})"
                raise ConfigError(f"unknown config key 'config.{key}'; {where} has: {', '.join(allowed)}{hint}")
            if depth < len(parts) - 1:
                node = node[part]
        leaf = parts[-1]
        current = node[leaf]
        if isinstance(current, ml_collections.ConfigDict):
            raise ConfigError(f"config.{key} is a group; set one of its keys: {', '.join(sorted(current.keys()))}")
        with node.unlocked():
            node[leaf] = _parse_value(key, text, current)
    return config


# ----------------------------------------------------------------------------- checks


def _require(cond: bool, message: str):
    if not cond:
        raise ConfigError(message)


def validate(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Check every value a run relies on; raises ConfigError with a one-line message."""
    _require(isinstance(config.get("method"), str), "config.method must name a method")
    methods.get_spec(config.method)  # unknown names: one line listing the others
    shared = shared_config()
    for key in config.keys():
        if key in shared or key == config.method:
            continue
        if key in methods.available():
            continue  # another method's group: check_hyperparameters names it
        hint = ""
        if config.method in config and key in config[config.method]:
            hint = f"; it is a parameter of method {config.method!r}: config.{config.method}.{key}"
        raise ConfigError(f"unknown config key 'config.{key}'{hint}")
    for group in ("model", "optimizer"):
        for key in config[group].keys():
            _require(key in shared[group], f"unknown config key 'config.{group}.{key}'; config.{group} has: {', '.join(shared[group].keys())}")
    _require(config.dataset in data_registry.available(),
             f"config.dataset={config.dataset!r} is unknown; allowed: {', '.join(data_registry.available())}")
    for key in ("batch_size", "num_steps", "log_every", "checkpoint_every", "max_checkpoints"):
        _require(int(config[key]) >= 1, f"config.{key} must be a positive integer, got {config[key]}")
    _require(config.model.encoder in ENCODERS,
             f"config.model.encoder={config.model.encoder!r} is unknown; allowed: {', '.join(ENCODERS)}")
    _require(config.model.likelihood in LIKELIHOODS,
             f"config.model.likelihood={config.model.likelihood!r} is unknown; allowed: {', '.join(LIKELIHOODS)}")
    _require(config.get("distributed", "auto") in ("auto", "on", "off"),
             f"config.distributed={config.get('distributed')!r} is unknown; allowed: auto, on, off")
    for kind, allowed in (("upsample", layers.UPSAMPLE), ("downsample", layers.DOWNSAMPLE)):
        value = config.model.get(kind, "auto")
        _require(value == "auto" or value in allowed,
                 f"config.model.{kind}={value!r} is unknown; allowed: auto, {', '.join(allowed)}")
    noise = config.model.get("salt_and_pepper", 0.0)
    _require(isinstance(noise, (int, float)) and 0.0 <= noise <= 1.0,
             f"config.model.salt_and_pepper must be a fraction in [0, 1], got {noise!r}")
    _require(config.model.latent_dim >= 1, f"config.model.latent_dim must be >= 1, got {config.model.latent_dim}")
    _require(config.optimizer.name in OPTIMIZERS,
             f"config.optimizer.name={config.optimizer.name!r} is unknown; allowed: {', '.join(OPTIMIZERS)}")
    _require(config.optimizer.learning_rate > 0,
             f"config.optimizer.learning_rate must be > 0, got {config.optimizer.learning_rate}")
    for key in ("b1", "b2", "momentum"):
        value = config.optimizer[key]
        _require(0 <= value < 1, f"config.optimizer.{key} must be in [0, 1), got {value}")
    _require(config.optimizer.eps > 0, f"config.optimizer.eps must be > 0, got {config.optimizer.eps}")
    for key in ("grad_clip", "weight_decay"):
        value = config.optimizer[key]
        _require(value >= 0, f"config.optimizer.{key} must be >= 0 (0: none), got {value}")
    for key, empty_ok in (("conv_channels", False), ("hidden", True), ("mlp_hidden", True)):
        value = config.model[key]
        ok = isinstance(value, (tuple, list)) and (empty_ok or len(value) > 0) and all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in value)
        _require(ok, f"config.model.{key} must be a tuple of positive integers"
                     f"{'' if empty_ok else ' (at least one)'}, got {value!r}")
    for key in ("num_viz_images", "traversal_steps"):
        _require(int(config[key]) >= 1, f"config.{key} must be a positive integer, got {config[key]}")
    _require(config.traversal_range > 0, f"config.traversal_range must be > 0, got {config.traversal_range}")
    _require(isinstance(config.seed, int) and config.seed >= 0, f"config.seed must be an integer >= 0, "
                                                                f"got {config.seed!r}")
    methods.check_hyperparameters(config)
    return config


def get(path_or_name: str, overrides: Iterable[str] = ()) -> ml_collections.ConfigDict:
    """Load a config file, apply overrides, validate: what `disentax train` does."""
    return validate(apply_overrides(load_config_file(path_or_name), overrides))


def to_dict(config: ml_collections.ConfigDict) -> dict:
    return config.to_dict()


def with_new_hyperparameters(config: ml_collections.ConfigDict) -> list[str]:
    """Give `config` (a saved run's) the method's hyperparameters declared after it was written, at
    their defaults, in place; returns the dotted keys added.

    A hyperparameter a method gains keeps the old behaviour at its default (e.g.
    `dip_vae_i.covariance="batch"`), so an older run still restores and scores as it trained.
    """
    if not isinstance(config.get("method"), str):
        return []
    try:
        spec = methods.get_spec(config.method)
    except ConfigError:
        return []
    if not spec.hyperparameters or not isinstance(config.get(spec.name), ml_collections.ConfigDict):
        return []
    present = flatten(config[spec.name])
    added = []
    for h in spec.hyperparameters:
        if h.name not in present:
            set_path(config[spec.name], h.name, h.default, create=True)  # with any nested group added with it
            added.append(f"config.{spec.name}.{h.name}")
    return added


def from_dict(values: dict) -> ml_collections.ConfigDict:
    """A config from `config.json` of a run (tuples come back from JSON lists)."""
    def tuples(v):
        if isinstance(v, dict):
            return {k: tuples(x) for k, x in v.items()}
        if isinstance(v, list):
            return tuple(tuples(x) for x in v)
        return v

    return ml_collections.ConfigDict(tuples(json.loads(json.dumps(values))))
