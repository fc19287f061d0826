"""The board renderer: exact lens geometry, detections against ground truth, the sweep, determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from mocap3d.calibration.boards import CharucoBoard, Checkerboard
from mocap3d.calibration.detect import SamplingConfig, detect_videos
from mocap3d.calibration.render import (
    RenderConfig,
    TrajectoryConfig,
    _lens_field,
    board_corners_world,
    board_trajectory,
    ground_truth_corners,
    load_ground_truth,
    render_board_videos,
    render_sample_calibration,
)
from mocap3d.camera import CameraRig, rotation_to_rodrigues
from mocap3d.errors import CalibrationError

BOARD = CharucoBoard(7, 5, 60.0, 45.0, "DICT_4X4_50")


def _look_at(center, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World->camera rotation of a camera at ``center`` looking at ``target`` (z forward, y down)."""
    z = np.asarray(target, float) - center
    z /= np.linalg.norm(z)
    x = np.cross(z, -np.asarray(up))
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def make_rig(n: int = 3, width: int = 640, height: int = 512, focal: float = 700.0, distance: float = 1800.0,
             spread_deg: float = 100.0) -> CameraRig:
    """``n`` cameras on an arc looking at the origin, each with its own radial and tangential distortion."""
    rots, tvecs = [], []
    for a in np.deg2rad(np.linspace(-spread_deg / 2, spread_deg / 2, n)):
        center = np.array([distance * np.sin(a), -distance * np.cos(a), 400.0])
        r = _look_at(center)
        rots.append(r)
        tvecs.append(-r @ center)
    k = [[[focal + 20 * i, 0, width / 2 + 7 - 5 * i], [0, focal + 20 * i + 1, height / 2 - 6 + 4 * i], [0, 0, 1]]
         for i in range(n)]
    dist = [[-0.28 + 0.04 * i, 0.11, 0.0015, -0.001, -0.01] for i in range(n)]
    return CameraRig(names=tuple(f"cam{i}" for i in range(n)), sizes=[[width, height]] * n, K=k, dist=dist,
                     rvec=rotation_to_rodrigues(np.array(rots)), tvec=np.array(tvecs))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    rig = make_rig()
    out = tmp_path_factory.mktemp("render")
    paths = render_sample_calibration(out, rig, BOARD, n_frames=30, seed=3, progress=False)
    return rig, out, paths


# ----------------------------------------------------------------------------- lens geometry
def test_lens_field_is_the_exact_undistortion():
    rig = make_rig(1)
    s = 2
    field = _lens_field(rig, 0, s)
    assert field.shape == (512 * s, 640 * s, 2)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 512 * s, 300), rng.integers(0, 640 * s, 300)
    # sub-sample (row, col) of pixel (u, v) sits at u + (j + 0.5) / s - 0.5
    pix = np.stack([(cols + 0.5) / s - 0.5, (rows + 0.5) / s - 0.5], 1)
    exact = rig.undistort_points(pix[None], output="normalized")[0]
    err_px = np.abs(field[rows, cols] - exact).max() * rig.K[0, 0, 0]
    assert err_px < 1e-2  # bilinear on a 4 px grid: ~4e-3 px in the corners of a strong lens
    # and the rays re-project onto the pixels they came from (the renderer and rig.project agree)
    in_camera = np.concatenate([field[rows, cols], np.ones((300, 1))], 1) * 1000.0  # 1 m along each ray
    world = (in_camera - rig.tvec[0]) @ rig.R[0]  # R^T (x - t), row-wise
    back = rig.project(world)[0]
    assert np.abs(back - pix).max() < 1e-2


