"""The ``mocap3d`` command line.

One click group; each command lives in its own module ``cmd_<name>.py`` in this
package and exposes a ``command`` (a :class:`click.Command`). Modules are
discovered here, so adding a command never means editing this file. Commands
parse arguments, call the library and print a short summary; user errors are
:class:`~mocap3d.errors.MocapError` and become a clean message with exit code 1.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import click

from ..errors import MocapError, describe_os_error, is_disk_full

__all__ = ["main", "cli"]


class _Group(click.Group):
    """A group that turns MocapError and OS errors into a message instead of a traceback, exit code 1."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]
            raise

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
@click.version_option(package_name="mocap3d")
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
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{mod.name}")
            cli.add_command(module.command)


_register()


def main() -> None:
    cli(prog_name="mocap3d")
