"""``mocap3d analyze``: 2D keypoints of videos with a trained network (DeepLabCut .h5/.csv out)."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import device_callback, overwrite_option


@click.command("analyze")
@click.argument("videos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "-p", "project_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Project TOML (body parts, skeleton, p-cutoff, its network); without it, --model's own.")
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Network file, or its folder (default: the project's models/<name>/model.pt).")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: beside each video).")
@click.option("--backend", type=click.Choice(["auto", "torch", "onnx"]), default="auto", show_default=True,
              help="onnx: ONNX Runtime on the CPU (model.onnx beside the model, exported when missing; about 6x "
                   "torch's frames/s); auto: onnx on the CPU when the model folder is writable, else torch.")
@click.option("--device", default="cpu", show_default=True, callback=device_callback,
              help="torch device, e.g. cuda:0.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Frames per network call.")
@click.option("--labelled-video", is_flag=True, default=False, help="Also write <video>_<scorer>_labeled.mp4.")
@click.option("--no-csv", is_flag=True, default=False, help="Write only the .h5.")
@overwrite_option("Redo videos whose output exists (never an input, never a file of another kind).")
def command(videos, project_path, model_path, out, backend, device, batch_size, labelled_video, no_csv,
            overwrite) -> None:
    """Write <video>_<scorer>.h5 (+ .csv) per video in DeepLabCut's layout; mocap3d triangulate reads them as is.

    Videos analysed before (their .h5 exists) are skipped unless --overwrite.

    \b
    Examples:
      mocap3d analyze -p openfield/project.toml videos/m3v1mp4.mp4 --labelled-video
      mocap3d analyze -p rig/project.toml --backend onnx -o pose-2d/ videos/cam-*.mp4
    """
    from ..nn.analyze_stage import AnalyzeInputs, AnalyzeStageConfig, run

    config = AnalyzeStageConfig(model=model_path, backend=backend, device=device, batch_size=batch_size,
                                labelled_video=labelled_video, save_csv=not no_csv)  # fmt: skip
    # without --out, each folder's videos are analysed into that folder
    folders: dict[Path, list[Path]] = {}
    for video in videos:
        folders.setdefault(out if out is not None else video.parent, []).append(video)
    for folder, group in folders.items():
        run(config, AnalyzeInputs(tuple(group), project_path), folder, overwrite=overwrite, report=click.echo)
