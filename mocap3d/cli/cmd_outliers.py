"""``mocap3d outliers``: extract the frames a network got wrong, with its predictions, for ``mocap3d label``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("outliers")
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@click.option("--video", "videos", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A camera's video (repeat for each camera, synchronized).")
@click.option("--pose2d", "poses", multiple=True, required=True,
              type=click.Path(exists=True, path_type=Path),
              help="The network's 2D predictions for the video of the same position (DeepLabCut/SLEAP/OpenPose).")
@click.option("--poses3d", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="3D reconstruction of these videos: frames with high reprojection error count (needs -c); "
                   "a file of several individuals compares each detection with the nearest individual.")
@click.option("--calibration", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="calibration.toml of the cameras (videos matched to cameras by name).")
@click.option("--n-frames", type=click.IntRange(min=1), default=20, show_default=True, help="Frames to extract.")
@click.option("--jump", type=float, default=40.0, show_default=True, help="Keypoint jump between frames (px).")
@click.option("--likelihood", type=float, default=0.6, show_default=True, help="Likelihood below which a point counts.")
@click.option("--reproj", type=float, default=10.0, show_default=True, help="3D reprojection error that counts (px).")
@click.option("--min-gap", type=click.IntRange(min=0), default=10, show_default=True,
              help="Frames between two extracted frames.")
@click.option("--iteration", type=click.IntRange(min=0), default=0, show_default=True,
              help="N of machinelabels-iter<N>.h5.")
def command(project, videos, poses, poses3d, calibration, n_frames, jump, likelihood, reproj, min_gap,
            iteration) -> None:  # fmt: skip
    """Pick the worst-predicted frames (jumps, low likelihood, 3D reprojection error) and extract them.

    The same frames of every camera go to PROJECT/labeled-data/<video name>/ as img<frame>.png, with the
    predictions in machinelabels-iter<N>.h5 beside them (DeepLabCut's layout). Then correct them with
    `mocap3d label PROJECT [-c calibration.toml]`: corrections are saved to CollectedData_<scorer>.h5, the
    training set of the next round.

    \b
    Examples:
      mocap3d outliers ~/dlc/mouse --video videos/m3v1.mp4 --pose2d videos/m3v1DLC_resnet50.h5
      mocap3d outliers ~/walk --video walk_cam1.mp4 --pose2d walk_cam1.h5 --video walk_cam2.mp4 \\
          --pose2d walk_cam2.h5 -c calibration.toml --poses3d pose-3d/walk.h5
    """
    from ..errors import MocapError
    from ..io.pose2d import load_track2d
    from ..label.outliers import OutlierConfig, extract_outliers

    if len(videos) != len(poses):
        raise MocapError(f"give one --pose2d per --video ({len(videos)} videos, {len(poses)} prediction files).")
    config = OutlierConfig(jump_px=jump, min_likelihood=likelihood, max_reproj_px=reproj, n_frames=n_frames,
                           min_gap=min_gap)  # fmt: skip
    tracks = [load_track2d(p) for p in poses]
    rig = points3d = None
    if poses3d is not None:
        if calibration is None:
            raise MocapError("--poses3d needs --calibration to reproject the 3D points into each camera.")
        from ..io.calibration import load_calibration
        from ..io.exports import load_any_poses3d
        from ..io.matching import camera_for_file

        full = load_calibration(calibration)
        cams = [camera_for_file(v, full.names) for v in videos]
        if None in cams:
            bad = [str(v) for v, c in zip(videos, cams, strict=True) if c is None]
            raise MocapError(f"no camera of {calibration} ({', '.join(full.names)}) in the video names {bad}; "
                             "rename the videos so that each contains its camera's name.")  # fmt: skip
        rig = full.select([str(c) for c in cams])
        from ..io.individuals import read_individuals

        # several individuals (triangulate --individuals): each detection is compared with the nearest one
        points3d = read_individuals(poses3d) or load_any_poses3d(poses3d)
    picked, folders = extract_outliers(project, list(videos), tracks, config, rig, points3d, iteration)
    reasons = ", ".join(f"{k} {int((v[picked.frames] > 0).sum())}" for k, v in picked.counts.items())
    click.echo(f"{len(picked.frames)} frames extracted ({reasons}) into {len(folders)} folder(s) of "
               f"{project / 'labeled-data'}")  # fmt: skip
    click.echo(f"next: mocap3d label {project}" + (f" -c {calibration}" if calibration else ""))
