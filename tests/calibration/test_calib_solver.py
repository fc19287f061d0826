"""Calibration solver: intrinsics, pair-graph extrinsics, bundle adjustment, world frame, report.

Every expected answer comes from the synthetic scene in ``_calib_scene`` (a
known rig and known board placements), never from the solver's own output.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from _calib_scene import compare_rigs, make_scene
from scipy.spatial.transform import Rotation

from mocap3d.calibration.bundle import Observations, bundle_adjust, project_observations
from mocap3d.calibration.config import PRESETS, CalibrationConfig
from mocap3d.calibration.extrinsics import (
    DisconnectedCamerasError,
    from_transform,
    invert_transform,
    pair_poses,
    to_transform,
)
from mocap3d.calibration.intrinsics import select_views, usable_views
from mocap3d.calibration.pipeline import calibrate, camera_name_from_path
from mocap3d.calibration.report import lens_model_rms, rig_errors, write_report
from mocap3d.errors import CalibrationError
from mocap3d.io.calibration import save_calibration


@pytest.fixture(scope="module")
def scene():
    return make_scene(n_frames=120, noise_px=0.2, seed=0)


@pytest.fixture(scope="module")
def solved(scene):
    _, _, _, det = scene
    return calibrate(det, CalibrationConfig())


def _with_corners(det, corners):
    return dataclasses.replace(det, corners=corners)


# ------------------------------------------------------------------ Jacobian
@pytest.mark.parametrize("fisheye", [False, True])
def test_analytic_jacobian_matches_finite_differences(scene, fisheye):
    rig, board, poses, det = scene
    if fisheye:
        rig = rig.replace(fisheye=np.ones(rig.n_cameras, bool), dist=np.tile([0.05, -0.02, 0.01, -0.003, 0], (4, 1)))
    obs = Observations.from_corners(det.corners[:, :15])
    br, bt = from_transform(poses[:15])
    ext = np.concatenate([rig.rvec, rig.tvec], 1)
    intr = np.concatenate([rig.K[:, 0, 0:1], rig.K[:, 1, 1:2], rig.K[:, 0, 2:3], rig.K[:, 1, 2:3], rig.dist], 1)
    bd = np.concatenate([br, bt], 1)
    obj = board.object_points()
    _, d_ext, d_int, d_board = project_observations(ext, intr, bd, obs, obj, rig.fisheye, jacobian=True)
    params = {"ext": ext, "int": intr, "board": bd}
    analytic = {"ext": d_ext, "int": d_int, "board": d_board}
    for name, arr in params.items():
        for k in range(arr.shape[1]):
            h = 1e-3 if (name == "int" and k < 4) else 1e-6
            plus, minus = dict(params), dict(params)
            plus[name] = arr.copy()
            minus[name] = arr.copy()
            plus[name][:, k] += h
            minus[name][:, k] -= h
            fd = (project_observations(plus["ext"], plus["int"], plus["board"], obs, obj, rig.fisheye)
                  - project_observations(minus["ext"], minus["int"], minus["board"], obs, obj, rig.fisheye)) / (2 * h)
            scale = np.abs(fd).max() + 1e-9
            assert np.abs(fd - analytic[name][:, :, k]).max() / scale < 1e-4, (name, k)


# ------------------------------------------------------------------ accuracy
def test_synthetic_rig_is_recovered(scene, solved):
    true, _, _, _ = scene
    est, report = solved
    err = compare_rigs(true, est)
    # 0.2 px noise, 120 placements (the bars are checked on rendered videos in the benchmark)
    assert err["focal_pct"] < 0.1
    assert err["pp_px"] < 1.0
    assert err["centre_mm"] < 0.75
    assert err["rot_deg"] < 0.06
    assert abs(err["scale"] - 1) < 1e-3  # units are the board's (mm)
    assert lens_model_rms(true, est, align_rotation=True).max() < 0.3
    np.testing.assert_allclose(est.dist[:, :4], true.dist[:, :4], atol=0.01)
    # noise is 0.2 px per coordinate: the 2D error's median is 0.2 * sqrt(2 ln 2) = 0.235 px
    assert 0.2 < report.median_px < 0.27
    assert report.converged
    assert all(c.n_outliers == 0 for c in report.cameras)


def test_world_is_first_camera_by_default(solved):
    est, report = solved
    np.testing.assert_allclose(est.rvec[0], 0, atol=1e-12)
    np.testing.assert_allclose(est.tvec[0], 0, atol=1e-12)
    assert "A" in report.world


def test_deterministic(scene, solved):
    _, _, _, det = scene
    again, report = calibrate(det, CalibrationConfig())
    first, first_report = solved
    for field in ("K", "dist", "rvec", "tvec"):
        assert np.array_equal(getattr(first, field), getattr(again, field)), field
    assert report.median_px == first_report.median_px


def test_camera_without_views_shared_with_first_is_placed_through_the_graph(scene):
    true, _, _, det = scene
    corners = det.corners.copy()
    seen_a = np.isfinite(corners[0]).all(-1).any(-1)
    corners[3, seen_a] = np.nan  # D never sees the board together with A
    seen = np.isfinite(corners).all(-1).any(-1)
    assert not (seen[0] & seen[3]).any()
    est, report = calibrate(_with_corners(det, corners), CalibrationConfig())
    err = compare_rigs(true, est)
    assert err["centre_mm"] < 1.0 and err["rot_deg"] < 0.1
    assert ("A", "D") not in {(a, b) for a, b, _ in report.pairs}


def test_gross_outliers_are_rejected(scene):
    true, _, _, det = scene
    corners = det.corners.copy()
    rng = np.random.default_rng(5)
    seen = np.flatnonzero(np.isfinite(corners).all(-1).ravel())
    bad = rng.choice(seen, size=len(seen) // 50, replace=False)
    flat = corners.reshape(-1, 2)
    flat[bad] += rng.choice([-1, 1], size=(len(bad), 2)) * rng.uniform(15, 40, (len(bad), 2))
    est, report = calibrate(_with_corners(det, corners), CalibrationConfig())
    err = compare_rigs(true, est)
    assert err["focal_pct"] < 0.15 and err["centre_mm"] < 1.0 and err["rot_deg"] < 0.1
    # every corrupted corner is flagged (observations are ordered camera, frame, corner like the flat index)
    flagged = np.flatnonzero(~report.obs_inlier)
    obs_index = np.flatnonzero(np.isfinite(det.corners).all(-1).ravel())  # frames are all placed here
    assert set(obs_index[flagged]) >= set(bad)
    assert len(flagged) < 1.2 * len(bad)


def test_origin_frame_puts_the_board_on_the_world_axes(scene):
    true, board, poses, det = scene
    frame = 7
    est, report = calibrate(det, CalibrationConfig(origin_frame=frame))
    # the board's corners are now world points (x, -y, 0): z is out of the printed face, towards the cameras
    flip = np.diag([1.0, -1.0, -1.0])
    proj = est.project(board.object_points() @ flip)
    seen = np.isfinite(det.corners[:, frame]).all(-1)
    err = np.linalg.norm(proj - det.corners[:, frame], axis=-1)[seen]
    assert np.median(err) < 0.5
    saw = seen.any(-1)
    assert saw.any() and (est.centers()[saw, 2] > 0).all()  # cameras that read the board are on its printed side
    # and the true rig expressed in that board's frame matches (no similarity alignment needed)
    T_cam_board = to_transform(true.rvec, true.tvec) @ poses[frame]
    T_cam_board[:, :3, :3] = T_cam_board[:, :3, :3] @ flip
    rvec, tvec = from_transform(T_cam_board)
    centres = -np.einsum("cji,cj->ci", Rotation.from_rotvec(rvec).as_matrix(), tvec)
    # one board placement fixes the axes: its own pose error (~0.05 deg) moves cameras 2.5 m away by a few mm
    assert np.abs(centres - est.centers()).max() < 10.0
    assert "frame 7" in report.world


def test_origin_frame_without_board_is_explained(scene):
    _, _, _, det = scene
    corners = det.corners.copy()
    corners[:, 3] = np.nan
    with pytest.raises(CalibrationError, match="origin-frame 3"):
        calibrate(_with_corners(det, corners), CalibrationConfig(origin_frame=3, outlier_factors=(5.0,)))


def test_fixed_intrinsics_from_file(scene, tmp_path):
    true, _, _, det = scene
    path = save_calibration(true, tmp_path / "known.toml")
    est, report = calibrate(det, CalibrationConfig(intrinsics_file=str(path)))
    assert np.array_equal(est.K, true.K) and np.array_equal(est.dist, true.dist)
    assert report.intrinsics == str(path)
    err = compare_rigs(true, est)
    assert err["centre_mm"] < 0.5 and err["rot_deg"] < 0.05


def test_fixed_intrinsics_missing_camera_is_explained(scene, tmp_path):
    true, _, _, det = scene
    path = save_calibration(true.select(["A", "B"]), tmp_path / "known.toml")
    with pytest.raises(CalibrationError, match="no camera named"):
        calibrate(det, CalibrationConfig(intrinsics_file=str(path)))


# ------------------------------------------------------------------ failures
def test_disconnected_graph_names_the_groups(scene):
    _, _, _, det = scene
    corners = det.corners.copy()
    f = corners.shape[1]
    corners[2:, : f // 2] = np.nan  # C, D only in the second half
    corners[:2, f // 2 :] = np.nan  # A, B only in the first half
    with pytest.raises(DisconnectedCamerasError) as info:
        calibrate(_with_corners(det, corners), CalibrationConfig())
    msg = str(info.value)
    assert "{A, B}" in msg and "{C, D}" in msg and "both see it" in msg


def test_board_never_detected_suggests_causes(scene):
    _, _, _, det = scene
    corners = det.corners.copy()
    corners[1] = np.nan
    with pytest.raises(CalibrationError, match="never detected in camera\\(s\\) B") as info:
        calibrate(_with_corners(det, corners), CalibrationConfig())
    assert "dictionary" in str(info.value) and "inverted" in str(info.value)


def test_too_few_views_is_explained(scene):
    _, _, _, det = scene
    corners = det.corners.copy()
    seen = np.flatnonzero(np.isfinite(corners[2]).all(-1).any(-1))
    corners[2, seen[2:]] = np.nan
    with pytest.raises(CalibrationError, match="too few usable board views for camera\\(s\\) C \\(2\\)"):
        calibrate(_with_corners(det, corners), CalibrationConfig())


def test_non_convergence_is_explained(scene):
    _, _, _, det = scene
    corners = det.corners.copy()
    corners = corners[:, :50]
    corners[1] = corners[1, ::-1]  # camera B's frames out of sync with the others
    config = CalibrationConfig(max_median_error_px=2.0, max_nfev=10, outlier_factors=(10.0,))
    with pytest.raises(CalibrationError, match="did not converge|agree with the initial") as info:
        calibrate(dataclasses.replace(det, corners=corners, frames=det.frames[:50]), config)
    assert "synchronised" in str(info.value)


# ------------------------------------------------------------------ pieces
def test_view_selection_covers_the_image_and_is_capped(scene):
    _, board, _, det = scene
    obj = board.object_points()
    usable = usable_views(det.corners[1], obj, 6)
    views = select_views(det.corners[1], obj, (1280, 1024), usable, 20, (4, 4))
    assert len(views) == 20 and usable[views].all()
    assert np.array_equal(views, select_views(det.corners[1], obj, (1280, 1024), usable, 20, (4, 4)))
    pts = det.corners[1, views].reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    cells = set(map(tuple, np.floor(pts / [320, 256]).astype(int)))
    all_pts = det.corners[1][usable].reshape(-1, 2)
    all_cells = set(map(tuple, np.floor(all_pts[np.isfinite(all_pts).all(1)] / [320, 256]).astype(int)))
    assert cells == all_cells  # every cell any view reaches is reached by the chosen few


def test_collinear_views_are_not_usable():
    obj = np.stack(np.meshgrid(np.arange(5.0), np.arange(4.0)), -1).reshape(-1, 2)
    obj = np.concatenate([obj, np.zeros((20, 1))], 1)
    corners = np.full((2, 20, 2), np.nan)
    corners[0, :5] = obj[:5, :2] * 10  # one row only
    corners[1, :12] = obj[:12, :2] * 10
    assert usable_views(corners, obj, 6).tolist() == [False, True]


def test_pair_average_rejects_a_wrong_view():
    rng = np.random.default_rng(0)
    true_rel = to_transform(np.array([0.1, -0.5, 0.05]), np.array([500.0, 20.0, -30.0]))
    boards = to_transform(rng.normal(0, 0.3, (12, 3)), rng.normal(0, 100, (12, 3)) + [0, 0, 2000])
    cam_i = boards
    cam_j = invert_transform(true_rel) @ boards
    cam_j[4] = to_transform(np.array([1.0, 0, 0]), np.array([0, 0, 1500.0]))  # a flipped PnP solution
    pair = pair_poses(np.stack([cam_i, cam_j]))[0]
    assert pair.n_shared == 12 and pair.n_inliers == 11
    np.testing.assert_allclose(pair.transform, true_rel, atol=1e-9)


def test_bundle_adjustment_solvers_agree(scene):
    """The Schur-complement LM and scipy's trf reach the same minimum; LM gets there in far fewer evaluations."""
    true, board, poses, det = scene
    frames = np.arange(15)
    obs = Observations.from_corners(det.corners[:, frames])
    rng = np.random.default_rng(3)
    start = true.replace(tvec=true.tvec + rng.normal(0, 5, true.tvec.shape) * [[0], [1], [1], [1]])
    kwargs = dict(refine_intrinsics=False, outlier_factors=(10.0,), ftol=1e-12)
    lm = bundle_adjust(start, poses[frames], obs, board.object_points(), solver="lm", **kwargs)
    trf = bundle_adjust(start, poses[frames], obs, board.object_points(), solver="scipy", max_nfev=40, **kwargs)

    def cost(result):  # soft_l1 with f_scale 1 px, as both minimised
        return np.sum(np.sqrt(1 + result.errors**2) - 1)

    assert cost(lm) <= cost(trf) * (1 + 1e-9)
    assert cost(trf) <= cost(lm) * (1 + 1e-4)
    np.testing.assert_allclose(lm.rig.tvec, trf.rig.tvec, atol=0.05)
    assert lm.converged and lm.nfev < trf.nfev
    assert np.abs(lm.rig.tvec - true.tvec).max() < 1.0


