"""``mocap3d extract-outliers``: frames where the network is probably wrong, for correction; merge them back."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("extract-outliers")
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("pose2d", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "-p", "project_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--n", "n_frames", type=int, default=20, show_default=True, help="Frames to extract at most.")
@click.option("--jump", type=float, default=20.0, show_default=True, help="Flag moves above this many px per frame.")
@click.option("--p-bound", type=float, default=0.1, show_default=True, help="Flag likelihoods below this.")
@click.option("--pose3d", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Triangulated .h5/.csv: also flag frames whose reprojection error exceeds --reproj.")
@click.option("--reproj", type=float, default=15.0, show_default=True)
@click.option("--merge", is_flag=True, default=False,
              help="Instead: merge the corrected machinelabels into CollectedData_<scorer>.h5.")
def command(video, pose2d, project_path, n_frames, jump, p_bound, pose3d, reproj, merge) -> None:
    """Extract outlier frames (jumps, low likelihood, 3D reprojection error) into labeled-data/<video stem>/.

    The network's guesses are saved as machinelabels-iter0.h5; correct them in the labelling tool, then
    run the same command with --merge to add them to the training set.

    \b
    Examples:
      mocap3d extract-outliers -p openfield/project.toml videos/m3v1mp4.mp4 videos/m3v1mp4_mocap3d.h5 --n 10
      mocap3d extract-outliers -p openfield/project.toml videos/m3v1mp4.mp4 videos/m3v1mp4_mocap3d.h5 --merge
    """
    from ..io.pose2d import load_track2d
    from ..nn.outliers import OutlierConfig, extract_outliers, merge_corrections
    from ..nn.project import load_project

    proj = load_project(project_path)
    folder = proj.data_root / "labeled-data" / video.stem
    if merge:
        path = merge_corrections(folder, proj.scorer)
        click.echo(f"merged corrections into {path}")
        return
    track = load_track2d(pose2d)
    error = None
    if pose3d is not None:
        from ..io.pose3d import load_poses3d

        poses = load_poses3d(pose3d)
        order = [poses.keypoints.index(k) for k in track.keypoints if k in poses.keypoints]
        if len(order) != len(track.keypoints):
            raise click.ClickException(f"{pose3d} lacks some of the 2D body parts {list(track.keypoints)}.")
        error = poses.error[: track.n_frames, order]
    cfg = OutlierConfig(jump_px=jump, p_bound=p_bound, reproj_px=reproj, n=n_frames)
    sel = extract_outliers(track, video, proj.data_root, cfg, error, proj.scorer)
    click.echo(f"{sel.n_flagged} frames flagged, {len(sel.images)} extracted -> {folder}")
    if sel.machine_labels:
        click.echo(f"guesses to correct: {sel.machine_labels}")
