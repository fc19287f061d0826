"""``mocap3d gait``: gait events and spatiotemporal parameters, to CSV tables and a PNG."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import FPS, overwrite_option


@click.command("gait")
@click.argument("poses3d", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder for <name>_events.csv, _strides.csv, _summary.csv and <name>.png.")
@click.option("--up", default="z", show_default=True, help="World axis pointing up (x, y, z, -y...).")
@click.option("--left", default=None, help="Left foot keypoints, comma-separated (default: found by name).")
@click.option("--right", default=None, help="Right foot keypoints, comma-separated (default: found by name).")
@click.option("--fps", type=FPS, default=None, help="Frame rate when the file has none.")
@click.option("--units", default="mm", show_default=True, help="Length unit of the points (for labels).")
@overwrite_option("Replace the tables and the picture if they exist.")
def command(poses3d, out, up, left, right, fps, units, overwrite) -> None:
    """Detect foot strikes and toe offs and compute strides, steps, cadence, speed, stance/swing and symmetry.

    Needs heel/toe (or ankle) keypoints of both feet and a known up axis (Z-up by default; TRC files, Y-up
    as OpenSim wants them, are turned back into the Z-up world when read). A file of several individuals
    (.h5/.nc from `triangulate --individuals`) is analysed individual by individual:
    <name>_<individual>_events.csv, ... and <name>_<individual>.png.

    \b
    Examples:
      mocap3d gait pose-3d/walk.csv --out gait/
      mocap3d gait walk.trc --left LHeel,LBigToe,LAnkle --right RHeel,RBigToe,RAnkle --out gait/
    """
    from ..analysis.gait import GaitConfig
    from ..analysis.gait_stage import GaitStageConfig, run

    split = (lambda s: tuple(p.strip() for p in s.split(",")) if s else None)  # noqa: E731
    config = GaitStageConfig(gait=GaitConfig(up=up, left=split(left), right=split(right)), fps=fps, units=units)
    run(config, [poses3d], out, overwrite=overwrite, report=click.echo)