def test_config_from_toml_and_unknown_keys(tmp_path):
    path = tmp_path / "cal.toml"
    path.write_text('[calibration]\ndistortion = "k1k2"\norigin_frame = 4\noutlier_factors = [6.0, 3.0]\n')
    cfg = CalibrationConfig.from_toml(path)
    assert cfg == CalibrationConfig(distortion="k1k2", origin_frame=4, outlier_factors=(6.0, 3.0))
    assert CalibrationConfig.from_dict(cfg.to_dict()) == cfg
    path.write_text("distorsion = 'k1'\n")
    with pytest.raises(CalibrationError, match="unknown calibration setting"):
        CalibrationConfig.from_toml(path)
    with pytest.raises(CalibrationError, match="unknown distortion model"):
        CalibrationConfig(distortion="k9")
    assert PRESETS["fisheye"].distortion_mask == (True, True, True, True, False)


def test_report_files(solved, tmp_path):
    est, report = solved
    written = write_report(report, est, tmp_path / "calibration.toml")
    names = sorted(p.name for p in written)
    assert names == ["calibration_coverage.png", "calibration_errors.png", "calibration_report.json",
                     "calibration_rig.png"]
    for p in written:
        assert p.stat().st_size > 1000
    data = json.loads((tmp_path / "calibration_report.json").read_text())
    assert [c["name"] for c in data["cameras"]] == ["A", "B", "C", "D"]
    assert data["median_px"] == pytest.approx(report.median_px)
    assert all(c["p90_px"] >= c["median_px"] for c in data["cameras"])
    assert "A" in report.table()


