"""``mocap3d export``: convert 3D poses to TRC, C3D, netCDF (movement), anipose CSV or HDF5."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import FPS, overwrite_option


@click.command("export")
@click.argument("poses3d", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file; the suffix picks the format: .trc .c3d .nc .nwb .csv .h5")
@click.option("--to", "to_format", default=None,
              help="Output format, whatever the suffix: trc, c3d, netcdf, nwb, anipose-csv, mocap3d-h5.")
@click.option("--fps", type=FPS, default=None, help="Frame rate (required by TRC/C3D when the input has none).")
@click.option("--units", default=None,
              help="Length unit of the output (mm, cm, m): converts from the input's units, or names them when the "
                   "input does not say (default: the input's).")
@click.option("--zup", is_flag=True, default=False, help="TRC: keep the world's Z-up axes instead of OpenSim's Y-up.")
@click.option("--align", "align_config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Align first with the axes/reference_point of this TOML's [triangulation] table (anipose); "
                   "an anipose project's config.toml aligns exactly as anipose does.")
@overwrite_option("Replace the output if it exists.")
def command(poses3d, out, to_format, fps, units, zup, align_config, overwrite) -> None:
    """Write 3D poses in a format biomechanics and analysis tools read.

    TRC is laid out as Pose2Sim writes it, OpenSim-readable (NaN for gaps; Y-up unless --zup, declared in the
    file; TRC inputs are read with the axes they declare, Y-up when they declare none), C3D through ezc3d,
    .nc as the `movement` package loads poses, .nwb with ndx-pose, .csv as anipose's pose-3d files (with the
    alignment's M_ and center_ columns). Units come from the input (never guessed).

    \b
    Examples:
      mocap3d export pose-3d/walk.csv --out walk.trc --fps 60
      mocap3d export pose-3d/walk.csv --out walk.c3d
      mocap3d export pose-3d/walk.h5 --out walk.nc
      mocap3d export pose-3d/walk.h5 --align config.toml --out walk-aligned.csv
    """
    from ..errors import MocapError
    from ..io.exports import load_any_poses3d, save_any_poses3d
    from ..io.outputs import check_output
    from ..io.settings import CONFIG_ARRAYS, CONFIG_TABLES, check_tables, read_toml

    check_output(out, [poses3d, *([align_config] if align_config else [])], overwrite=overwrite, kinds=["pose3d"])
    poses = load_any_poses3d(poses3d)
    if align_config is not None:
        from ..analysis.alignment import AlignmentConfig, align_poses
        from ..pipeline.anipose_project import is_anipose_config

        data = read_toml(align_config, "alignment config", MocapError)
        anipose = is_anipose_config(data)  # anipose's own frame convention (see mocap3d.analysis.alignment)
        if not anipose:
            check_tables(data, CONFIG_TABLES, str(align_config), arrays=CONFIG_ARRAYS, error=MocapError)
        tri = data.get("triangulation", {})
        if not isinstance(tri, dict):
            raise MocapError(f"{align_config}: [triangulation] must be a table holding axes and reference_point.")
        poses = align_poses(poses, AlignmentConfig.from_anipose(tri, "anipose" if anipose else "mocap3d"))
        click.echo(f"aligned to axes {tri.get('axes')} with origin {tri.get('reference_point')}")
    path = save_any_poses3d(poses, out, fps=fps, units=units, yup=not zup, fmt=to_format)
    click.echo(f"wrote {path} ({poses.n_frames} frames, {len(poses.keypoints)} keypoints)")
