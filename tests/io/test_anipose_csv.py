"""anipose's CSV semantics (score = min, NaN where not triangulated, M_ij/center_i) checked with anipose's code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mocap3d.analysis.alignment import align_poses
from mocap3d.io.calibration import save_calibration
from mocap3d.io.pose3d import load_anipose_csv, save_anipose_csv
from mocap3d.poses import Poses3D
from mocap3d.sample import make_sample
from mocap3d.triangulation import triangulate
from mocap3d.triangulation.config import TriangulationConfig

AXES = [["x", "r_hip", "l_hip"], ["z", "pelvis", "neck"]]  # not perpendicular: anipose's M is no rotation


@pytest.fixture(scope="module")
def walk():
    sample = make_sample(n_frames=30, n_cameras=3, seed=2)
    config = TriangulationConfig.from_dict({"preset": "anipose", "score_threshold": 0.7})
    return sample, triangulate(sample.poses2d, sample.rig, config)


def test_columns_mean_what_anipose_writes(tmp_path, walk):
    sample, poses = walk
    used = poses.cameras_used.transpose(2, 0, 1)
    expected = np.where(used, sample.poses2d.scores, np.inf).min(0)
    made = np.isfinite(poses.points).all(-1)
    assert (~made).any() and made.any()
    np.testing.assert_array_equal(poses.score[made], expected[made])  # the smallest score of the cameras used
    # a point a smoother bridged (no camera) and one never triangulated
    points, ncams = poses.points.copy(), poses.ncams.copy()
    ncams[0, 0] = 0
    points[0, 1] = np.nan
    bridged = Poses3D(poses.keypoints, points, poses.error, ncams, poses.cameras_used, poses.score, poses.views)
    df = pd.read_csv(save_anipose_csv(bridged, tmp_path / "walk.csv"))
    bp0, bp1 = poses.keypoints[:2]
    assert df[f"{bp0}_ncams"][0] == 0 and np.isnan(df[f"{bp0}_score"][0]) and np.isnan(df[f"{bp0}_error"][0])
    assert np.isnan(df[[f"{bp1}_ncams", f"{bp1}_score", f"{bp1}_error"]].iloc[0]).all()
    gone = ~np.isfinite(points).all(-1)
    for j, bp in enumerate(poses.keypoints):
        assert df[f"{bp}_ncams"].isna().to_numpy().tolist() == gone[:, j].tolist()
    assert df["fnum"].tolist() == list(range(poses.n_frames))
    back = load_anipose_csv(tmp_path / "walk.csv")
    assert back.ncams[0, 1] == 0 and back.score[0, 1] == 0 and back.score[0, 0] == 0
    np.testing.assert_array_equal(back.points, points)


@pytest.mark.parametrize("convention", ["mocap3d", "anipose"])
def test_anipose_reprojects_our_aligned_csv(tmp_path, walk, convention):
    """anipose's project-2d maps an aligned CSV back with (q + center) @ inv(M.T): it must land on our points."""
    project_2d = pytest.importorskip("anipose.project_2d")
    cameras = pytest.importorskip("aniposelib.cameras")
    sample, poses = walk
    save_calibration(sample.rig, tmp_path / "calibration.toml")
    cgroup = cameras.CameraGroup.load(str(tmp_path / "calibration.toml"))
    aligned = align_poses(poses, AXES, "pelvis", convention=convention)
    assert np.nanmax(np.abs(aligned.points - poses.points)) > 100  # really moved
    path = save_anipose_csv(aligned, tmp_path / "aligned.csv")
    config = {"triangulation": {"optim": False}}
    offsets = {name: (0, 0) for name in cgroup.get_names()}
    bodyparts, projected, _ = project_2d.get_projected_points(config, str(path), cgroup, offsets)
    assert bodyparts == list(poses.keypoints)
    truth = cgroup.project(poses.points.transpose(1, 0, 2).reshape(-1, 3)).reshape(projected.shape)
    seen = np.isfinite(projected).all(-1)
    assert seen.mean() > 0.4
    assert np.abs(projected[seen] - truth[seen]).max() < 1e-6  # px


def test_anipose_convention_is_correct_coordinate_frame(walk):
    ani = pytest.importorskip("anipose.triangulate")
    _, poses = walk
    for axes in (AXES, AXES + [["x", "l_ankle", "r_ankle"]]):  # triples on one axis add up, as in anipose
        config = {"triangulation": {"axes": axes, "reference_point": "pelvis"}}
        theirs, m, center = ani.correct_coordinate_frame(config, poses.points, list(poses.keypoints))
        ours = align_poses(poses, axes, "pelvis", convention="anipose")
        np.testing.assert_allclose(ours.points, theirs, atol=1e-9, rtol=0)
        np.testing.assert_allclose(np.asarray(ours.metadata["alignment_M"]), m, atol=1e-15)
        assert abs(np.dot(m[0], m[2])) > 1e-3  # anipose keeps the second axis as measured
        np.testing.assert_allclose(m @ np.asarray(ours.metadata["alignment_center"]), center, atol=1e-9)
    rotation = align_poses(poses, AXES, "pelvis")  # mocap3d's frame: orthonormal
    m = np.asarray(rotation.metadata["alignment_M"])
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
