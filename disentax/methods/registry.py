"""Method registry: names -> `MethodSpec`, from this package and from other installed packages.

A package adds methods without changing disentax by naming `MethodSpec` objects in the entry-point
group `disentax.methods` of its `pyproject.toml`:

    [project.entry-points."disentax.methods"]
    my_vae = "my_package.my_module:SPEC"

They are loaded the first time a name is looked up that this package does not define, or when all
methods are listed.
"""
from __future__ import annotations

import importlib.metadata
import math
from typing import Any

import ml_collections

from disentax.errors import ConfigError
from disentax.methods.contract import Hyperparameter, Method, MethodSpec

ENTRY_POINT_GROUP = "disentax.methods"

_SPECS: dict[str, MethodSpec] = {}
_PLUGIN_ERRORS: dict[str, str] = {}
_plugins_loaded = False


def register(spec: MethodSpec) -> MethodSpec:
    """Add `spec` to the registry (a later registration of the same name replaces it)."""
    if not isinstance(spec, MethodSpec):
        raise TypeError(f"register() takes a MethodSpec, got {type(spec).__name__}")
    _SPECS[spec.name] = spec
    return spec


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _SPECS:
            continue
        try:
            spec = ep.load()
        except Exception as e:  # a broken plugin must not break the other methods; its name says why
            _PLUGIN_ERRORS[ep.name] = f"plugin {ep.value!r} failed to load: {type(e).__name__}: {e}"
            continue
        if not isinstance(spec, MethodSpec) or spec.name != ep.name:
            _PLUGIN_ERRORS[ep.name] = (f"plugin {ep.value!r} must name a MethodSpec called {ep.name!r}, "
                                       f"got {type(spec).__name__}")
            continue
        register(spec)


def available() -> list[str]:
    """Names of every registered method, plugins included."""
    _load_plugins()
    return sorted(_SPECS)


def get_spec(name: str) -> MethodSpec:
    """The spec called `name`; a one-line ConfigError lists the others."""
    if name not in _SPECS:
        _load_plugins()
    if name in _PLUGIN_ERRORS:
        raise ConfigError(f"method {name!r}: {_PLUGIN_ERRORS[name]}")
    if name not in _SPECS:
        raise ConfigError(f"config.method={name!r} is unknown; allowed: {', '.join(available())}")
    return _SPECS[name]


def build(config: ml_collections.ConfigDict, dataset: Any) -> Method:
    """Build the method `config.method` for `dataset` (a dataset object, see `disentax.data`)."""
    method = get_spec(config.method).build(config, dataset)
    if not isinstance(method, Method):
        raise TypeError(f"method {config.method!r}: its build() returned {type(method).__name__}, not a Method")
    return method


# ----------------------------------------------------------------------------- checking a config


def _type_name(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, tuple):
        return "a tuple"
    return f"a {type(default).__name__}"


def _typed(h: Hyperparameter, value: Any, where: str) -> Any:
    """`value` as the type of `h.default`, or a ConfigError naming `where` (and the check's words)."""
    d = h.default
    what = _type_name(d) if h.check is None or isinstance(d, (int, float)) else h.check.allowed
    bad = ConfigError(f"{where} must be {what}, got {value!r}")
    if isinstance(d, bool):
        if not isinstance(value, bool):
            raise bad
    elif isinstance(d, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise bad
        value = int(value)
    elif isinstance(d, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise bad
        value = float(value)
    elif isinstance(d, tuple):
        if isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, tuple):
            raise bad
    elif isinstance(d, str):
        if not isinstance(value, str):
            raise bad
    return value


def check_hyperparameters(config: ml_collections.ConfigDict) -> None:
    """The method's group `config[config.method]`: every declared key present, typed and in range,
    no other key in it, no group of another method beside it, then the method's own `check`."""
    spec = get_spec(config.method)
    name = spec.name
    declared = {h.name: h for h in spec.hyperparameters}
    for other in config.keys():
        if other != name and other in _SPECS and isinstance(config[other], ml_collections.ConfigDict):
            raise ConfigError(f"config.{other} holds parameters of method {other!r}, but config.method={name!r}; "
                              f"its parameters go under config.{name}")
    if declared and name not in config:
        raise ConfigError(f"config.{name} is missing: method {name!r} needs its parameters there "
                          f"({', '.join(declared)}); start the config from base_config({name!r})")
    if not declared:
        if name in config and len(config[name]):
            raise ConfigError(f"method {name!r} has no parameters, but config.{name} holds {', '.join(config[name])}")
        if spec.check is not None:
            spec.check(config)
        return
    group = config[name]
    if not isinstance(group, ml_collections.ConfigDict):
        raise ConfigError(f"config.{name} must be the group of method {name!r}'s parameters, got {group!r}")
    present = flatten(group)
    for key in present:
        if key not in declared:
            raise ConfigError(f"unknown config key 'config.{name}.{key}'; method {name!r} has: {', '.join(declared)}")
    for key, h in declared.items():
        where = f"config.{name}.{key}"
        if key not in present:
            raise ConfigError(f"{where} is required by method {name!r} (default {h.default!r})")
        value = _typed(h, present[key], where)
        if h.check is not None and not h.check.test(value):
            raise ConfigError(f"{where} must be {h.check.allowed}, got {value!r}")
        if type(value) is not type(present[key]):  # e.g. an int given for a float default
            set_path(group, key, value)
    if spec.check is not None:
        spec.check(config)


def flatten(group, prefix: str = "") -> dict:
    """{dotted key: value} of a (nested) ConfigDict or dict."""
    out = {}
    for k in group.keys():
        v = group[k]
        if isinstance(v, (ml_collections.ConfigDict, dict)):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def set_path(group: ml_collections.ConfigDict, dotted: str, value: Any, create: bool = False) -> None:
    """`group.a.b = value` for `dotted` = "a.b"; a missing group on the way is a one-line ConfigError,
    or, with `create`, made empty."""
    *path, leaf = dotted.split(".")
    node = group
    for part in path:
        if part not in node:
            if not create:
                raise ConfigError(f"unknown config key 'config.{dotted}'")
            with node.unlocked():
                node[part] = ml_collections.ConfigDict()
        node = node[part]
    with node.unlocked():
        node[leaf] = value


def need(config: ml_collections.ConfigDict, key: str, ok: bool, what: str) -> None:
    """For a method's `check`: raise `config.<method>.<key> must be <what>, got <value>` unless `ok`."""
    if not ok:
        value = flatten(config[config.method]).get(key)
        raise ConfigError(f"config.{config.method}.{key} must be {what}, got {value!r}")


__all__ = ["ENTRY_POINT_GROUP", "available", "build", "check_hyperparameters", "flatten", "get_spec", "need", "register", "set_path"]
