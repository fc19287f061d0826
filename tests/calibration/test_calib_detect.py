"""Board detection in videos and image folders: sampling, caching, errors, and real reference detections."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mocap3d.calibration.boards import CharucoBoard, Checkerboard
from mocap3d.calibration.detect import Detections, SamplingConfig, detect_videos
from mocap3d.errors import CalibrationError

BOARD = CharucoBoard(5, 4, 30.0, 22.0, "DICT_4X4_50")
SIZE = (320, 240)


def _frame(board, visible: bool, shift: int = 0) -> np.ndarray:
    img = np.full((SIZE[1], SIZE[0]), 120, np.uint8)
    if visible:
        pattern = cv2.copyMakeBorder(board.render(200, 160), 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=255)
        img[30:210, 40 + shift : 260 + shift] = pattern
    return img


def _video(path: Path, board, n: int, sweep: range, offset: int = 0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE, False)
    for f in range(n):
        writer.write(_frame(board, f in sweep, shift=(f + offset) % 5))
    writer.release()
    return path


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    sweep = range(33, 48)  # 15 frames: shorter than the gap between most coarse samples
    return {
        "A": _video(folder / "cam-A.avi", BOARD, 100, sweep),
        "B": _video(folder / "cam-B.avi", BOARD, 100, sweep, offset=2),
    }, sweep


def test_short_sweep_is_found_without_examining_every_frame(two_videos):
    videos, sweep = two_videos
    det = detect_videos(BOARD, videos, sample=SamplingConfig(step=10), progress=False)
    assert det.cameras == ("A", "B")
    assert det.corners.shape == (2, det.frames.size, BOARD.n_corners, 2)
    seen = det.frames[det.detected.any(-1).all(0)]
    assert seen.tolist() == list(sweep)  # every frame of the sweep, none outside it
    assert det.frames.size < 50  # far fewer than the 100 frames
    assert np.isin(np.arange(0, 100, 10), det.frames).all()
    np.testing.assert_array_equal(det.image_sizes, [SIZE, SIZE])
    # the corners move with the pasted board: one px per frame, in x only
    a = det.corners[0, np.isin(det.frames, [35, 36])]
    np.testing.assert_allclose(a[1] - a[0], np.tile([1.0, 0.0], (BOARD.n_corners, 1)), atol=0.1)


def test_edges_mode_examines_a_long_sweep_sparsely(tmp_path):
    sweep = range(20, 80)
    video = _video(tmp_path / "cam-A.avi", BOARD, 100, sweep)
    det = detect_videos(BOARD, {"A": video}, sample=SamplingConfig(step=10, densify="edges"), progress=False)
    seen = det.frames[det.detected[0].any(-1)]
    assert seen.min() == 20 and seen.max() == 79  # the sweep's first and last frames are found
    # the coarse frames, plus the 9 before the first hit and the 9 after the last one
    assert det.frames.size == 10 + 9 + 9
    full = detect_videos(BOARD, {"A": video}, sample=SamplingConfig(step=10), progress=False)
    assert full.frames.size > 70  # "hits" examines every frame near the board
    with pytest.raises(CalibrationError, match="densify"):
        SamplingConfig(densify="some")


def test_parallel_cameras_give_the_same_result(two_videos):
    videos, _ = two_videos
    one = detect_videos(BOARD, videos, sample=SamplingConfig(step=10), workers=1, progress=False)
    two = detect_videos(BOARD, videos, sample=SamplingConfig(step=10), workers=2, progress=False)
    np.testing.assert_array_equal(one.frames, two.frames)
    np.testing.assert_array_equal(one.corners, two.corners)


def test_cache_is_reused_and_invalidated(two_videos, tmp_path, monkeypatch):
    videos, _ = two_videos
    cache = tmp_path / "detections.npz"
    first = detect_videos(BOARD, videos, sample=SamplingConfig(step=10), cache=cache, progress=False)
    assert cache.is_file()

    def boom(self, image, **kwargs):
        raise AssertionError("detected again instead of reading the cache")

    with monkeypatch.context() as m:
        m.setattr(CharucoBoard, "detect", boom)
        again = detect_videos(BOARD, videos, sample=SamplingConfig(step=10), cache=cache, progress=False)
        np.testing.assert_array_equal(again.corners, first.corners)
        np.testing.assert_array_equal(again.frames, first.frames)
        # other sampling settings, or a touched video, make the cache stale
        with pytest.raises(AssertionError, match="detected again"):
            detect_videos(BOARD, videos, sample=SamplingConfig(step=7), cache=cache, progress=False)
        stat = videos["A"].stat()
        os.utime(videos["A"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        with pytest.raises(AssertionError, match="detected again"):
            detect_videos(BOARD, videos, sample=SamplingConfig(step=10), cache=cache, progress=False)


def test_detections_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 300, (3, 4, BOARD.n_corners, 2))
    corners[rng.random(corners.shape[:3]) < 0.3] = np.nan
    det = Detections(("x", "cam_10", "cam_2"), np.array([[320, 240]] * 3), np.array([0, 3, 9, 12]), corners, BOARD)
    back = Detections.load(det.save(tmp_path / "d.npz"))
    assert back.cameras == det.cameras and back.board == det.board
    np.testing.assert_array_equal(back.corners, det.corners)
    np.testing.assert_array_equal(back.frames, det.frames)
    assert back.select(["cam_2", "x"]).cameras == ("cam_2", "x")
    with pytest.raises(CalibrationError, match="expected"):
        Detections(("a",), np.array([[1, 1]]), np.arange(2), np.zeros((1, 3, BOARD.n_corners, 2)), BOARD)


def test_image_folder_and_glob(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in (1, 2, 10):  # natural order: 1, 2, 10
        cv2.imwrite(str(folder / f"view{i}.png"), _frame(BOARD, visible=i != 2, shift=i % 5))
    det = detect_videos(BOARD, {"A": folder, "B": tmp_path / "imgs" / "view*.png"},
                        sample=SamplingConfig(min_views=2), progress=False)
    assert det.frames.tolist() == [0, 1, 2]
    assert det.detected.any(-1).tolist() == [[True, False, True]] * 2
    cv2.imwrite(str(folder / "view11.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(CalibrationError, match="one folder must hold one camera"):
        detect_videos(BOARD, {"A": folder}, sample=SamplingConfig(min_views=1), progress=False)


# ----------------------------------------------------------------------------- errors
def test_unreadable_video_is_named(tmp_path, two_videos):
    bad = tmp_path / "cam-C.mp4"
    bad.write_text("not a video")
    with pytest.raises(CalibrationError, match="camera 'C'.*cam-C.mp4.*cannot be read"):
        detect_videos(BOARD, {"A": two_videos[0]["A"], "C": bad}, progress=False)
    with pytest.raises(CalibrationError, match="does not exist"):
        detect_videos(BOARD, {"A": tmp_path / "missing.mp4"}, progress=False)
    with pytest.raises(CalibrationError, match="no calibration videos"):
        detect_videos(BOARD, {}, progress=False)


def test_board_never_detected_suggests_causes(two_videos):
    wrong_dict = CharucoBoard(5, 4, 30.0, 22.0, "DICT_6X6_250")
    with pytest.raises(CalibrationError, match="never detected in camera 'A'") as info:
        detect_videos(wrong_dict, two_videos[0], sample=SamplingConfig(step=25), progress=False)
    for cause in ("dictionary", "inverted", "squares", "marker length"):
        assert cause in str(info.value)


def test_too_few_frames(two_videos):
    with pytest.raises(CalibrationError, match="too few frames.*'A' \\(15\\)"):
        detect_videos(BOARD, two_videos[0], sample=SamplingConfig(step=10, min_views=20), progress=False)


def test_collinear_views_are_dropped():
    from mocap3d.calibration.detect import _collinear

    obj = BOARD.object_points()[:, :2]
    assert _collinear(obj[[0, 1, 2, 3]])  # one row of a 5x4-square board
    assert _collinear(obj[[0, 4, 8]])  # one column
    assert not _collinear(obj[[0, 1, 4, 5]])


def test_bad_sampling():
    with pytest.raises(CalibrationError, match="step"):
        SamplingConfig(step=0)


# ----------------------------------------------------------------------------- real data
def test_caliscope_detections_agree(dataset):
    """Our ChArUco corners vs caliscope's stored ones on its real webcam videos (inverted board)."""
    from mocap3d.calibration.boards import load_board

    root = dataset("caliscope") / "tests/sessions/post_optimization"
    ext = root / "calibration/extrinsic"
    board = load_board(root / "charuco.toml")
    cams = [0, 1]
    det = detect_videos(board, {f"cam_{c}": ext / f"cam_{c}.mp4" for c in cams},
                        sample=SamplingConfig(step=5, densify="none"), progress=False)  # 12 frames each
    stamps = pd.read_csv(ext / "timestamps.csv")
    ref = pd.read_csv(ext / "CHARUCO/xy_CHARUCO.csv")
    diffs = []
    for i, c in enumerate(cams):
        sync = stamps.loc[stamps.cam_id == c, "sync_index"].to_numpy()  # frame k <-> k-th row of that camera
        rows = ref[ref.cam_id == c]
        for j, frame in enumerate(det.frames):
            r = rows[rows.sync_index == sync[frame]]
            ours = det.corners[i, j, r.keypoint_id.to_numpy()]
            ok = np.isfinite(ours).all(1)
            diffs.append(np.linalg.norm(ours[ok] - r[["img_loc_x", "img_loc_y"]].to_numpy()[ok], axis=1))
    diffs = np.concatenate(diffs)
    assert diffs.size > 150
    # caliscope refines with an 11x11 cornerSubPix, we keep OpenCV's ChArUco refinement (more precise on
    # rendered ground truth): the two agree to a third of a pixel
    assert np.median(diffs) < 0.5, np.median(diffs)


