"""Long recordings are shared out over threads (mocap3d/_parallel.py): the same numbers as on one thread."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d import _parallel
from mocap3d.camera import CameraRig
from mocap3d.sample import make_rig
from mocap3d.triangulation.dlt import triangulate_dlt
from mocap3d.triangulation.robust import triangulate_robust


def _outputs(rig: CameraRig, X: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    cam = rig.world_to_camera(X)
    pixels = rig.camera_to_pixels(cam)
    ideal = rig.undistort_points(pixels + 0.3)
    return [cam, pixels, ideal, triangulate_dlt(rig.projection_matrices(), ideal, weights)]


@pytest.mark.parametrize("fisheye", [False, True])
def test_threads_give_the_numbers_of_one_thread(monkeypatch, fisheye):
    rig = make_rig(n_cameras=3, seed=4)
    if fisheye:
        rig = CameraRig(names=rig.names, sizes=rig.sizes, K=rig.K, dist=rig.dist * 0.2, rvec=rig.rvec,
                        tvec=rig.tvec, fisheye=np.array([True, False, False]))  # fmt: skip
    rng = np.random.default_rng(0)
    n = _parallel.MIN_POINTS + 1000
    X = rng.normal(0, 300, (n, 3)) + [0, 0, 900]
    X[::97] = np.nan
    weights = rng.uniform(0.2, 1.0, (3, n))
    monkeypatch.setenv("MOCAP3D_THREADS", "1")
    one = _outputs(rig, X, weights)
    monkeypatch.setenv("MOCAP3D_THREADS", "3")
    assert _parallel.threads() == 3
    for a, b in zip(one, _outputs(rig, X, weights), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    # the per-camera pinhole path of camera_to_pixels is the rig's lens model exactly
    cam = rig.world_to_camera(X)
    assert np.array_equal(rig.camera_to_pixels(cam), rig.distort_normalized(cam[..., :2] / cam[..., 2:3]),
                          equal_nan=True)  # fmt: skip


def test_map_threads_keeps_order_and_raises_the_first_error(monkeypatch):
    monkeypatch.setenv("MOCAP3D_THREADS", "2")
    items = list(range(7))
    assert _parallel.map_threads(lambda i: i * i, items, n_points=10**6) == [i * i for i in items]
    assert _parallel.map_threads(lambda i: i + 1, items, n_points=10) == [i + 1 for i in items]  # one thread

    def fail(i: int) -> int:
        if i == 3:
            raise ValueError("item 3")
        return i

    with pytest.raises(ValueError, match="item 3"):
        _parallel.map_threads(fail, items, n_points=10**6)
    monkeypatch.setenv("MOCAP3D_THREADS", "0")  # not a count: the cores decide
    assert 1 <= _parallel.threads() <= _parallel.MAX_THREADS


def test_each_point_is_solved_on_its_own(monkeypatch):
    """The DLT's answer for a point does not depend on the other points solved with it (blocks, threads,
    a slice of the recording), and the frame-by-frame triangulation is the same on one thread and on three."""
    from mocap3d.poses import Poses2D
    from mocap3d.triangulation.config import TriangulationConfig
    from mocap3d.triangulation.frames import triangulate_frames

    rig = make_rig(n_cameras=3, seed=2)
    rng = np.random.default_rng(1)
    n = _parallel.MIN_POINTS + 3 * _parallel.BLOCK // 2  # several blocks, the last one partial
    X = rng.normal(0, 300, (n, 3)) + [0, 0, 900]
    pixels = rig.project(X) + rng.normal(0, 0.5, (3, n, 2))
    pixels[0, ::13] = np.nan
    weights = rng.uniform(0.2, 1.0, (3, n))
    ideal = rig.undistort_points(pixels)
    P = rig.projection_matrices()
    whole = triangulate_dlt(P, ideal, weights)
    part = slice(_parallel.BLOCK - 500, _parallel.BLOCK + 777)  # across a block boundary
    assert np.array_equal(triangulate_dlt(P, ideal[:, part], weights[:, part]), whole[part], equal_nan=True)
    # the robust search too (its batches of subsets group the points differently in a slice)
    X, used, error = triangulate_robust(P, ideal, weights, threshold=15.0)
    X_part, used_part, error_part = triangulate_robust(P, ideal[:, part], weights[:, part], threshold=15.0)
    assert np.array_equal(X_part, X[part], equal_nan=True)
    assert np.array_equal(used_part, used[:, part]) and np.array_equal(error_part, error[part], equal_nan=True)

    poses = Poses2D(views=rig.names, keypoints=("a",), points=pixels[:, :, None], scores=weights[:, :, None])
    config = TriangulationConfig(method="dlt", score_threshold=0.0)
    monkeypatch.setenv("MOCAP3D_THREADS", "1")
    one = triangulate_frames(poses, rig, config)
    monkeypatch.setenv("MOCAP3D_THREADS", "3")
    three = triangulate_frames(poses, rig, config)
    for name in ("points", "error", "ncams", "score", "cameras_used"):
        assert np.array_equal(getattr(one, name), getattr(three, name), equal_nan=True), name
    assert np.isfinite(one.points).all(-1).mean() > 0.99
