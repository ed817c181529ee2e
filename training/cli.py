"""A command line generated from the config dataclasses: `--section.key value` for every field."""
# Not jsonargparse/tyro: they drop the valid-keys list, 16,32,64 tuples (experiments/library-cli.md)

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from htr.errors import ConfigError, HTRError


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false)")


def coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a CLI string or YAML value into the field's declared type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return coerce(value, next(a for a in args if a is not type(None)), key)
    try:
        if dataclasses.is_dataclass(hint):
            return from_dict(hint, value if isinstance(value, dict) else _load(value), key)
        if origin in (list, tuple):
            items = _load(value) if isinstance(value, str) and value[:1] in "[{" else value
            if isinstance(items, str):
                items = [x for x in items.split(",") if x.strip()]
            out = [coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(items)]
            return tuple(out) if origin is tuple else out
        if hint is bool:
            return value if isinstance(value, bool) else _parse_bool(str(value))
        return hint(value)
    except ConfigError:
        raise  # already names the innermost key
    except (ValueError, TypeError, yaml.YAMLError) as e:
        raise ConfigError(f"{key}={value!r} is not a valid {_name(hint)}: {e}") from None


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _load(text: str) -> Any:
    return yaml.safe_load(text)


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass `cls` from a nested dict, naming any unknown key and the valid ones."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__} must be a mapping, got {data!r}")
    hints = _hints(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {sorted(unknown)} in {prefix or 'config'}; valid keys: {sorted(hints)}"
        )
    kwargs = {k: coerce(v, hints[k], f"{prefix}.{k}".lstrip(".")) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    """Plain nested dict (YAML/JSON-safe) of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def add_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """One `--prefix.field` option per leaf field of `cls`, recursively."""
    for f in dataclasses.fields(cls):
        hint = _hints(cls)[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hint):
            add_arguments(parser, hint, f"{key}.")
            continue
        if f"--{key}" in parser._option_string_actions:
            continue  # the caller defined this flag itself (e.g. a bare `--resume`)
        parser.add_argument(
            f"--{key}",
            dest=key,
            default=argparse.SUPPRESS,
            metavar=_name(hint),
            help=f"({_name(hint)})",
        )


def apply_overrides(cfg: Any, overrides: dict[str, Any]) -> Any:
    """Set dotted keys on a nested config, re-running each touched dataclass's validation."""
    data = to_dict(cfg)
    for key, value in overrides.items():
        node = data
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return from_dict(type(cfg), data)


def load_yaml(path: Path) -> dict[str, Any]:
    """Flatten a YAML config file to dotted keys."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and not prefix.endswith("sources"):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            flat[prefix] = node

    walk(data, "")
    return flat


def run_command(log: logging.Logger, action: Callable[[], object]) -> int:
    """Run a command's action with logging set up; a caller's mistake exits 2 with its message
    (no traceback), anything else propagates."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        action()
    except HTRError as e:
        log.error("%s", e)
        return 2
    return 0