def test_deeplabcut_stereo_checkerboard_matches_bouguet(dataset):
    """The classic stereo set (9x6): every image pair detected, corners as the Caltech toolbox found them,
    and the same corner order in the left and right image of each pair."""
    import scipy.io as sio

    root = dataset("deeplabcut") / "examples/stereo_example"
    board = Checkerboard(9, 6, 30.0)
    det = detect_videos(board, {"left": root / "left*.jpg", "right": root / "right*.jpg"}, progress=False)
    assert det.views_per_camera().tolist() == [14, 14]
    mats = [sio.loadmat(root / f"Calib_Results_{side}.mat") for side in ("left", "right")]
    medians = []
    for i in range(14):
        matched = []
        for c in range(2):
            x = mats[c][f"x_{i + 1}"].T  # (54, 2) 0-based px, the toolbox's own corner order
            d = np.linalg.norm(det.corners[c, i][:, None] - x[None], axis=-1)
            medians.append(np.median(d.min(1)))
            matched.append(mats[c][f"X_{i + 1}"].T[d.argmin(1)])  # board coords of our corners
        np.testing.assert_allclose(matched[0], matched[1])  # same physical corner for each id in both views
    assert np.median(medians) < 0.1 and max(medians) < 0.2


def test_pose2sim_checkerboard_images(dataset):
    root = dataset("pose2sim-demo") / "Pose2Sim/S00_Demo_Session/S00_Calibration/intrinsics"
    board = Checkerboard(4, 7, 60.0)
    det = detect_videos(board, {"cam01": root / "int_cam01_img"}, progress=False)
    assert det.image_sizes.tolist() == [[1088, 1920]]
    assert det.views_per_camera()[0] >= 6  # OpenCV's classic detector alone finds 6 of the 7
