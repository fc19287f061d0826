"""The calibration solver on real, externally produced data, against the reference results stored with it.

* DeepLabCut's stereo_example (Bouguet's classic stereo pairs): focal lengths and
  principal points against the Caltech toolbox's ``Calib_Results_*.mat``, and the
  stereo baseline against the published T = (-99.85, 0.82, 0.44) mm.
* caliscope's ``post_optimization`` session (4 real webcams, ChArUco): calibrated
  from caliscope's stored detections (``xy_CHARUCO.csv``; detecting on its videos
  is exercised by the benchmark), then the board corners are triangulated with our
  calibration: adjacent-corner distances against the 54 mm squares, and the
  reprojection median against caliscope's own calibration measured the same way.
* Pose2Sim's checkerboard images: focal lengths against the Qualisys calibration.

Skipped cleanly when ../shared/datasets is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocap3d.calibration.boards import CharucoBoard, Checkerboard
from mocap3d.calibration.config import CalibrationConfig
from mocap3d.calibration.detect import Detections, detect_images
from mocap3d.calibration.intrinsics import calibrate_camera, select_views, usable_views
from mocap3d.calibration.pipeline import calibrate
from mocap3d.camera import CameraRig
from mocap3d.io.calibration import load_calibration
from mocap3d.triangulation.dlt import triangulate_dlt


def _per_camera_folders(tmp_path: Path, source: Path, pattern: dict[str, str]) -> dict[str, Path]:
    """Symlink folders, one per camera, over a folder holding every camera's images (nothing is copied)."""
    out = {}
    for name, glob in pattern.items():
        folder = tmp_path / name
        folder.mkdir()
        for image in sorted(source.glob(glob)):
            (folder / image.name).symlink_to(image)
        out[name] = folder
    return out


# ------------------------------------------------------------------ DeepLabCut stereo example
def test_stereo_example_matches_the_caltech_toolbox(dataset, tmp_path):
    from scipy.io import loadmat

    src = dataset("deeplabcut") / "examples" / "stereo_example"
    folders = _per_camera_folders(tmp_path, src, {"left": "left*.jpg", "right": "right*.jpg"})
    det = detect_images(Checkerboard(9, 6, 30.0), folders, progress=False)
    rig, report = calibrate(det, CalibrationConfig())
    for i, side in enumerate(("left", "right")):
        ref = loadmat(src / f"Calib_Results_{side}.mat")
        fc, cc = ref["fc"].ravel(), ref["cc"].ravel()
        np.testing.assert_allclose(np.diag(rig.K[i])[:2], fc, rtol=0.01)
        np.testing.assert_allclose(rig.K[i, :2, 2], cc, atol=3.0)
    # the right camera in the left camera's frame (world = first camera): Bouguet's T
    np.testing.assert_allclose(rig.tvec[1], [-99.85, 0.82, 0.44], atol=1.0)
    assert np.linalg.norm(rig.tvec[1] - [-99.85, 0.82, 0.44]) < 1.0
    assert report.median_px < 0.3


# ------------------------------------------------------------------ caliscope post_optimization
def _caliscope_detections(session: Path) -> Detections:
    import pandas as pd

    table = pd.read_csv(session / "calibration" / "extrinsic" / "CHARUCO" / "xy_CHARUCO.csv")
    board = CharucoBoard(4, 5, 54.0, 40.5, "DICT_4X4_1000", inverted=True)
    frames = np.unique(table["sync_index"].to_numpy())
    cams = np.unique(table["cam_id"].to_numpy())
    corners = np.full((len(cams), len(frames), board.n_corners, 2), np.nan)
    corners[
        np.searchsorted(cams, table["cam_id"].to_numpy()),
        np.searchsorted(frames, table["sync_index"].to_numpy()),
        table["keypoint_id"].to_numpy(),
    ] = table[["img_loc_x", "img_loc_y"]].to_numpy()
    return Detections(cameras=tuple(str(c) for c in cams), image_sizes=np.tile([1280, 720], (len(cams), 1)),
                      frames=frames, corners=corners, board=board)


def _board_geometry(rig: CameraRig, det: Detections) -> tuple[float, float]:
    """(median |adjacent corner distance - square| in mm, median reprojection error px) of triangulated corners."""
    X = triangulate_dlt(rig.extrinsics(), rig.undistort_points(det.corners, output="normalized"))
    pairs = det.board.adjacent_pairs()
    dist = np.linalg.norm(X[:, pairs[:, 0]] - X[:, pairs[:, 1]], axis=-1)
    dist = dist[np.isfinite(dist)]
    err = np.linalg.norm(rig.project(X) - det.corners, axis=-1)
    return float(np.median(np.abs(dist - det.board.square_length))), float(np.nanmedian(err))


@pytest.fixture(scope="module")
def caliscope_session(dataset):
    return dataset("caliscope") / "tests" / "sessions" / "post_optimization"


@pytest.mark.parametrize("fixed_intrinsics", [False, True], ids=["intrinsics-estimated", "intrinsics-caliscope"])
def test_caliscope_board_geometry_and_reprojection(caliscope_session, fixed_intrinsics):
    det = _caliscope_detections(caliscope_session)
    camera_array = caliscope_session / "camera_array.toml"
    config = CalibrationConfig(intrinsics_file=str(camera_array) if fixed_intrinsics else None)
    rig, _ = calibrate(det, config)
    ours_mm, ours_px = _board_geometry(rig, det)
    theirs = load_calibration(camera_array)
    theirs = theirs.replace(tvec=theirs.tvec * 1000)  # caliscope stores metres; the board is in mm
    theirs_mm, theirs_px = _board_geometry(theirs, det)
    assert ours_mm <= 0.5
    assert ours_px <= theirs_px
    assert theirs_mm < 0.6  # the reference itself, measured the same way


# ------------------------------------------------------------------ Pose2Sim checkerboards
def test_pose2sim_checkerboard_intrinsics_match_qualisys(dataset, tmp_path):
    root = dataset("pose2sim-demo") / "Pose2Sim" / "S00_Demo_Session" / "S00_Calibration"
    names = [f"cam_0{i}" for i in range(1, 5)]
    folders = {n: root / "intrinsics" / f"int_cam0{n[-1]}_img" for n in names}
    board = Checkerboard(4, 7, 60.0)
    det = detect_images(board, folders, progress=False)
    reference = load_calibration(root / "Calib_qualisys.toml").select(names)
    obj = board.object_points()
    for i, name in enumerate(names):
        # portrait images: OpenCV's size is (width, height) = (1088, 1920), as the reference's `size`
        size = tuple(int(v) for v in det.image_sizes[i])
        assert size == tuple(int(v) for v in reference.sizes[i])
        views = select_views(det.corners[i], obj, size, usable_views(det.corners[i], obj, 6), 40)
        k, _, rms, _ = calibrate_camera(det.corners[i], obj, size, views, CalibrationConfig().distortion_mask,
                                        camera=name)
        np.testing.assert_allclose(np.diag(k)[:2], np.diag(reference.K[i])[:2], rtol=0.01, err_msg=name)
        assert rms < 1.0
