"""Reading settings files (TOML, DeepLabCut's YAML) at the boundary: every problem becomes one sentence.

* :func:`read_toml` turns the TOML parser's own exceptions (including the
  ``IndexError``/``ValueError`` that ``toml`` raises on some malformed arrays)
  into a message naming the file and the line, and refuses binary files.
* :func:`check_tables` makes an unknown table an error with a did-you-mean
  (``[triangulaton]`` -> ``[triangulation]``), and a table given as a number
  or a list an error that shows the right layout.
* :func:`read_yaml` refuses binary files, huge files and alias bombs.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .errors import MocapError

__all__ = ["read_toml", "check_tables", "did_you_mean", "key_hints", "read_yaml", "SettingsError", "CONFIG_TABLES",
           "CONFIG_ARRAYS"]

#: Tables any settings file that mocap3d reads may hold: a project's config.toml, anipose's config.toml
#: (whose [labeling], [manual_verification], [pipeline]... tables are other programs' and are not read).
CONFIG_TABLES = frozenset({"project", "calibration", "network", "sync", "triangulation", "angles", "export", "filter",
                           "labeling", "manual_verification", "pipeline", "cameras", "sample", "board"})
#: Arrays of tables (one table per step).
CONFIG_ARRAYS = frozenset({"filter2d", "filter3d"})

#: Settings files are small; anything larger is not one (a video given by mistake, say).
MAX_SETTINGS_BYTES = 16 << 20


class SettingsError(MocapError):
    """A settings file that cannot be read, or that names unknown tables."""


def did_you_mean(name: str, known: Collection[str], arrays: Collection[str] = ()) -> str:
    """`` (did you mean [x]?)`` for the closest known name (``[[x]]`` for arrays of tables), or ``""``."""

    def shown(k: str) -> str:
        return f"[[{k}]]" if k in arrays else f"[{k}]"

    everything = sorted(set(known) | set(arrays))
    lower = {k.lower(): k for k in everything}
    if name.lower() in lower:
        return f" (did you mean {shown(lower[name.lower()])}? names are case-sensitive)"
    close = difflib.get_close_matches(name, everything, n=1, cutoff=0.6)
    return f" (did you mean {shown(close[0])}?)" if close else ""


def key_hints(unknown: Collection[str], known: Collection[str]) -> str:
    """`` (did you mean 'method'?)`` for the unknown keys that are near a known one (typos), or ``""``."""
    lower = {k.lower(): k for k in known}
    pairs = []
    for name in unknown:
        match = lower.get(str(name).lower()) or next(iter(difflib.get_close_matches(str(name), list(known), n=1,
                                                                                      cutoff=0.6)), None)
        if match is not None:
            pairs.append(f"'{match}'" if len(unknown) == 1 else f"'{match}' for '{name}'")
    return f" (did you mean {', '.join(pairs)}?)" if pairs else ""


def _read_text(path: Path, what: str, error: type[MocapError]) -> str:
    if not path.exists():
        raise error(f"{what} '{path}' does not exist.")
    if path.is_dir():
        raise error(f"{what} '{path}' is a folder; give the file itself.")
    if path.stat().st_size > MAX_SETTINGS_BYTES:
        raise error(f"{what} '{path}' is {path.stat().st_size >> 20} MB, too large for a settings file; "
                    "is it the right file?")  # fmt: skip
    data = path.read_bytes()
    if b"\0" in data[:65536]:
        raise error(f"{what} '{path}' is a binary file, not a text settings file; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[:4096]
        if sum(b < 9 or 13 < b < 32 for b in head) > 0.02 * len(head):
            raise error(f"{what} '{path}' is a binary file, not a text settings file; is it the right file?") from None
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{what} '{path}' is not UTF-8 text (line {line}); save it as UTF-8.") from None


def _failing_line(text: str, kind: type[BaseException]) -> int | None:
    """The first line at which parsing the file's beginning raises ``kind`` (the parser does not say)."""
    import toml

    lines = text.splitlines(keepends=True)
    if len(lines) > 2000:  # each try parses the beginning again: not for long files
        return None
    for n in range(1, len(lines) + 1):
        try:
            toml.loads("".join(lines[:n]))
        except kind:
            return n
        except Exception:  # noqa: BLE001 - an incomplete construct; read further
            continue
    return None


