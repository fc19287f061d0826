"""Check the values of a config table (parsed TOML) against a dataclass's annotations.

The config dataclasses (triangulation, calibration, network, project) take their
tables from TOML files that people write by hand. A wrong type there (``min_cameras
= "2"``, ``score_threshold = "high"``) must give a message that names the setting,
the expected type and the value, rather than a ``TypeError`` from deep inside.
TOML gives integers where floats are meant (``cutoff = 6``), integral floats where
integers are meant (``order = 4.0``) and arrays where tuples are meant; all are
converted. Text is never read as a number or a flag. This is the one coercion of
every config (:func:`mocap3d.config.coerce`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ["checked_values"]


def checked_values(cls: type, table: Mapping[str, Any], where: str, error: type[Exception],
                   skip: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """``table``'s values converted to the types of ``cls``'s fields, or ``error`` naming the first misfit.

    Keys that are not fields of ``cls`` pass through unchanged (the caller
    reports unknown keys in its own words); so do the fields in ``skip`` (which
    the class parses itself) and fields whose annotation this does not know how
    to check (nested configs, paths).
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)} - set(skip)
    out = {}
    for key, value in table.items():
        if key not in fields:
            out[key] = value
            continue
        ok, converted = _convert(hints[key], value)
        if not ok:
            raise error(f"{where}: `{key}` must be {_describe(hints[key])}, got {value!r}.")
        out[key] = converted
    return out


def _convert(hint: Any, value: Any) -> tuple[bool, Any]:
    """(whether ``value`` fits ``hint``, the value converted)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            ok, converted = _convert(option, value)
            if ok:
                return True, converted
        return False, value
    if hint is type(None):
        return value is None, value
    if origin is typing.Literal:
        return value in typing.get_args(hint), value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        if isinstance(value, float) and value.is_integer():  # ``order = 4.0``: the integer it names
            return True, int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_convert(args[0], v) for v in value]
        elif args:
            if len(args) != len(value):
                return False, value
            items = [_convert(a, v) for a, v in zip(args, value, strict=True)]
        else:
            return True, tuple(value)
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if origin is dict:
        return isinstance(value, Mapping), value
    return True, value  # nested configs, paths: their own loaders check them


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # None cannot be written in TOML: leave it out
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of ({_describe(args[0])})"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if origin is dict:
        return "a table"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))
