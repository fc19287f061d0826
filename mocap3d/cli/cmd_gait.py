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
    from ..analysis.gait import GaitConfig, analyze_gait, save_gait
    from ..io.exports import load_any_poses3d
    from ..io.individuals import individual_names_in, load_individuals
    from ..io.outputs import check_output, check_output_folder

    check_output_folder(out, [poses3d])
    names = individual_names_in(poses3d)
    # one individual: <stem>_events.csv...; several: <stem>_<individual>_events.csv...
    stems = {"": poses3d.stem} if names is None else {n: f"{poses3d.stem}_{n}" for n in names}
    for stem in stems.values():
        for name in ("events.csv", "strides.csv", "summary.csv"):
            check_output(out / f"{stem}_{name}", [poses3d], overwrite=overwrite, kinds=["table"])
        check_output(out / f"{stem}.png", [poses3d], overwrite=overwrite, kinds=["image"])
    individuals = {"": load_any_poses3d(poses3d)} if names is None else load_individuals(poses3d)
    split = (lambda s: tuple(p.strip() for p in s.split(",")) if s else None)  # noqa: E731
    config = GaitConfig(up=up, left=split(left), right=split(right))
    for poses in individuals.values():
        if fps is not None:
            poses.fps = fps
    results = {who: analyze_gait(poses, config) for who, poses in individuals.items()}  # all, before any write
    for who, result in results.items():
        paths = save_gait(result, out, stem=stems[who], units=units)
        n = result.events.groupby("event").size().to_dict()
        click.echo(f"{who + ': ' if who else ''}{n.get('strike', 0)} foot strikes, {n.get('off', 0)} toe offs, "
                   f"{len(result.strides)} strides")  # fmt: skip
        s = result.summary["all"]
        click.echo(f"speed {s['speed']:.0f} {units}/s, cadence {s['cadence']:.1f} steps/min, stride "
                   f"{s['stride_length']:.0f} {units} in {s['stride_time']:.3f} s, "
                   f"stance {100 * s['stance_fraction']:.1f}%")
        for p in paths:
            click.echo(f"wrote {p}")