# ----------------------------------------------------------------------------- accuracy
def test_detected_corners_match_ground_truth(rendered):
    rig, out, paths = rendered
    assert list(paths) == list(rig.names) and all(p.name == f"cam-{n}.mp4" for n, p in paths.items())
    truth = load_ground_truth(out)
    assert truth["corners"].shape == (3, 30, BOARD.n_corners, 2)
    det = detect_videos(BOARD, paths, sample=SamplingConfig(step=1), progress=False)
    assert det.image_sizes.tolist() == [[640, 512]] * 3
    diff = det.corners - truth["corners"][:, det.frames]
    err = np.linalg.norm(diff, axis=-1)
    found = np.isfinite(err)
    assert found.sum() > 0.5 * truth["visible"].sum()
    assert not (found & ~truth["visible"]).any()  # nothing detected where the board cannot be seen
    assert np.median(err[found]) < 0.2
    assert np.abs(np.nanmean(diff.reshape(-1, 2), axis=0)).max() < 0.05  # no half-pixel shift anywhere


def test_checkerboard_is_rendered_too(tmp_path):
    rig = make_rig(1)
    board = Checkerboard(9, 6, 50.0)
    poses = board_trajectory(rig, board, 8, seed=1, config=TrajectoryConfig(tilt_deg=25.0, reach=0.3))
    paths = render_board_videos(rig, board, poses, tmp_path, progress=False)
    truth = load_ground_truth(tmp_path)
    det = detect_videos(board, paths, sample=SamplingConfig(step=1, min_views=2), progress=False)
    err = np.linalg.norm(det.corners - truth["corners"][:, det.frames], axis=-1)
    assert np.isfinite(err).any(-1).sum() >= 2
    assert np.nanmedian(err) < 0.2


def test_fisheye_lens_is_rendered_through_its_own_model(tmp_path):
    rig = make_rig(1, focal=380.0)
    rig = rig.replace(dist=np.array([[0.05, -0.02, 0.004, -0.001, 0.0]]), fisheye=np.array([True]))
    poses = board_trajectory(rig, BOARD, 10, seed=2, config=TrajectoryConfig(reach=0.6))
    paths = render_board_videos(rig, BOARD, poses, tmp_path, progress=False)
    truth = load_ground_truth(tmp_path)
    det = detect_videos(BOARD, paths, sample=SamplingConfig(step=1, min_views=1), progress=False)
    err = np.linalg.norm(det.corners - truth["corners"][:, det.frames], axis=-1)
    assert np.isfinite(err).sum() > 0.8 * truth["visible"].sum()
    assert np.nanmedian(err) < 0.2


def test_inverted_board_is_filmed_inverted(tmp_path):
    rig = make_rig(1)
    board = CharucoBoard(4, 5, 90.0, 67.5, "DICT_4X4_1000", inverted=True)
    poses = board_trajectory(rig, board, 4, seed=0, config=TrajectoryConfig(reach=0.2, tilt_deg=20.0))
    paths = render_board_videos(rig, board, poses, tmp_path, progress=False)
    truth = load_ground_truth(tmp_path)
    det = detect_videos(board, paths, sample=SamplingConfig(step=1, min_views=1), progress=False)
    err = np.linalg.norm(det.corners - truth["corners"][:, det.frames], axis=-1)
    assert np.isfinite(err).sum() >= 0.8 * truth["visible"].sum()
    assert np.nanmedian(err) < 0.2


