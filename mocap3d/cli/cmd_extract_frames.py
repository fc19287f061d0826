"""``mocap3d extract-frames``: pick frames of videos for labelling."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("extract-frames")
@click.argument("videos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "-p", "project_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Project TOML: frames go to its labeled-data/<video stem>/.")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding labeled-data/ (instead of --project).")
@click.option("--n", "n_frames", type=click.IntRange(min=1), default=20, show_default=True, help="Frames per video.")
@click.option("--method", type=click.Choice(["kmeans", "uniform"]), default="kmeans", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def command(videos, project_path, out, n_frames, method, seed) -> None:
    """Write chosen frames as PNGs (imgNNNN.png, DeepLabCut's names) plus frames.csv, per video.

    \b
    Examples:
      mocap3d extract-frames -p openfield/project.toml --n 20 videos/m3v1mp4.mp4
      mocap3d extract-frames -o project/ --method uniform --n 50 videos/cam-*.mp4
    """
    from ..nn.frames import extract_frames
    from ..nn.project import load_project

    if project_path is None and out is None:
        raise click.UsageError("give --project or --out (the folder that holds labeled-data/).")
    if out is not None:
        from ..io.outputs import check_output_folder

        check_output_folder(out, videos)
    root = load_project(project_path).data_root if project_path else out
    for video in videos:
        sel = extract_frames(video, Path(root) / "labeled-data" / video.stem, n_frames, method, seed)
        click.echo(f"{video.name}: {len(sel.images)} frames ({method}) -> {sel.index.parent}")
