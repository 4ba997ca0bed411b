"""Nested configuration: dataclasses that own their fields, read from and written to plain dicts.

Every component owns one config dataclass in its own module (defaults and field docstrings exist
once); larger configs compose them as fields (``SegmenterConfig.lift: LiftConfig``). This module
turns such a tree into dicts (YAML, JSON), dotted flat names (ROS parameters, ``--set`` options)
and back, rejecting unknown keys with the nearest valid one:

    >>> from_dict(SegmenterConfig, {"lift": {"voxel_sise": 0.03}})
    ValueError: config: unknown key 'lift.voxel_sise'; did you mean 'lift.voxel_size'?
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class ConfigField:
    """One leaf field of a config tree, named by its dotted path."""

    name: str
    """Dotted path from the root config, e.g. "lift.voxel_size"."""
    type: Any
    """The field's annotation with ``| None`` removed (bool, int, float, str, tuple, list)."""
    optional: bool
    """The field may be None."""
    default: Any
    """The default value in the root config (None allowed when ``optional``)."""
    doc: str
    """The field's docstring (one paragraph, whitespace collapsed)."""
    choices: tuple = ()
    """The allowed values of a ``Literal[...]`` field (empty: any value of ``type``)."""


def is_config(obj_or_cls) -> bool:
    """True for a dataclass (class or instance)."""
    return dataclasses.is_dataclass(obj_or_cls)


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.lru_cache(maxsize=None)
def field_docs(cls) -> dict[str, str]:
    """Field name -> the string literal written right below the field in the class body (its docstring)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body
        for stmt, after in zip(body, body[1:]):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


def _unwrap_optional(annotation) -> tuple[Any, bool]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _nested_type(annotation) -> type | None:
    """The dataclass type of a nested config field, else None."""
    annotation, _ = _unwrap_optional(annotation)
    return annotation if isinstance(annotation, type) and dataclasses.is_dataclass(annotation) else None


def check_sections(config) -> None:
    """Raise TypeError when a nested config field of ``config`` holds something else (e.g. a name).

    Call from ``__post_init__`` of configs that compose others.
    """
    hints = _hints(type(config))
    for f in dataclasses.fields(config):
        nested = _nested_type(hints[f.name])
        value = getattr(config, f.name)
        if nested is not None and not isinstance(value, nested):
            name = type(config).__name__
            call = f"{name}.from_flat(" if hasattr(type(config), "from_flat") else f"samosaic3d_core.config.from_flat({name}, "
            raise TypeError(
                f"{name}.{f.name} must be a {nested.__name__}, got {value!r}; set one of its "
                f"fields by dotted name instead, e.g. {call}{{'{f.name}.<field>': ...}})"
            )


def leaf_fields(config) -> list[ConfigField]:
    """Every leaf field of a config tree (class or instance), depth first in declaration order.

    Defaults are read from ``config`` when it is an instance, else from a default-constructed one.
    """
    root = config if not isinstance(config, type) else config()
    return list(_leaves(root, ""))


def _leaves(obj, prefix: str):
    cls = type(obj)
    docs, hints = field_docs(cls), _hints(cls)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = prefix + f.name
        if _nested_type(hints[f.name]) is not None:
            yield from _leaves(value, name + ".")
            continue
        annotation, optional = _unwrap_optional(hints[f.name])
        base, choices = _base_type(annotation)
        yield ConfigField(name=name, type=base, optional=optional, default=value, doc=docs.get(f.name, ""),
                          choices=choices)


def _base_type(annotation) -> tuple[Any, tuple]:
    """(plain type, choices) of an annotation: ``Literal["a", "b"]`` -> (str, ("a", "b"))."""
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        return type(choices[0]), choices
    return typing.get_origin(annotation) or annotation, ()


def to_dict(config) -> dict:
    """Nested plain dict of a config tree (tuples become lists, for YAML and JSON)."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)


def from_dict(cls, values: Mapping | None, source: str = "config", base=None):
    """A ``cls`` (dataclass) from a nested dict; keys left out keep ``base``'s values (or the defaults).

    Raises ValueError naming ``source`` and the dotted key for an unknown key (with the nearest
    valid one) or a value of the wrong kind.
    """
    return _build(cls, values or {}, source, "", base)


def _build(cls, values, source: str, prefix: str, base):
    if not isinstance(values, Mapping):
        raise ValueError(f"{source}: '{prefix.rstrip('.') or '<root>'}' must be a mapping, got {values!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            raise ValueError(f"{source}: unknown key '{prefix}{key}'{_suggest(str(key), names, prefix)}")
    kwargs = {}
    for name in names:
        current = getattr(base, name) if base is not None else None
        nested = _nested_type(hints[name])
        if nested is not None:
            if name in values or base is not None:
                kwargs[name] = _build(nested, values.get(name, {}), source, f"{prefix}{name}.", current)
        elif name in values:
            kwargs[name] = coerce(values[name], hints[name], f"{source}: '{prefix}{name}'")
        elif base is not None:
            kwargs[name] = current
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {exc}") from exc


def _suggest(key: str, names: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    if close:
        return f"; did you mean '{prefix}{close[0]}'?"
    return f"; valid keys: {', '.join(names)}"


def coerce(value, annotation, what: str):
    """``value`` as the field type ``annotation`` (int -> float, list -> tuple); ValueError naming ``what``."""
    annotation, optional = _unwrap_optional(annotation)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{what} must not be empty")
    base, choices = _base_type(annotation)
    if choices:
        if value in choices:
            return value
        raise ValueError(f"{what} is {value!r}; expected one of {', '.join(map(repr, choices))}")
    if base is typing.Any:
        return value
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is str:
        if isinstance(value, str):
            return value
    elif base in (tuple, list):
        if isinstance(value, (tuple, list)):
            args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            items = [coerce(v, args[i if i < len(args) else -1], what) if args else v for i, v in enumerate(value)]
            return base(items)
    elif base is dict:
        if isinstance(value, Mapping):
            return dict(value)
    else:
        return value
    raise ValueError(f"{what} must be {getattr(base, '__name__', base)}, got {value!r}")


def from_flat(cls, values: Mapping[str, Any], source: str = "config", base=None):
    """A ``cls`` from dotted names ({"lift.voxel_size": 0.03, ...}); see ``from_dict``."""
    return from_dict(cls, unflatten(values), source, base)


def unflatten(values: Mapping[str, Any]) -> dict:
    """{"a.b": 1, "a.c": 2} -> {"a": {"b": 1, "c": 2}}."""
    tree: dict = {}
    for name, value in values.items():
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"'{name}': '{part}' is a value, not a section")
        node[leaf] = value
    return tree


def flatten(values: Mapping, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_overrides(items: list[str] | None, source: str = "--set") -> dict[str, Any]:
    """["lift.voxel_size=0.03", "masks.source=sim"] -> dotted dict, values read as YAML scalars."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{source} {item!r}: expected NAME=VALUE, e.g. lift.voxel_size=0.03")
        out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
    return out
