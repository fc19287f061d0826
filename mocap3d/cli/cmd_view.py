"""``mocap3d view``: the 3D viewer, interactive or rendered offscreen to PNG/MP4."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ._params import FPS, overwrite_option


def has_display() -> bool:
    """Whether a window can be opened: always on Windows and macOS, with X11 or Wayland elsewhere."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@click.command("view")
@click.argument("poses3d", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--calibration", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="calibration.toml: draw the cameras as frusta with their names.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Render offscreen to a .png (one frame) or .mp4 (all frames) instead of opening a window.")
@click.option("--frame", type=click.IntRange(min=0), default=0, show_default=True,
              help="Frame to show first / to render to PNG (0-based, as every command and DeepLabCut count).")
@click.option("--camera", default=None, help="Render from this calibrated camera's viewpoint (needs --calibration).")
@click.option("--fps", type=FPS, default=None, help="Movie frame rate (default: the poses' frame rate, else 30).")
@click.option("--trail", type=click.IntRange(min=0), default=30, show_default=True,
              help="Frames of fading trajectory (0: none).")
@click.option("--up", default="z", show_default=True, help="World axis pointing up (x, y, z, -y...).")
@click.option("--size", default="1280x720", show_default=True, help="Window/image size WIDTHxHEIGHT in pixels.")
@overwrite_option("Replace the picture or movie if it exists.")
def command(poses3d, calibration, out, frame, camera, fps, trail, up, size, overwrite) -> None:
    """Show a 3D reconstruction: skeleton, fading trajectories, cameras and floor.

    Without --out a window opens: drag the slider or use the keys Right/Left (1 frame), Up/Down (10 frames),
    space (play/pause), Home/End. With --out the same scene is rendered offscreen (no display needed).
    Reads .csv (anipose), .h5, .trc, .c3d, .nc and .nwb files; a file of several individuals
    (`triangulate --individuals`) shows them all, each in its own colour, named in the corner.

    \b
    Examples:
      mocap3d view pose-3d/walk.csv --calibration calibration.toml
      mocap3d view pose-3d/walk.csv -c calibration.toml --out walk.mp4
      mocap3d view pose-3d/walk.csv -c calibration.toml --out frame.png --frame 120 --camera cam1
    """
    from ..errors import MocapError
    from ..io.exports import load_any_poses3d

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"'{size}' is not WIDTHxHEIGHT, e.g. 1280x720.", param_hint="--size") from None
    if width < 1 or height < 1:
        raise click.BadParameter(f"'{size}': width and height must be positive, e.g. 1280x720.", param_hint="--size")
    if out is not None:
        from ..io.outputs import check_output

        check_output(out, [poses3d, *([calibration] if calibration else [])], overwrite=overwrite,
                     kinds=["image", "video"])  # fmt: skip
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # headless rendering
    elif not has_display():
        raise MocapError("there is no display to open the viewer window on; render to a file instead "
                         "(--out walk.mp4 or --out frame.png), or run where a display is available.")
    from ..io.individuals import read_individuals
    from ..poses import Poses3D
    from ..viewer import SkeletonScene, ViewerConfig, render_movie, render_png

    individuals = read_individuals(poses3d)  # several individuals are drawn together, coloured apart
    poses: Poses3D | dict[str, Poses3D]
    if individuals is None:
        poses = load_any_poses3d(poses3d)
        n_frames = poses.n_frames
    else:
        poses = individuals
        n_frames = next(iter(individuals.values())).n_frames
    rig = None
    if calibration is not None:
        from ..io.calibration import load_calibration

        rig = load_calibration(calibration)
    config = ViewerConfig(trail_frames=trail, up=up, window_size=(width, height))
    if out is None:
        scene = SkeletonScene(poses, rig=rig, config=config)
        if camera is not None and rig is not None:
            scene.view_from_camera(rig, camera)
        scene.set_frame(frame)
        scene.show()
        return
    suffix = out.suffix.lower()
    if suffix == ".png":
        render_png(poses, out, frame=frame, rig=rig, config=config, camera=camera)
        click.echo(f"wrote {out} (frame {frame}, frames are numbered 0-{n_frames - 1})")
    elif suffix in (".mp4", ".mov", ".avi", ".gif"):
        render_movie(poses, out, rig=rig, config=config, fps=fps, camera=camera)
        click.echo(f"wrote {out} ({n_frames} frames)")
    else:
        raise MocapError(f"--out '{out}': use a .png (one frame) or .mp4 (movie) file name.")
