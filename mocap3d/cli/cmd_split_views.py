"""``mocap3d split-views``: a mirror-box video -> one video per view (cropped, mirrored views flipped back)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("split-views")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--layout", "layout_path", required=True, type=click.Path(path_type=Path),
              help="Layout TOML: one [[view]] table per view with name, box = [x0, y0, width, height] and flip.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the per-view videos cam-<camera>-<view>.<ext>.")
@click.option("--codec", type=click.Choice(["FFV1", "mp4v", "MJPG"]), default="FFV1", show_default=True,
              help="FFV1: lossless .mkv (no loss added to the recording's); mp4v: smaller .mp4.")
@click.option("--overwrite", is_flag=True, default=False, help="Redo views whose videos exist.")
def command(videos, layout_path, out, codec, overwrite) -> None:
    """Split each camera's video into its views, each an ordinary camera for calibrate and analyze.

    A camera that films a scene and one or more mirrors records several views
    in one frame. Each view is cropped from the frame and, for a mirror,
    flipped back, so that it looks like (and is, geometrically) a camera of its
    own: calibrate the views with the board like separate cameras, analyse
    them with a network, and triangulate.

    \b
    Example:
      mocap3d split-views --layout layout.toml --out views/ calib/cam-box.mp4
      mocap3d calibrate --board board.toml --out calibration.toml views/cam-box-*.mkv
    \b
    layout.toml:
      [[view]]
      name = "direct"
      box = [0, 0, 480, 600]
      [[view]]
      name = "mirror"
      box = [480, 0, 320, 600]
      flip = "horizontal"
    """
    from ..nn.mirror import load_layout, split_video

    if not layout_path.is_file():
        raise click.ClickException(f"layout file '{layout_path}' not found; write one [[view]] table per view "
                                   "(see mocap3d split-views --help).")
    layout = load_layout(layout_path)
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        raise click.ClickException(f"video(s) not found: {', '.join(missing)}.")
    from ..io.outputs import check_output_folder

    check_output_folder(out, [*videos, layout_path])
    for video in videos:
        paths = split_video(video, layout, out, codec=codec, overwrite=overwrite, progress=False)
        click.echo(f"{video.name}: " + ", ".join(f"{name} -> {p}" for name, p in paths.items()))
