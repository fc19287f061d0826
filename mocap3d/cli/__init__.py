"""The ``mocap3d`` command line.

One click group; each command lives in its own module ``cmd_<name>.py`` in this
package and exposes a ``command`` (a :class:`click.Command`). The group loads a
command's module only when that command runs (or ``--help`` lists them all), so
``mocap3d --version`` and each command start without importing the others'
libraries: adding a command is its module plus one line in :data:`COMMANDS`
(a test checks that every ``cmd_*.py`` is listed). Commands parse arguments,
call the library and print a short summary; user errors are
:class:`~mocap3d.errors.MocapError` and become a clean message with exit code 1.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from .. import __version__
from ..errors import MocapError, describe_os_error, is_disk_full

__all__ = ["main", "cli", "COMMANDS"]

#: Command name -> module in this package that defines it (as ``command``).
COMMANDS = {
    "analyze": "cmd_analyze",
    "angles": "cmd_angles",
    "board": "cmd_board",
    "calibrate": "cmd_calibrate",
    "demo": "cmd_demo",
    "evaluate": "cmd_evaluate",
    "export": "cmd_export",
    "export-onnx": "cmd_export_onnx",
    "extract-frames": "cmd_extract_frames",
    "filter-2d": "cmd_filter2d",
    "filter-3d": "cmd_filter3d",
    "gait": "cmd_gait",
    "label": "cmd_label",
    "new-project": "cmd_new_project",
    "outliers": "cmd_outliers",
    "overlay": "cmd_overlay",
    "project": "cmd_project",
    "run": "cmd_run",
    "split-views": "cmd_split_views",
    "sync": "cmd_sync",
    "train": "cmd_train",
    "triangulate": "cmd_triangulate",
    "view": "cmd_view",
}


class _Group(click.Group):
    """A group that loads commands on demand and turns MocapError and OS errors into a message instead of a
    traceback, exit code 1."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"{__name__}.{COMMANDS[cmd_name]}")
            self.add_command(module.command, cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MocapError as exc:
            raise click.ClickException(str(exc)) from None
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # the README promises exit code 1 for every mistake
            raise
        except Exception as exc:  # permission denied, a full disk (HDF5 has its own types), a missing folder
            if isinstance(exc, OSError) or is_disk_full(exc):
                raise click.ClickException(describe_os_error(exc)) from None
            raise
        except KeyboardInterrupt:
            click.echo("interrupted; completed outputs are kept, a re-run resumes.", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mocap3d")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """mocap3d: markerless 3D motion capture from several cameras.

    \b
    Typical session:
      mocap3d demo                      # sample rig end to end
      mocap3d calibrate --board board.toml --out calibration.toml cam-*.mp4
      mocap3d triangulate --calibration calibration.toml --out pose3d.csv pose-2d/*.h5
    """
    level = logging.WARNING - 10 * verbose
    handler = logging.StreamHandler()
    handler.setFormatter(SentenceFormatter(technical=verbose > 0))
    logging.basicConfig(level=max(level, logging.DEBUG), handlers=[handler])
    if not verbose:
        import warnings

        warnings.formatwarning = _warning_sentence  # type: ignore[assignment]


def as_sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop."""
    text = text.strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if not text or text.endswith((".", "!", "?", ":")) else text + "."


class SentenceFormatter(logging.Formatter):
    """Log records as the CLI's other messages: ``Warning: The thing happened; do this.`` (no logger names);
    ``technical`` (``-v``): ``LEVEL logger: message`` for debugging."""

    def __init__(self, technical: bool = False) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if technical else "%(message)s")
        self.technical = technical

    def format(self, record: logging.LogRecord) -> str:
        if self.technical:
            return super().format(record)
        prefix = {"WARNING": "Warning: ", "ERROR": "Error: ", "CRITICAL": "Error: "}.get(record.levelname, "")
        return prefix + as_sentence(record.getMessage())


def _warning_sentence(message, category, filename, lineno, line=None) -> str:
    return f"Warning: {as_sentence(str(message))}\n"


def main() -> None:
    cli(prog_name="mocap3d")