# ----------------------------------------------------------------------------- the sweep
def test_board_trajectory_is_a_useful_sweep():
    rig = make_rig(4, 1280, 1024, focal=1300.0, distance=2500.0, spread_deg=120.0)
    poses = board_trajectory(rig, BOARD, 150, seed=0)
    assert poses.shape == (150, 4, 4)
    rot = poses[:, :3, :3]
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0)
    np.testing.assert_array_equal(poses, board_trajectory(rig, BOARD, 150, seed=0))

    corners, visible = ground_truth_corners(rig, BOARD, poses)
    whole = visible.all(-1)  # (C, F): every corner seen
    assert (whole.mean(1) > 0.3).all()  # every camera sees the whole board often
    shared = np.array([[np.sum(whole[i] & whole[j]) for j in range(4)] for i in range(4)])
    assert connected_components(shared >= 10)[0] == 1  # pairs share views: a connected graph

    # smooth: neighbouring frames are close compared with the whole motion
    centre = board_corners_world(BOARD, poses).mean(1)
    steps = np.linalg.norm(np.diff(centre, axis=0), axis=1)
    assert steps.max() < 0.15 * np.ptp(centre, axis=0).max()

    # tilted by up to ~40 degrees from the direction of the camera it faces best
    to_board = centre[None] - rig.centers()[:, None]
    cos = np.einsum("cfi,fi->cf", to_board / np.linalg.norm(to_board, axis=-1, keepdims=True), poses[:, :3, 2])
    best = np.degrees(np.arccos(np.clip(cos.max(0), -1, 1)))
    assert 30 < best.max() < 50

    # readable views (seen less than 65 degrees off face-on) put corners in most of every image's 8 x 8 cells
    # (the previous, gentler sweep reached 44-67% of them on this rig)
    readable = visible & (np.degrees(np.arccos(np.clip(cos, -1, 1))) < 65)[..., None]
    for c in range(4):
        uv = np.clip(corners[c][readable[c]] / rig.sizes[c], 0, 0.999) * 8
        cells = np.unique(np.floor(uv).astype(int), axis=0)
        assert len(cells) >= 0.6 * 64, (c, len(cells))


def test_back_of_the_board_shows_no_pattern(tmp_path):
    rig = make_rig(1)
    poses = board_trajectory(rig, BOARD, 2, seed=0, config=TrajectoryConfig(tilt_deg=0.0, roll_deg=0.0, reach=0.0))
    flipped = poses.copy()
    flipped[:, :3, :3] = poses[:, :3, :3] @ np.diag([-1.0, 1.0, -1.0])  # turned round its y axis
    flipped[:, :3, 3] = poses[:, :3, 3] + poses[:, :3, 0] * BOARD.size[0]  # same place
    both = np.concatenate([poses[:1], flipped[:1]])
    paths = render_board_videos(rig, BOARD, both, tmp_path, progress=False)
    _, visible = ground_truth_corners(rig, BOARD, both)
    assert visible[0, 0].all() and not visible[0, 1].any()
    cap = cv2.VideoCapture(str(paths["cam0"]))
    frames = [cap.read()[1] for _ in range(2)]
    assert BOARD.detect(frames[0])[0].size == BOARD.n_corners
    assert BOARD.detect(frames[1])[0].size == 0
    assert frames[1].std() > 5  # the board's back is there, just without a pattern


# ----------------------------------------------------------------------------- files
def test_sample_calibration_is_deterministic_and_resumable(rendered, tmp_path):
    rig, out, paths = rendered
    stamp = {n: p.stat().st_mtime_ns for n, p in paths.items()}
    again = render_sample_calibration(out, rig, BOARD, n_frames=30, seed=3, progress=False)
    assert {n: p.stat().st_mtime_ns for n, p in again.items()} == stamp  # nothing re-rendered
    # same inputs elsewhere: the same pixels
    poses = load_ground_truth(out)["poses"]
    copy = render_board_videos(rig, BOARD, poses, tmp_path, progress=False)
    a, b = cv2.VideoCapture(str(paths["cam1"])), cv2.VideoCapture(str(copy["cam1"]))
    for _ in range(5):
        np.testing.assert_array_equal(a.read()[1], b.read()[1])


def test_bad_render_inputs(tmp_path):
    rig = make_rig(1)
    with pytest.raises(CalibrationError, match="shape \\(F, 4, 4\\)"):
        render_board_videos(rig, BOARD, np.eye(4), tmp_path, progress=False)
    with pytest.raises(CalibrationError, match="codec"):
        RenderConfig(codec="H265")
    with pytest.raises(CalibrationError, match="n_frames"):
        board_trajectory(rig, BOARD, 1)
