"""C3D: units from the data, the reprojection error in the residual, confidence as analogs; read by ezc3d and c3d."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import PoseFileError
from mocap3d.io.c3d import RESIDUAL_STEP_PX, load_c3d, save_c3d
from mocap3d.poses import Poses3D


def _poses(units: str | None = "m") -> Poses3D:
    rng = np.random.default_rng(7)
    pts = rng.normal(size=(8, 3, 3))
    pts[2, 1] = np.nan
    used = rng.random((8, 3, 4)) < 0.6
    used[..., 0] = True
    used[2, 1] = False
    err = np.where(np.isfinite(pts).all(-1), rng.uniform(0, 6, (8, 3)), np.nan)
    score = np.where(np.isfinite(pts).all(-1), rng.random((8, 3)), 0.0)
    return Poses3D(("hip", "knee", "ankle"), pts, error=err, ncams=used.sum(-1), cameras_used=used, score=score,
                   views=("a", "b", "c", "d"), fps=100.0, units=units)  # fmt: skip


def test_round_trip_keeps_units_error_cameras_and_scores(tmp_path):
    poses = _poses()
    back = load_c3d(save_c3d(poses, tmp_path / "w.c3d"))
    assert back.units == "m" and back.fps == 100.0 and back.keypoints == poses.keypoints
    np.testing.assert_array_equal(back.points, poses.points.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(back.error, poses.error, atol=RESIDUAL_STEP_PX / 2 + 1e-6)
    assert np.isnan(back.error[2, 1]) and np.isnan(back.points[2, 1]).all()
    np.testing.assert_array_equal(back.cameras_used, poses.cameras_used)
    np.testing.assert_allclose(back.score, poses.score, atol=1e-7)  # float32 analogs


def test_units_converted_and_never_guessed(tmp_path):
    back = load_c3d(save_c3d(_poses("m"), tmp_path / "mm.c3d", units="mm"))
    assert back.units == "mm"
    np.testing.assert_allclose(back.points, _poses().points * 1000, rtol=1e-6)
    with pytest.raises(PoseFileError, match="length unit"):
        save_c3d(_poses(None), tmp_path / "x.c3d")
    assert load_c3d(save_c3d(_poses(None), tmp_path / "x.c3d", units="cm")).units == "cm"


def test_ezc3d_reads_units_points_and_scores(tmp_path):
    ezc3d = pytest.importorskip("ezc3d")
    poses = _poses()
    c3d = ezc3d.c3d(str(save_c3d(poses, tmp_path / "w.c3d", units="mm")))
    assert c3d["parameters"]["POINT"]["UNITS"]["value"] == ["mm"]
    assert list(c3d["parameters"]["ANALOG"]["LABELS"]["value"]) == [f"{k}_score" for k in poses.keypoints]
    pts = c3d["data"]["points"][:3].transpose(2, 1, 0)
    valid = np.isfinite(poses.points).all(-1)
    np.testing.assert_allclose(pts[valid], poses.points[valid] * 1000, rtol=1e-6)
    assert (c3d["data"]["meta_points"]["residuals"][0].T[~valid] < 0).all()  # missing: C3D's -1
    np.testing.assert_allclose(c3d["data"]["analogs"][0].T, poses.score, atol=1e-7)


def test_the_c3d_package_reads_residual_and_camera_mask_as_the_specification_says(tmp_path):
    c3d = pytest.importorskip("c3d")
    poses = _poses()
    path = save_c3d(poses, tmp_path / "w.c3d")
    with open(path, "rb") as handle:
        reader = c3d.Reader(handle)
        assert reader.get("POINT:UNITS").string_value.strip() == "m"
        frames = [(pts.copy(), analog.copy()) for _, pts, analog in reader.read_frames()]
    xyz = np.array([p[:, :3] for p, _ in frames])
    residual = np.array([p[:, 3] for p, _ in frames])
    cameras = np.array([p[:, 4] for p, _ in frames]).astype(np.int64)
    valid = np.isfinite(poses.points).all(-1)
    np.testing.assert_allclose(xyz[valid], poses.points[valid], rtol=1e-6)
    np.testing.assert_allclose(residual[valid], poses.error[valid], atol=RESIDUAL_STEP_PX / 2 + 1e-6)
    assert (residual[~valid] == -1).all()
    bits = (poses.cameras_used * (1 << np.arange(4))).sum(-1)
    np.testing.assert_array_equal(cameras[valid], bits[valid])
    np.testing.assert_allclose(np.array([a[:, 0] for _, a in frames]), poses.score, atol=1e-7)
