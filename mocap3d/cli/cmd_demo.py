"""``mocap3d demo``: the sample rig end to end (generate, triangulate, compare with the truth)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the sample files and results.")
@click.option("--rig", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Sample parameters (TOML [sample] table; default: sample_rigs/walker.toml's values).")
@click.option("--format", "fmt", type=click.Choice(["dlc", "sleap", "openpose"]), default="dlc", show_default=True,
              help="Format of the sample's 2D files.")
def command(out: Path, rig: Path | None, fmt: str) -> None:
    """Generate the bundled sample rig, triangulate it and compare with the ground truth.

    \b
    Example:
      mocap3d demo --out demo-output
    """
    from ..demo import run_demo
    from ..io.outputs import check_output_folder

    check_output_folder(out, [rig] if rig else [])

    report = run_demo(out, rig, fmt)
    for line in report:
        click.echo(line)
