"""The ``anipose`` preset/formulation is aniposelib's DLT: aniposelib's own code reproduces it to 1e-6 mm."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import MocapError
from mocap3d.io.calibration import load_calibration, save_calibration
from mocap3d.poses import Poses2D
from mocap3d.sample import make_sample
from mocap3d.triangulation import triangulate
from mocap3d.triangulation.config import TriangulationConfig
from mocap3d.triangulation.dlt import triangulate_dlt, triangulate_svd

ANIPOSE = TriangulationConfig.from_dict({"preset": "anipose"})


@pytest.fixture(scope="module")
def sample():
    return make_sample(n_frames=16, n_cameras=4, seed=5)


def _aniposelib_triangulate(cgroup, points):
    pytest.importorskip("jax")
    return cgroup.triangulate(points)


def test_preset_is_anipose_default_dlt():
    assert ANIPOSE.method == "dlt" and ANIPOSE.formulation == "anipose" and ANIPOSE.score_threshold == 0.8
    with pytest.raises(MocapError, match="needs method = 'dlt'"):
        TriangulationConfig(method="robust", formulation="anipose")
    with pytest.raises(MocapError, match="unknown triangulation formulation"):
        TriangulationConfig(formulation="opencv")


def test_svd_dlt_is_the_smallest_eigenvector_of_the_unweighted_system(sample):
    """Without noise in the algebra, both solvers give the same point for the same (unweighted) system."""
    rig = sample.rig
    pts = rig.undistort_points(sample.poses2d.points, output="normalized")
    ok = np.isfinite(pts).all(-1)
    a = triangulate_svd(rig.extrinsics(), pts, ok)
    b = triangulate_dlt(rig.extrinsics(), pts, np.where(ok, 1.0, 0.0))
    np.testing.assert_allclose(a, b, atol=1e-6)
    one = ok.copy()
    one[1:] = False
    assert np.isnan(triangulate_svd(rig.extrinsics(), pts, one)).all()  # fewer than two cameras: no point


@pytest.mark.parametrize("fisheye", [False, True])
def test_aniposelib_reproduces_the_anipose_preset(tmp_path, sample, fisheye):
    cameras = pytest.importorskip("aniposelib.cameras")
    rig = sample.rig
    if fisheye:  # OpenCV's fisheye model (k1..k4) on two of the cameras
        dist = rig.dist.copy()
        dist[:2] = [[0.05, -0.02, 0.004, -0.001, 0.0]] * 2
        rig = rig.replace(fisheye=[True, True, False, False], dist=dist)
    save_calibration(rig, tmp_path / "calibration.toml")
    cgroup = cameras.CameraGroup.load(str(tmp_path / "calibration.toml"))
    assert tuple(cgroup.get_names()) == rig.names
    ours = triangulate(sample.poses2d, rig, ANIPOSE)
    pts = sample.poses2d.points.copy()
    pts[sample.poses2d.scores < ANIPOSE.score_threshold] = np.nan  # what anipose's triangulate does first
    v, f, k, _ = pts.shape
    theirs = _aniposelib_triangulate(cgroup, pts.reshape(v, -1, 2)).reshape(f, k, 3)
    np.testing.assert_array_equal(np.isnan(theirs), np.isnan(ours.points))
    assert np.isfinite(theirs).sum() > 0.5 * theirs.size
    assert np.nanmax(np.abs(theirs - ours.points)) < 1e-6  # mm
    error = cgroup.reprojection_error(theirs.reshape(-1, 3), pts.reshape(v, -1, 2), mean=True).reshape(f, k)
    np.testing.assert_allclose(ours.error, error, rtol=1e-9, atol=1e-9)
    # mocap3d's own DLT (score-weighted, undistorted pixels) is another formulation: measurably different
    own = triangulate(sample.poses2d, rig, TriangulationConfig(method="dlt", score_threshold=0.8))
    assert np.nanmedian(np.linalg.norm(own.points - theirs, axis=-1)) > 1e-3


def test_twelve_cameras_are_matched_by_name(tmp_path, datasets_dir):
    """aniposelib orders a file's [cam_N] sections as strings (cam_10 before cam_2); mocap3d numerically.
    Positional arrays follow each library's own order, names connect them."""
    cameras = pytest.importorskip("aniposelib.cameras")
    path = datasets_dir / "aniposelib-tests" / "tests" / "data" / "calib" / "12cam-allen-mouse" / "calibration.toml"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rig = load_calibration(path)
    cgroup = cameras.CameraGroup.load(str(path))
    theirs_order = list(cgroup.get_names())
    assert len(rig.names) == 12 and theirs_order != list(rig.names) and sorted(theirs_order) == sorted(rig.names)
    rng = np.random.default_rng(0)
    world = rng.normal(0, 20.0, (40, 3)) + np.nanmedian(_rig_target(rig), axis=0)
    uv = rig.project(world) + rng.normal(0, 0.5, (12, 40, 2))
    uv[rig.depths(world) <= 0] = np.nan
    poses2d = Poses2D(views=rig.names, keypoints=[f"p{i}" for i in range(40)], points=uv[:, None],
                      scores=np.ones((12, 1, 40)))  # fmt: skip
    ours = triangulate(poses2d, rig, ANIPOSE.replace(score_threshold=0.5)).points[0]
    by_name = np.stack([uv[rig.names.index(n)] for n in theirs_order])  # aniposelib's positional order
    theirs = _aniposelib_triangulate(cgroup, by_name)
    assert np.nanmax(np.abs(theirs - ours)) < 1e-6
    save_calibration(rig, tmp_path / "calibration.toml")  # ours: zero-padded keys, one order for both
    assert list(cameras.CameraGroup.load(str(tmp_path / "calibration.toml")).get_names()) == list(rig.names)
    assert list(load_calibration(tmp_path / "calibration.toml").names) == list(rig.names)


def _rig_target(rig) -> np.ndarray:
    """Points 1 m in front of each camera: a rough centre of the volume the cameras share."""
    return rig.centers() + 1000.0 * rig.R[:, 2, :]