@pytest.mark.parametrize(
    ("name", "expected"), [("cam-A.mp4", "A"), ("cam_2.avi", "2"), ("left.mp4", "left"), ("camera-top", "top")]
)
def test_camera_names_from_paths(tmp_path, name, expected):
    from pathlib import Path

    assert camera_name_from_path(Path(name)) == expected


def test_rig_errors_ignore_a_similarity_of_the_world(scene):
    true, _, _, _ = scene
    # the same cameras in a world rotated, shifted and scaled by 2: no error but the scale
    rot = Rotation.from_rotvec([0.3, -0.2, 0.1]).as_matrix()
    T = np.eye(4)
    T[:3, :3] = rot
    T[:3, 3] = [100.0, -50.0, 20.0]
    moved = to_transform(true.rvec, true.tvec) @ invert_transform(T)  # world' = T world
    rvec, tvec = from_transform(moved)
    other = true.replace(rvec=rvec, tvec=tvec * 2.0)
    err = rig_errors(true, other)
    assert err["scale"] == pytest.approx(0.5)
    np.testing.assert_allclose(err["centre"], 0, atol=1e-9)
    np.testing.assert_allclose(err["rotation_deg"], 0, atol=1e-6)
    np.testing.assert_allclose(err["focal_pct"], 0, atol=1e-12)


