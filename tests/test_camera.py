"""The camera rig model and calibration files: OpenCV agreement, undistortion, aniposelib round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import toml
from hypothesis import given, settings
from hypothesis import strategies as st

from mocap3d.camera import CameraRig, rodrigues, rotation_to_rodrigues
from mocap3d.errors import CalibrationError
from mocap3d.io.calibration import load_calibration, load_calibration_with_metadata, save_calibration
from mocap3d.sample import make_rig


def points_in_view(rig, n=500, seed=0):
    X = np.random.default_rng(seed).normal(0, 400, (n, 3)) + [0, 0, 900]
    return X


def test_projection_matches_opencv_for_pinhole_and_fisheye():
    rig = make_rig(n_cameras=3, seed=1)
    X = points_in_view(rig)
    ours = rig.project(X)
    for i in range(3):
        ref = cv2.projectPoints(X, rig.rvec[i], rig.tvec[i], rig.K[i], rig.dist[i])[0].reshape(-1, 2)
        np.testing.assert_allclose(ours[i], ref, atol=1e-8)
    fish = rig.replace(fisheye=[True, False, True], dist=np.c_[rig.dist[:, :4] * 0.2, np.zeros(3)])
    ours = fish.project(X)
    ref = cv2.fisheye.projectPoints(X.reshape(-1, 1, 3), fish.rvec[0], fish.tvec[0], fish.K[0], fish.dist[0, :4])
    np.testing.assert_allclose(ours[0], ref[0].reshape(-1, 2), atol=1e-8)


def test_projection_of_a_hand_checkable_camera():
    # Camera at the origin looking down +z, f = 100 px, centre (50, 40): (1, 2, 10) -> (60, 60).
    rig = CameraRig(names=["c"], sizes=[[100, 80]], K=[[[100, 0, 50], [0, 100, 40], [0, 0, 1]]], dist=[[0.0] * 5],
                    rvec=[[0.0, 0, 0]], tvec=[[0.0, 0, 0]])  # fmt: skip
    np.testing.assert_allclose(rig.project(np.array([1.0, 2.0, 10.0])), [[60.0, 60.0]])
    np.testing.assert_allclose(rig.centers(), [[0, 0, 0]])


@settings(max_examples=15, deadline=None)
@given(k1=st.floats(-0.4, 0.2), k2=st.floats(-0.1, 0.2), p=st.floats(-2e-3, 2e-3), seed=st.integers(0, 1000))
def test_undistort_inverts_the_lens_model_over_the_image(k1, k2, p, seed):
    rig = make_rig(n_cameras=2, seed=seed).replace(dist=[[k1, k2, p, -p, 0.0]] * 2)
    # a grid over the whole image, back-projected to depth 1000 and projected again
    u, v = np.meshgrid(np.linspace(0, 1279, 17), np.linspace(0, 1023, 13))
    ideal = np.stack([u.ravel(), v.ravel()], -1)
    normalized = (ideal - rig.K[:, None, :2, 2]) / rig.K[:, None, [0, 1], [0, 1]]  # (2, P, 2), per camera
    distorted = rig.distort_normalized(normalized)
    back = rig.undistort_points(distorted)
    ok = np.isfinite(back).all(-1)
    assert ok.mean() > 0.95  # only far outside the lens model's domain may it refuse
    np.testing.assert_allclose(back[ok], np.stack([ideal, ideal])[ok], atol=1e-6)


def test_rodrigues_round_trip():
    rv = np.random.default_rng(3).normal(0, 1, (20, 3))
    rv *= np.minimum(1.0, 3.0 / np.linalg.norm(rv, axis=1, keepdims=True))  # angles < pi: the vector is unique
    np.testing.assert_allclose(rotation_to_rodrigues(rodrigues(rv)), rv, atol=1e-9)
    for r in rv[:5]:
        np.testing.assert_allclose(rodrigues(r), cv2.Rodrigues(r)[0], atol=1e-12)
    np.testing.assert_allclose(rodrigues(np.zeros(3)), np.eye(3))


def test_impossible_values_are_rejected_with_the_camera_named():
    good = make_rig(n_cameras=2)
    K = good.K.copy()
    K[1, 1, 1] = 0.0
    with pytest.raises(CalibrationError, match="cam2.*focal"):
        good.replace(K=K)
    with pytest.raises(CalibrationError, match="NaN"):
        good.replace(tvec=[[0, 0, np.nan], [0, 0, 1]])
    with pytest.raises(CalibrationError, match="duplicate"):
        good.replace(names=["a", "a"])
    with pytest.raises(CalibrationError, match="image size"):
        good.replace(sizes=[[0, 10], [10, 10]])


def test_select_keeps_the_requested_order():
    rig = make_rig(n_cameras=4)
    sub = rig.select(["cam3", "cam1"])
    assert sub.names == ("cam3", "cam1")
    np.testing.assert_allclose(sub.K[0], rig.K[2])
    with pytest.raises(CalibrationError, match="camX.*cam1, cam2, cam3, cam4"):
        rig.select(["camX"])


# ----------------------------------------------------------------------------- files


def test_toml_round_trip_keeps_order_beyond_ten_cameras(tmp_path):
    rig = make_rig(n_cameras=12, seed=5)
    path = save_calibration(rig, tmp_path / "calibration.toml", {"error": 0.5})
    back, meta = load_calibration_with_metadata(path)
    assert back.names == rig.names  # cam_10 stays after cam_9 (aniposelib would sort it after cam_1)
    for field in ("K", "dist", "rvec", "tvec", "sizes"):
        np.testing.assert_array_equal(getattr(back, field), getattr(rig, field))
    assert meta["error"] == 0.5


def test_aniposelib_reads_ours_and_we_read_theirs(tmp_path):
    cameras = pytest.importorskip("aniposelib.cameras")
    rig = make_rig(n_cameras=3, seed=2)
    X = points_in_view(rig)
    save_calibration(rig, tmp_path / "ours.toml")
    group = cameras.CameraGroup.load(str(tmp_path / "ours.toml"))
    np.testing.assert_allclose(group.project(X), rig.project(X), atol=1e-8)
    # the reverse: a group aniposelib builds and dumps (fisheye included)
    cams = [cameras.Camera(name=f"c{i}", size=(1280, 1024), matrix=rig.K[i], dist=rig.dist[i], rvec=rig.rvec[i],
                           tvec=rig.tvec[i]) for i in range(2)]  # fmt: skip
    cams.append(cameras.FisheyeCamera(name="f", size=(1280, 1024), matrix=rig.K[2], dist=[0.01, -0.02, 0.003, 0.0],
                                      rvec=rig.rvec[2], tvec=rig.tvec[2]))  # fmt: skip
    theirs = cameras.CameraGroup(cams)
    theirs.dump(str(tmp_path / "theirs.toml"))
    loaded = load_calibration(tmp_path / "theirs.toml")
    assert loaded.names == ("c0", "c1", "f") and loaded.fisheye.tolist() == [False, False, True]
    np.testing.assert_allclose(loaded.project(X), theirs.project(X), atol=1e-6)


def test_real_calibration_files(dataset):
    p2s = load_calibration(dataset("pose2sim-demo") / "Pose2Sim/S00_Demo_Session/S00_Calibration/Calib_qualisys.toml")
    assert p2s.names == ("cam_01", "cam_02", "cam_03", "cam_04")
    assert p2s.sizes[0].tolist() == [1088, 1920]
    assert p2s.dist[:, 4].tolist() == [0.0] * 4  # 4 terms padded
    cal = load_calibration(dataset("caliscope") / "tests/sessions/post_optimization/camera_array.toml")
    assert cal.n_cameras == 4
    raw = toml.loads((dataset("caliscope") / "tests/sessions/post_optimization/camera_array.toml").read_text())
    np.testing.assert_allclose(cal.R[0], raw["cameras"]["0"]["rotation"], atol=1e-9)
    twelve = load_calibration(dataset("aniposelib-tests") / "tests/data/calib/12cam-allen-mouse/calibration.toml")
    assert twelve.n_cameras == 12


def test_broken_files_explain_themselves(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(CalibrationError, match="not valid TOML"):
        load_calibration(bad)
    bad.write_text("[metadata]\nerror = 1\n")
    with pytest.raises(CalibrationError, match="no camera sections"):
        load_calibration(bad)
    bad.write_text("[cam_0]\nname = 'a'\nmatrix = [[1,0,0],[0,1,0],[0,0,1]]\n")
    with pytest.raises(CalibrationError, match="lacks distortions, rotation, translation"):
        load_calibration(bad)
