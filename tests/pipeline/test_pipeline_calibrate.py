"""The 'calibrate' stage: a session's calibration videos -> calibration.toml, then triangulation with it."""

from __future__ import annotations

import numpy as np
import pytest
from _calib_scene import make_rig

from mocap3d.calibration.boards import CharucoBoard, save_board
from mocap3d.calibration.render import RenderConfig, board_trajectory, render_board_videos
from mocap3d.io.pose2d import save_dlc
from mocap3d.io.pose3d import load_h5
from mocap3d.pipeline import run_project
from mocap3d.poses import Track2D
from mocap3d.sample import KEYPOINTS, walk


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """One session: 3 small cameras' ChArUco videos in calibration/, and the walker's true 2D projections."""
    root = tmp_path_factory.mktemp("calibrate") / "project"
    session = root / "trial"
    rig = make_rig(3, 640, 512, 2500.0)
    k = rig.K.copy()
    k[:, :2] *= 0.5  # same field of view at half the resolution
    rig = rig.replace(K=k)
    board = CharucoBoard(7, 5, 80.0, 60.0)
    poses = board_trajectory(rig, board, 48, seed=0)
    render_board_videos(rig, board, poses, session / "calibration", config=RenderConfig(supersample=1), progress=False)
    save_board(board, root / "board.toml")
    points, _, _ = walk(n_frames=60)
    points = points - [0.0, 0.0, 900.0]  # the walker's middle at the cameras' aim
    proj = rig.project(points)
    seen = rig.in_image(proj)
    for c, name in enumerate(rig.names):
        pts = np.where(seen[c][..., None], proj[c], np.nan)
        track = Track2D(points=pts[:, None], scores=seen[c][:, None].astype(float), keypoints=KEYPOINTS)
        save_dlc(track, session / "pose-2d" / f"cam-{name}.h5")
    (root / "config.toml").write_text('[calibration]\nboard = "board.toml"\n\n[project]\nfps = 60.0\n')
    return root, points, seen


def test_calibrate_stage_then_triangulate(project):
    root, truth, seen = project
    report = run_project(root, workers=0, progress=False)
    assert not report.failed, report.table()
    status = {o.stage: o.status for o in report.sessions[0].stages}
    assert status["calibrate"] == "done" and status["triangulate"] == "done"
    assert (root / "trial" / "calibration" / "calibration.toml").is_file()
    poses = load_h5(root / "trial" / "pose-3d" / "trial.h5")
    assert poses.metadata["calibration"] == "trial/calibration/calibration.toml"
    # The calibrated world frame is the solver's; distances between body parts do not depend on it.
    ok = seen.sum(0) >= 2
    got = np.where(ok[..., None], poses.points, np.nan)
    d_got = np.linalg.norm(got[:, :, None] - got[:, None], axis=-1)
    d_true = np.linalg.norm(truth[:, :, None] - truth[:, None], axis=-1)
    err = np.abs(d_got - d_true)
    assert np.isfinite(poses.points).all(-1)[ok].mean() > 0.95  # every point two cameras see
    assert np.nanmedian(err) < 5.0 and np.nanpercentile(err, 95) < 20.0  # mm

    again = run_project(root, workers=0, progress=False)
    assert all(o.status in ("skipped", "not needed") for o in again.sessions[0].stages)

    config = '[calibration]\nboard = "board.toml"\ndistortion = "k1k2"\n[project]\nfps = 60.0\n'
    (root / "config.toml").write_text(config)
    third = run_project(root, workers=0, progress=False)
    status = {o.stage: o.status for o in third.sessions[0].stages}
    assert status["calibrate"] == "done"  # a calibration setting changed


def test_calibration_videos_without_board_is_explained(project, tmp_path):
    import shutil

    root, _, _ = project
    copy = tmp_path / "p"
    shutil.copytree(root, copy)
    (copy / "config.toml").write_text("[project]\nfps = 60.0\n")
    report = run_project(copy, stages=["calibrate"], workers=0, progress=False)
    assert "sets no board" in report.failed[0].error


def test_truncated_calibration_video_is_named(project, tmp_path):
    import shutil

    root, _, _ = project
    copy = tmp_path / "p"
    shutil.copytree(root, copy)
    shutil.rmtree(copy / "trial" / ".mocap3d", ignore_errors=True)  # present only if another test ran the project first
    (copy / "trial" / "calibration" / "calibration.toml").unlink(missing_ok=True)
    video = copy / "trial" / "calibration" / "cam-B.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    report = run_project(copy, workers=0, progress=False)
    (failed,) = report.failed
    assert failed.error.startswith("calibrate:") and "cam-B.mp4" in failed.error and "cannot be read" in failed.error
