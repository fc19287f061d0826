"""One config idiom: the base of every settings dataclass.

Every group of settings (triangulation, calibration, the networks'
model/augment/train tables, input matching) is a frozen dataclass deriving
from :class:`Config` (filter steps are frozen dataclasses read through the
same :func:`coerce`; one of them has a field named ``replace``):

* every default lives in the field's declaration, once; the command line reads
  them from there (:func:`click_options`);
* :meth:`Config.from_dict` reads a hand-written table (parsed TOML): unknown
  keys are an error listing the known ones (with a "did you mean"), values go
  through the one coercion (:func:`coerce`) and a misfit is an error naming the
  key, the expected type and the value, raised as the class's ``error``
  (:mod:`mocap3d.errors`);
* presets are instances (``presets()``); ``preset = "name"`` in a table starts
  from that instance and the table's other keys refine it;
* :meth:`Config.from_toml` reads the class's ``section`` table of a file (or
  the file's top level when it has no such table);
* :meth:`Config.replace` returns a changed copy (checked again), never an edit
  in place.

The coercion is the same for every config: TOML integers are accepted where
numbers are meant (``cutoff = 6``) and integral numbers where integers are
(``order = 4.0``); arrays become tuples; text is never read as a number or a
flag (``min_cameras = "2"`` and ``cutoff = "6"`` are both errors that say so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ._typed import checked_values
from .errors import MocapError

__all__ = ["Config", "coerce", "click_options"]

C = TypeVar("C", bound="Config")


def coerce(cls: type, table: Mapping[str, Any], where: str, error: type[MocapError],
           skip: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """``table``'s values converted to ``cls``'s field types, or ``error`` naming the first key that does not fit.

    The one coercion of every config (see the module's docstring). Keys that
    are not fields, and the fields in ``skip`` (which the class parses itself),
    pass through unchanged.
    """
    return checked_values(cls, table, where, error, skip=skip)


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of the settings dataclasses (subclasses are ``@dataclass(frozen=True)`` too)."""

    #: The TOML table the settings are read from by :meth:`from_toml` ("" = the file's top level).
    section: ClassVar[str] = ""
    #: How messages name one key ("triangulation option", "calibration setting").
    what: ClassVar[str] = "option"
    #: The error raised for a bad table (a :class:`~mocap3d.errors.MocapError`).
    error: ClassVar[type[MocapError]] = MocapError
    #: Fields the class parses itself in ``__post_init__`` (left out of the coercion).
    parsed_by_class: ClassVar[tuple[str, ...]] = ()
    #: Keys of the same table that another config reads (accepted and ignored here).
    shared_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def presets(cls: type[C]) -> Mapping[str, C]:
        """Named instances (``preset = "name"``); none unless the subclass has some."""
        return {}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]

    @classmethod
    def preset(cls: type[C], name: str, source: str = "config") -> C:
        presets = cls.presets()
        if name not in presets:
            raise cls.error(f"{source}: unknown preset '{name}'; choose one of {', '.join(presets)}.")
        return presets[name]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], source: str = "config") -> C:
        """Build from a table; unknown keys and values of the wrong type are errors naming the key."""
        from .settings import key_hints

        data = dict(data)
        base = None
        if "preset" in data and cls.presets() and "preset" not in cls.field_names():
            name = data.pop("preset")
            base = cls.preset(name, source) if name else None
        for key in cls.shared_keys:
            data.pop(key, None)
        names = cls.field_names()
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise cls.error(
                f"{source}: unknown {cls.what}(s) {', '.join(unknown)}{key_hints(unknown, names)}; known: "
                f"{', '.join(sorted(names))}."
            )
        values = coerce(cls, data, source, cls.error, skip=cls.parsed_by_class)
        return dataclasses.replace(base, **values) if base is not None else cls(**values)

    @classmethod
    def table_of(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """The part of a parsed file that holds these settings: the ``section`` table, else the top level."""
        if cls.section and isinstance(data.get(cls.section), Mapping):
            return data[cls.section]
        return data

    @classmethod
    def from_toml(cls: type[C], path: str | Path) -> C:
        """Read the ``section`` table of a TOML file (or its top level when it has none)."""
        from .settings import read_toml

        data = read_toml(Path(path), "config file", cls.error)
        return cls.from_dict(dict(cls.table_of(data)), str(path))

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` (checked again by ``__post_init__``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (tuples as lists, nested configs as tables, None left out)."""

        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        out = {f: getattr(self, f) for f in self.field_names()}
        return {k: (v.to_dict() if isinstance(v, Config) else plain(v)) for k, v in out.items() if v is not None}


def click_options(cls: type[Config], help: Mapping[str, str], *, skip: tuple[str, ...] = (),
                  rename: Mapping[str, str] | None = None,
                  choices: Mapping[str, Sequence[str]] | None = None) -> Callable[[Callable], Callable]:  # fmt: skip
    """Click options for fields of ``cls`` (those in ``help``), with the field's type and its default in the help.

    Every option defaults to ``None`` ("not given"), so that a config file's
    value or a preset is only overridden by what the user typed; the default
    shown is the dataclass's, the one place it is written. Booleans become
    ``--name/--no-name`` flags; ``rename`` maps a field to another flag name;
    ``choices`` lists the values of a text field (a ``Literal`` field's are its own).
    """
    import typing

    import click

    hints = typing.get_type_hints(cls)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    rename = dict(rename or {})
    choices = dict(choices or {})

    def decorate(func: Callable) -> Callable:
        for name in reversed([n for n in help if n not in skip]):
            flag = "--" + rename.get(name, name).replace("_", "-")
            hint = hints[name]
            args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
            kind = args[0]
            default = defaults[name]
            shown = "" if default is dataclasses.MISSING or default is None else f" (default {default})"
            text = help[name] + shown
            if kind is bool:
                func = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=text)(func)
            elif typing.get_origin(kind) is typing.Literal or name in choices:
                values = choices.get(name) or [str(c) for c in typing.get_args(kind)]
                func = click.option(flag, name, type=click.Choice(list(values)), default=None, help=text)(func)
            else:
                click_type = {int: int, float: float}.get(kind, str)
                func = click.option(flag, name, type=click_type, default=None, help=text)(func)
        return func

    return decorate
