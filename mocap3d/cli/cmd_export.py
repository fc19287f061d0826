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
    from ..io.exports import load_any_poses3d, save_any_poses3d
    from ..io.individuals import individual_names_in
    from ..io.outputs import check_output

    inputs = [poses3d, *([align_config] if align_config else [])]
    names = individual_names_in(poses3d)
    if names is not None:
        _export_individuals(poses3d, names, out, inputs, to_format, fps, units, zup, align_config, overwrite)
        return
    check_output(out, inputs, overwrite=overwrite, kinds=["pose3d"])
    poses = load_any_poses3d(poses3d)
    if align_config is not None:
        from ..analysis.alignment import align_poses

        alignment, message = _alignment(align_config)
        poses = align_poses(poses, alignment)
        click.echo(message)
    path = save_any_poses3d(poses, out, fps=fps, units=units, yup=not zup, fmt=to_format)
    click.echo(f"wrote {path} ({poses.n_frames} frames, {len(poses.keypoints)} keypoints)")


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


def _export_individuals(poses3d, names, out, inputs, to_format, fps, units, zup, align_config, overwrite) -> None:
    """Several individuals: one .nc/.h5 with all, or one file per individual (out_<individual>.trc, ...)."""
    from ..errors import MocapError
    from ..io.individuals import ONE_FILE_SUFFIXES, individual_paths, load_individuals, save_individuals
    from ..io.outputs import check_output

    suffix = out.suffix.lower()
    if to_format is not None:
        raise MocapError(f"{poses3d} holds {len(names)} individuals; their output format comes from --out's suffix "
                         "(.nc, .h5: one file; .trc, .c3d, .csv, .nwb: one per individual), so leave out --to.")
    if suffix not in ONE_FILE_SUFFIXES + (".trc", ".c3d", ".csv", ".nwb"):
        raise MocapError(f"--out '{out.name}': end it with .nc or .h5 (every individual in one file) or .trc, .c3d, "
                         ".csv, .nwb (one file per individual).")  # fmt: skip
    for target in sorted(set(individual_paths(out, names).values())):
        check_output(target, inputs, overwrite=overwrite, kinds=["pose3d"])
    individuals = load_individuals(poses3d)
    if align_config is not None:
        from ..analysis.alignment import align_poses

        alignment, message = _alignment(align_config)
        individuals = {n: align_poses(p, alignment) for n, p in individuals.items()}
        click.echo(message)
    written = save_individuals(individuals, out, fps=fps, units=units, yup=not zup)
    first = next(iter(individuals.values()))
    click.echo(f"wrote {', '.join(str(w) for w in written)} ({len(individuals)} individuals, {first.n_frames} "
               f"frames, {len(first.keypoints)} keypoints)")  # fmt: skip
