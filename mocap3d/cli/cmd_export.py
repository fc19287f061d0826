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
    alignment's M_ and center_ columns). Units come from the input (never guessed). A file of several
    individuals (`triangulate --individuals`) goes to one .nc/.h5, or to one .trc/.c3d/.csv/.nwb per
    individual (walk.trc -> walk_individual_0.trc, walk_individual_1.trc...).

    \b
    Examples:
      mocap3d export pose-3d/walk.csv --out walk.trc --fps 60
      mocap3d export pose-3d/walk.csv --out walk.c3d
      mocap3d export pose-3d/walk.h5 --out walk.nc
      mocap3d export pose-3d/walk.h5 --align config.toml --out walk-aligned.csv
    """
    from ..analysis.export_stage import ExportStageConfig, export_outputs, run
    from ..io.outputs import check_output

    alignment = None
    if align_config is not None:
        for target in export_outputs(poses3d, out):  # the alignment file is an input too
            check_output(target, [poses3d, align_config], overwrite=True, kinds=["pose3d"])
        alignment, message = _alignment(align_config)
        click.echo(message)
    config = ExportStageConfig(fmt=to_format, fps=fps, units=units, trc_yup=not zup, alignment=alignment)
    run(config, [poses3d], out, overwrite=overwrite, report=click.echo)


def _alignment(align_config: Path):
    """The alignment of ``--align``'s [triangulation] axes and reference_point (anipose's convention for its
    own config.toml), and the line that says so."""
    from ..analysis.alignment import AlignmentConfig
    from ..errors import MocapError
    from ..io.settings import CONFIG_ARRAYS, CONFIG_TABLES, check_tables, read_toml
    from ..pipeline.anipose_project import is_anipose_config

    data = read_toml(align_config, "alignment config", MocapError)
    anipose = is_anipose_config(data)  # anipose's own frame convention (see mocap3d.analysis.alignment)
    if not anipose:
        check_tables(data, CONFIG_TABLES, str(align_config), arrays=CONFIG_ARRAYS, error=MocapError)
    tri = data.get("triangulation", {})
    if not isinstance(tri, dict):
        raise MocapError(f"{align_config}: [triangulation] must be a table holding axes and reference_point.")
    message = f"aligned to axes {tri.get('axes')} with origin {tri.get('reference_point')}"
    return AlignmentConfig.from_anipose(tri, "anipose" if anipose else "mocap3d"), message
