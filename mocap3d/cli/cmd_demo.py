"""``mocap3d demo``: the whole job on a rendered recording (videos -> calibration -> network -> 3D), checked
against the truth at every stage."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the videos, the project and the results.")
@click.option("--rig", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Sample rig file ([sample] and [demo] tables; default: the values of sample_rigs/walker.toml).")
@click.option("--quick", is_flag=True, default=False,
              help="A short run: 640x512 frames, 60 frames, a short training (about a minute; for tests).")
@click.option("--preset", default=None, help="2D network preset [default: lite0].")
@click.option("--iterations", type=int, default=None, help="Training iterations [default: 2500; 300 with --quick].")
@click.option("--labels", "labels", type=click.IntRange(1, 50), default=None,
              help="Frames labelled per camera (from the truth) [default: 40].")
@click.option("--frames", "n_frames", type=click.IntRange(30, None), default=None,
              help="Frames of the walker per camera [default: 300].")
@click.option("--no-network", is_flag=True, default=False,
              help="Skip labelling, training and analysis: use the true 2D points plus 1.5 px noise (checks the "
              "calibration and the 3D stages alone).")
@click.option("--from-2d", "from_2d", is_flag=True, default=False,
              help="Skip videos and the network: triangulate generated 2D files (DLT vs robust, a few seconds).")
@click.option("--format", "fmt", type=click.Choice(["dlc", "sleap", "openpose"]), default="dlc", show_default=True,
              help="With --from-2d: format of the generated 2D files.")
def command(out: Path, rig: Path | None, quick: bool, preset: str | None, iterations: int | None,
            labels: int | None, n_frames: int | None, no_network: bool, from_2d: bool, fmt: str) -> None:
    """Film the sample rig (a ChArUco board and a walking subject, rendered through 4 real lenses), then
    calibrate, label, train, analyse, triangulate, filter, measure angles and gait, export and render, each
    stage printing its verdict and its error against the ground truth.

    \b
    Examples:
      mocap3d demo --out demo-output
      mocap3d demo --quick --out demo-quick
      mocap3d demo --from-2d --out demo-2d        # the triangulation part alone, from 2D files
    """
    from ..io.outputs import check_output_folder

    check_output_folder(out, [rig] if rig else [])
    if from_2d:
        from ..demo_2d import run_demo_2d

        for line in run_demo_2d(out, rig, fmt):
            click.echo(line)
        return
    import sys

    from ..demo import load_demo_config, run_demo

    cfg = load_demo_config(rig, quick=quick, preset=preset, iterations=iterations, labels_per_camera=labels,
                           n_frames=n_frames, network=False if no_network else None)  # fmt: skip
    run_demo(out, cfg, echo=click.echo, progress=sys.stderr.isatty())
