"""Outlier frames for refinement: picking them, extracting them from videos, and opening them in the tool."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import LabelFileError
from mocap3d.io.calibration import save_calibration
from mocap3d.io.labels import load_labels, load_predictions
from mocap3d.io.pose2d import save_dlc
from mocap3d.io.pose3d import save_poses3d
from mocap3d.label import LabelSession, LabelToolConfig
from mocap3d.label.outliers import OutlierConfig, extract_outliers, find_outlier_frames
from mocap3d.poses import Track2D
from mocap3d.sample import make_sample

N_FRAMES = 80
JUMP_FRAME, LOW_FRAME, REPROJ_FRAME = 20, 45, 70


def _gray(frame: int) -> int:
    return 20 + 2 * frame  # each video frame is one grey level: the extracted image tells which frame it is


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """3 synchronized cameras: videos, predictions with three planted errors, the true 3D poses."""
    import cv2

    root = tmp_path_factory.mktemp("outliers")
    sample = make_sample(n_frames=N_FRAMES, n_cameras=3, noise_px=0.0, outlier_fraction=0.0, occlusion=False)
    rng = np.random.default_rng(0)
    pts = sample.poses2d.points + rng.normal(0, 0.3, sample.poses2d.points.shape)  # (V, F, K, 2)
    like = np.full(pts.shape[:-1], 0.95)
    pts[0, JUMP_FRAME, 3] += 80.0  # a jump (and back), far from the 3D reconstruction too
    like[1, LOW_FRAME, 5] = 0.2  # right place, low confidence
    pts[2, REPROJ_FRAME, 7] += [9.0, 12.0]  # 15 px off: no jump, but the 3D reprojection disagrees
    videos, poses = [], []
    for c, cam in enumerate(sample.rig.names):
        video = root / f"walk_{cam}.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 128))
        for f in range(N_FRAMES):
            writer.write(np.full((128, 160, 3), _gray(f), np.uint8))
        writer.release()
        videos.append(video)
        track = Track2D(pts[c][:, None], like[c][:, None], sample.truth.keypoints, ("individual0",))
        poses.append(save_dlc(track, root / f"walk_{cam}DLC_resnet50.h5", scorer="DLC_resnet50"))
    calibration = save_calibration(sample.rig, root / "calibration.toml")
    poses3d = save_poses3d(sample.truth, root / "walk3d.h5")
    return {"root": root, "sample": sample, "videos": videos, "poses": poses, "points": pts, "likelihood": like,
            "calibration": calibration, "poses3d": poses3d}  # fmt: skip


def test_find_outlier_frames_reasons():
    pts = np.zeros((2, 50, 1, 3, 2))
    like = np.ones((2, 50, 1, 3))
    pts[0, 10:, 0, 0] += 100.0  # a jump at frame 10
    like[1, 12, 0, 1] = 0.1  # 2 frames later: within min_gap of frame 10
    like[1, 30, 0, :] = 0.1  # three points at frame 30: the worst frame
    err = np.zeros((2, 50, 1, 3))
    err[0, 40, 0, 2] = 50.0
    picked = find_outlier_frames(pts, like, err, OutlierConfig(min_gap=5))
    np.testing.assert_array_equal(picked.frames, [10, 30, 40])
    assert picked.counts["likelihood"][30] == 3 and picked.counts["jump"][10] == 1 and picked.score[40] == 1
    assert find_outlier_frames(pts, like, err, OutlierConfig(min_gap=5, n_frames=1)).frames.tolist() == [30]
    assert find_outlier_frames(pts, like, None, OutlierConfig(min_gap=1)).frames.tolist() == [10, 12, 30]
    assert find_outlier_frames(np.zeros((1, 5, 1, 2, 2)), np.ones((1, 5, 1, 2))).frames.size == 0
    with pytest.raises(LabelFileError, match="views, frames, individuals"):
        find_outlier_frames(np.zeros((5, 2, 2)), np.ones((5, 2)))


def test_extract_correct_and_merge(scene, tmp_path):
    from mocap3d.io.exports import load_any_poses3d
    from mocap3d.io.pose2d import load_track2d

    sample = scene["sample"]
    tracks = [load_track2d(p) for p in scene["poses"]]
    project = tmp_path / "project"
    picked, folders = extract_outliers(project, scene["videos"], tracks, OutlierConfig(), sample.rig,
                                       load_any_poses3d(scene["poses3d"]))  # fmt: skip
    assert picked.frames.tolist() == [JUMP_FRAME, LOW_FRAME, REPROJ_FRAME]
    assert picked.counts["reprojection"][REPROJ_FRAME] == 1 and picked.counts["jump"][REPROJ_FRAME] == 0
    import cv2

    for c, folder in enumerate(folders):
        assert folder == project / "labeled-data" / f"walk_{sample.rig.names[c]}"
        for f in picked.frames:
            image = cv2.imread(str(folder / f"img{f:02d}.png"))
            assert abs(float(image.mean()) - _gray(f)) < 3  # the right frame (MJPG is lossy)
        pred = load_predictions(folder / "machinelabels-iter0.h5")
        assert pred.images == tuple(f"labeled-data/{folder.name}/img{f:02d}.png" for f in picked.frames)
        np.testing.assert_allclose(pred.points[:, 0], scene["points"][c, picked.frames])
        np.testing.assert_allclose(pred.likelihood[:, 0], scene["likelihood"][c, picked.frames])
    # The tool shows the three instants from the three cameras, predictions as starting points.
    session = LabelSession.open(project, LabelToolConfig(scorer="alice", calibration=scene["calibration"]))
    info = session.info()
    assert info["refinement"] and [f["views"] for f in info["frames"]] == [3, 3, 3]
    view = session.frame(0)["views"][0]
    predicted = view["predictions"][0][3]
    np.testing.assert_allclose(predicted, scene["points"][0, JUMP_FRAME, 3])
    # The labeller corrects the jumped point; the correction lands in CollectedData, the next training set.
    session.set_point(view["video"], view["image"], 0, 3, sample.poses2d.points[0, JUMP_FRAME, 3].tolist(),
                      view["revision"])  # fmt: skip
    labels = load_labels(folders[0] / "CollectedData_alice.h5")
    assert labels.images == (f"labeled-data/walk_cam1/img{JUMP_FRAME:02d}.png",)  # only labelled rows, as DeepLabCut
    np.testing.assert_allclose(labels.points[0, 0, 3], sample.poses2d.points[0, JUMP_FRAME, 3])
    assert labels.labelled.sum() == 1  # unconfirmed predictions are not labels
    # A second round (other thresholds) adds frames and keeps the first round's rows and labels.
    again, _ = extract_outliers(project, scene["videos"], tracks, OutlierConfig(jump_px=1.0, n_frames=5, min_gap=3))
    pred = load_predictions(folders[0] / "machinelabels-iter0.h5")
    assert set(pred.images) >= {f"labeled-data/walk_cam1/img{f:02d}.png" for f in picked.frames}
    assert len(pred.images) == len(set(picked.frames.tolist()) | set(again.frames.tolist()))
    assert load_labels(folders[0] / "CollectedData_alice.h5").labelled.sum() == 1


def test_cli(scene, tmp_path):
    args = ["outliers", str(tmp_path / "p")]
    for v, p in zip(scene["videos"], scene["poses"], strict=True):
        args += ["--video", str(v), "--pose2d", str(p)]
    result = CliRunner().invoke(cli, args + ["-c", str(scene["calibration"]), "--poses3d", str(scene["poses3d"])])
    assert result.exit_code == 0, result.output
    assert "3 frames extracted (jump 1, likelihood 1, reprojection 2)" in result.output
    assert "next: mocap3d label" in result.output
    result = CliRunner().invoke(cli, args[:6] + ["--video", str(scene["videos"][1])])
    assert result.exit_code == 1 and "one --pose2d per --video" in result.output
    result = CliRunner().invoke(cli, args + ["--poses3d", str(scene["poses3d"])])
    assert result.exit_code == 1 and "needs --calibration" in result.output