def read_toml(path: str | Path, what: str = "settings file", error: type[MocapError] = SettingsError) -> dict:
    """Parse a TOML file; any problem is ``error`` with one sentence naming the file and the line."""
    import toml

    path = Path(path)
    text = _read_text(path, what, error)
    try:
        data = toml.loads(text)
    except toml.TomlDecodeError as exc:
        msg = str(getattr(exc, "msg", exc))
        raise error(f"{what} '{path}' is not valid TOML: {msg} (line {exc.lineno}, column {exc.colno}).") from None
    except Exception as exc:  # noqa: BLE001 - toml raises IndexError, ValueError... on some malformed values
        line = _failing_line(text, type(exc))
        where = f" at line {line}" if line else ""
        shown = f": {text.splitlines()[line - 1].strip()[:80]}" if line else ""
        raise error(
            f"{what} '{path}' is not valid TOML{where}{shown} (the TOML reader failed with "
            f"{type(exc).__name__}); check the brackets and commas of that value."
        ) from None
    return data


def check_tables(
    data: Mapping[str, Any], known: Collection[str], source: str, *, arrays: Collection[str] = (),
    ignore: Collection[str] = (), scalar_ok: Collection[str] = ("project",), error: type[MocapError] = SettingsError,
) -> None:  # fmt: skip
    """Unknown tables are errors with a did-you-mean; known ones must be tables (``arrays``: arrays of tables).

    Only the file's tables and arrays of tables are checked: top-level ``key = value``
    settings belong to the caller. ``ignore``: tables other programs keep in the same
    file, accepted and not read. ``scalar_ok``: names that may also be a plain value
    (anipose's ``project = "name"`` beside mocap3d's ``[project]`` table).
    """
    for name, value in data.items():
        is_table = isinstance(value, Mapping)
        is_array = isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)
        if name in known or name in arrays:
            if name in scalar_ok and not isinstance(value, (Mapping, list)):
                continue
            if name in arrays and not (is_array or is_table):
                raise error(f"{source}: [[{name}]] must be one or more tables ([[{name}]] on its own line, then "
                            f"key = value lines), not {type(value).__name__} {value!r:.60}.")  # fmt: skip
            if name in known and name not in arrays and not is_table:
                raise error(f"{source}: [{name}] must be a table ([{name}] on its own line, then key = value lines), "
                            f"not {'a list' if isinstance(value, list) else type(value).__name__} {value!r:.60}.")
            continue
        if name in ignore or not (is_table or is_array):
            continue
        everything = sorted(set(known) | set(arrays))
        brackets = f"[[{name}]]" if is_array else f"[{name}]"
        raise error(f"{source}: unknown table {brackets}{did_you_mean(name, known, arrays)}; known tables: "
                    f"{', '.join(everything)}.")  # fmt: skip


#: YAML aliases (``*name``) accepted in one file: DeepLabCut's config.yaml has none, an alias bomb has many
#: (each level multiplies what a reader that walks the values must go through).
MAX_YAML_ALIASES = 10


def read_yaml(path: str | Path, what: str = "config.yaml", error: type[MocapError] = SettingsError) -> Any:
    """Parse a YAML file safely; binary files, malformed YAML and alias bombs are ``error`` with a sentence."""
    import yaml

    path = Path(path)
    text = _read_text(path, what, error)

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent, index):  # type: ignore[override]
            if self.check_event(yaml.AliasEvent):
                Loader.aliases += 1
                if Loader.aliases > MAX_YAML_ALIASES:
                    raise error(f"{what} '{path}' uses more than {MAX_YAML_ALIASES} YAML aliases "
                                "(*name); a DeepLabCut config.yaml has none, is it the right file?")  # fmt: skip
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{what} '{path}' is not valid YAML{where}: {problem}.") from None
    except RecursionError:
        raise error(f"{what} '{path}' is nested too deeply to be a settings file.") from None