def test_lens_model_rms_measures_principal_point_and_shape(scene):
    true, _, _, _ = scene
    k = true.K.copy()
    k[:, 0, 2] += 3.0
    shifted = true.replace(K=k)
    np.testing.assert_allclose(lens_model_rms(true, shifted), 3.0, atol=1e-6)  # every pixel moves by 3 px
    assert lens_model_rms(true, shifted, align_rotation=True).max() < 0.3  # mostly a rotation
    d = true.dist.copy()
    d[:, 0] += 0.01
    assert lens_model_rms(true, true.replace(dist=d), align_rotation=True).min() > 1.0  # a real change of shape


def test_fisheye_rig_is_recovered():
    from _calib_scene import board_poses, make_rig, project_board

    from mocap3d.calibration.boards import Checkerboard
    from mocap3d.calibration.detect import Detections

    true = make_rig().replace(fisheye=np.ones(4, bool), dist=np.tile([0.08, -0.03, 0.01, -0.002, 0.0], (4, 1)))
    board = Checkerboard(9, 6, 60.0)
    corners = project_board(true, board, board_poses(board, 40, 0), 0.2, 1)
    det = Detections(cameras=true.names, image_sizes=true.sizes, frames=np.arange(40), corners=corners, board=board)
    est, report = calibrate(det, CalibrationConfig(fisheye=True))
    assert est.fisheye.all()
    err = compare_rigs(true, est)
    assert err["focal_pct"] < 0.2 and err["pp_px"] < 2.0 and err["centre_mm"] < 2.0 and err["rot_deg"] < 0.1
    assert report.median_px < 0.3


def test_wrongly_numbered_view_is_dropped_from_intrinsics(scene):
    from mocap3d.calibration.intrinsics import calibrate_camera

    true, board, _, det = scene
    obj = board.object_points()
    corners = det.corners[1].copy()
    usable = usable_views(corners, obj, 6)
    views = select_views(corners, obj, (1280, 1024), usable, 15)
    full = [v for v in views if np.isfinite(corners[v]).all()]
    # rows numbered out of order (a mis-read board): no board pose explains it (a half turn or mirror could be)
    corners[full[0]] = corners[full[0]].reshape(6, 9, 2)[[3, 4, 5, 0, 1, 2]].reshape(54, 2)
    k, _, _, kept = calibrate_camera(corners, obj, (1280, 1024), views, (True, True, False, False, False))
    assert full[0] not in kept and len(kept) == len(views) - 1
    assert abs(k[0, 0] / true.K[1, 0, 0] - 1) < 0.005
