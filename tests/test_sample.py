"""The sample rig: its ground truth is self-consistent, and every 2D format it writes triangulates alike."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.io.matching import load_views
from mocap3d.sample import EDGES, KEYPOINTS, make_sample, walk, write_sample
from mocap3d.triangulation import triangulate


def test_walk_truth_is_consistent():
    points, contacts, events = walk(n_frames=240)
    idx = {k: i for i, k in enumerate(KEYPOINTS)}
    for a, b in (("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("r_shoulder", "r_elbow"), ("l_heel", "l_toe")):
        lengths = np.linalg.norm(points[:, idx[a]] - points[:, idx[b]], axis=-1)
        assert lengths.std() < 1e-9
    for foot in ("l_heel", "r_toe"):
        planted = contacts[foot]
        z = points[:, idx[foot], 2]
        assert np.allclose(z[planted], z[planted].min())  # on the floor while in contact
        assert (z[~planted] > z[planted].min()).mean() > 0.9  # off the floor in swing
        x = points[:, idx[foot], 0]
        moving = np.abs(np.diff(x)) > 1e-9
        assert not (moving & planted[1:] & planted[:-1]).any()  # a planted foot does not slide
    kinds = {(e["side"], e["event"]) for e in events}
    assert kinds == {("left", "strike"), ("left", "off"), ("right", "strike"), ("right", "off")}
    assert all(isinstance(a, str) and a in KEYPOINTS for edge in EDGES for a in edge)


def test_observations_are_what_the_docstring_says():
    s = make_sample(n_frames=100, seed=3)
    clean = s.rig.project(s.truth.points)
    seen = np.isfinite(s.poses2d.points).all(-1)
    resid = np.linalg.norm(s.poses2d.points - clean, axis=-1)
    inliers = seen & ~s.outliers
    assert 1.2 < np.sqrt(np.mean(resid[inliers] ** 2) / 2) < 1.8  # 1.5 px noise per axis
    assert 0.06 < s.outliers.sum() / seen.sum() < 0.14
    assert (s.poses2d.scores[s.outliers] >= 0.8).all()  # confident outliers
    assert 0.02 < 1 - seen.mean() < 0.2


@pytest.mark.parametrize("fmt", ["dlc", "sleap", "openpose"])
def test_each_2d_format_triangulates_the_same(tmp_path, fmt):
    s = make_sample(n_frames=30, seed=4)
    files = write_sample(s, tmp_path, fmt=fmt)
    kw = {"keypoint_preset": None} if fmt != "openpose" else {}
    poses2d = load_views(files["pose2d"], s.rig.names, **kw)
    if fmt == "openpose":  # JSON carries no names: map the generic ones back
        poses2d.keypoints = KEYPOINTS
    np.testing.assert_allclose(poses2d.points, s.poses2d.points, atol=1e-3 if fmt == "openpose" else 0)
    direct = triangulate(s.poses2d, s.rig).points
    via_files = triangulate(poses2d, s.rig).points
    np.testing.assert_allclose(via_files, direct, atol=0.5 if fmt == "openpose" else 1e-9)
