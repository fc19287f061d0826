"""The command line starts fast: commands load on demand, and `--version` imports no heavy library."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import click
from click.testing import CliRunner

import mocap3d
from mocap3d import cli as cli_package
from mocap3d.cli import COMMANDS, cli


def test_every_command_module_is_listed_and_loads():
    modules = {m.name for m in pkgutil.iter_modules(cli_package.__path__) if m.name.startswith("cmd_")}
    assert set(COMMANDS.values()) == modules, "add the new cmd_*.py module to mocap3d.cli.COMMANDS"
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    assert cli.get_command(ctx, "no-such-command") is None


def test_help_lists_every_command_and_version_is_the_package_version():
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and version.output == f"mocap3d, version {mocap3d.__version__}\n"
    unknown = runner.invoke(cli, ["triangulat"])
    assert unknown.exit_code == 1 and "No such command 'triangulat'" in unknown.output  # usage errors exit 1


def test_version_and_triangulate_help_import_no_heavy_library():
    code = (
        "import sys\n"
        "from mocap3d.cli import cli\n"
        "for args in (['--version'], ['triangulate', '--help']):\n"
        "    try:\n"
        "        cli(args, prog_name='mocap3d')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('scipy', 'pandas', 'cv2', 'torch', 'matplotlib', 'tables', 'h5py') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_package_import_is_light_and_lazy_names_work():
    code = "import sys, mocap3d; print('numpy' in sys.modules); print(mocap3d.CameraRig.__name__, mocap3d.MocapError)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False" and out[1].startswith("CameraRig ")
