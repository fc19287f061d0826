"""The command line starts fast: commands load on demand, and `--version` imports no heavy library."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import click
import numpy as np
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


def test_single_animal_triangulate_imports_no_scipy_or_pandas(tmp_path):
    """A DeepLabCut .h5 -> anipose CSV run reads with h5py and triangulates with numpy: the several-individuals
    check (scipy.optimize) and pandas stay unloaded for single-animal files."""
    from mocap3d.io.calibration import save_calibration
    from mocap3d.io.pose2d import save_dlc
    from mocap3d.poses import Track2D
    from mocap3d.sample import make_rig

    rig = make_rig(n_cameras=3, seed=0)
    X = np.random.default_rng(0).normal(0, 200, (30, 2, 3)) + [0, 0, 900]
    uv = rig.project(X)
    calibration = save_calibration(rig, tmp_path / "calibration.toml")
    files = [str(save_dlc(Track2D(uv[c][:, None], np.ones((30, 1, 2)), ["a", "b"]), tmp_path / f"{name}.h5"))
             for c, name in enumerate(rig.names)]  # fmt: skip
    code = (
        "import sys\n"
        "from mocap3d.cli import main\n"
        f"sys.argv = ['mocap3d', 'triangulate', '--method', 'dlt', '-c', {str(calibration)!r}, "
        f"'-o', {str(tmp_path / 'out.csv')!r}, *{files!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('LOADED', [m for m in ('scipy', 'pandas', 'tables', 'cv2') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out and (tmp_path / "out.csv").stat().st_size > 0
