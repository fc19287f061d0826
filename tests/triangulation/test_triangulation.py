"""Triangulation: DLT, robust subset selection, the full `triangulate` entry point.

Sections: geometry properties (project then triangulate), agreement with an
independent SVD implementation and with aniposelib, robustness to outliers
and missing views, accuracy on the sample rig against aniposelib's RANSAC,
and the Pose2Sim demo reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocap3d.errors import MocapError, TriangulationError
from mocap3d.io.matching import InputMatching
from mocap3d.poses import Poses2D
from mocap3d.sample import make_rig, make_sample
from mocap3d.triangulation import TriangulationConfig, triangulate, triangulate_dlt, triangulate_robust


def svd_dlt(P, pts, w):
    """Reference: the textbook weighted DLT, one SVD per point (as Pose2Sim/aniposelib do)."""
    out = []
    for n in range(pts.shape[1]):
        rows = []
        for c in range(P.shape[0]):
            x, y = pts[c, n]
            rows += [w[c, n] * (x * P[c, 2] - P[c, 0]), w[c, n] * (y * P[c, 2] - P[c, 1])]
        v = np.linalg.svd(np.array(rows))[2][-1]
        out.append(v[:3] / v[3])
    return np.array(out)


@pytest.fixture(scope="module")
def rig():
    return make_rig(n_cameras=4, seed=3)


# ----------------------------------------------------------------------------- geometry


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_cameras=st.integers(2, 6),
    spread=st.floats(10.0, 800.0),
)
def test_project_then_triangulate_returns_the_point(seed, n_cameras, spread):
    rig = make_rig(n_cameras=n_cameras, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(0, spread, (50, 3)) + [0, 0, 900]
    observed = rig.project(X)
    visible = (rig.in_image(observed) & (rig.depths(X) > 0)).all(0)  # the property is about points the rig sees
    pts = rig.undistort_points(observed)
    Y = triangulate_dlt(rig.projection_matrices(), pts)
    np.testing.assert_allclose(Y[visible], X[visible], atol=1e-6 * max(spread, 1.0))


def test_dlt_matches_per_point_svd_with_noise_and_weights(rig):
    rng = np.random.default_rng(1)
    X = rng.normal(0, 300, (400, 3)) + [0, 0, 900]
    P = rig.projection_matrices()
    pts = rig.project(X, distort=False) + rng.normal(0, 3.0, (4, 400, 2))
    w = rng.uniform(0.2, 1.0, (4, 400))
    np.testing.assert_allclose(triangulate_dlt(P, pts, w), svd_dlt(P, pts, w), atol=1e-8)


def test_dlt_shapes_and_missing_views(rig):
    P = rig.projection_matrices()
    X = np.array([[0.0, 0, 900], [100, 50, 1000]])
    pts = rig.project(X, distort=False)  # (4, 2, 2)
    pts[1:, 0] = np.nan  # point 0 seen by one camera only
    Y = triangulate_dlt(P, pts.reshape(4, 1, 2, 2))
    assert Y.shape == (1, 2, 3)
    assert np.isnan(Y[0, 0]).all()
    np.testing.assert_allclose(Y[0, 1], X[1], atol=1e-6)


def test_dlt_agrees_with_aniposelib_on_exact_data(rig, tmp_path):
    cameras = pytest.importorskip("aniposelib.cameras")
    from mocap3d.io.calibration import save_calibration

    save_calibration(rig, tmp_path / "calibration.toml")
    group = cameras.CameraGroup.load(str(tmp_path / "calibration.toml"))
    X = np.random.default_rng(2).normal(0, 300, (200, 3)) + [0, 0, 900]
    observed = rig.project(X)
    theirs = group.triangulate(observed)
    ours = triangulate_dlt(rig.projection_matrices(), rig.undistort_points(observed))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(ours, X, atol=1e-6)


# ----------------------------------------------------------------------------- robust


def test_robust_drops_the_camera_with_a_confident_outlier(rig):
    rng = np.random.default_rng(4)
    X = rng.normal(0, 300, (300, 3)) + [0, 0, 900]
    P = rig.projection_matrices()
    pts = rig.project(X, distort=False) + rng.normal(0, 1.0, (4, 300, 2))
    bad_cam = rng.integers(0, 4, 300)
    pts[bad_cam, np.arange(300)] += rng.choice([-1, 1], (300, 2)) * rng.uniform(60, 200, (300, 2))
    w = np.ones((4, 300))
    Y, used, err = triangulate_robust(P, pts, w, threshold=8.0)
    assert not used[bad_cam, np.arange(300)].any()
    assert (used.sum(0) == 3).all()
    assert np.nanmax(err) <= 8.0
    assert np.median(np.linalg.norm(Y - X, axis=1)) < 5.0
    plain = triangulate_dlt(P, pts, w)
    assert np.median(np.linalg.norm(plain - X, axis=1)) > 3 * np.median(np.linalg.norm(Y - X, axis=1))


def test_robust_uses_all_cameras_when_consistent(rig):
    X = np.random.default_rng(5).normal(0, 300, (100, 3)) + [0, 0, 900]
    P = rig.projection_matrices()
    pts = rig.project(X, distort=False)
    Y, used, err = triangulate_robust(P, pts, np.ones((4, 100)))
    assert used.all()
    np.testing.assert_allclose(Y, X, atol=1e-6)
    assert np.nanmax(err) < 1e-6


def test_robust_points_without_enough_views_are_nan_not_a_crash(rig):
    """aniposelib's triangulate_ransac raises 'Need at least one array to stack' here."""
    P = rig.projection_matrices()
    pts = np.full((4, 3, 2), np.nan)
    pts[0, 1] = [600.0, 500.0]  # one view only
    pts[:, 2] = rig.project(np.array([[0.0, 0.0, 900.0]]), distort=False)[:, 0]
    Y, used, err = triangulate_robust(P, pts, np.ones((4, 3)))
    assert np.isnan(Y[:2]).all() and not used[:, :2].any()
    np.testing.assert_allclose(Y[2], [0, 0, 900], atol=1e-6)


def test_robust_respects_min_cameras_and_max_excluded(rig):
    rng = np.random.default_rng(6)
    X = rng.normal(0, 200, (50, 3)) + [0, 0, 900]
    P = rig.projection_matrices()
    pts = rig.project(X, distort=False)
    pts[:2] += 300.0  # two of four cameras wrong for every point
    Y, used, _ = triangulate_robust(P, pts, np.ones((4, 50)), threshold=5.0, min_cameras=3)
    assert np.isnan(Y).all()  # would need two cameras left out of four
    Y, used, _ = triangulate_robust(P, pts, np.ones((4, 50)), threshold=5.0, max_excluded=1)
    assert np.isnan(Y).all()
    Y, used, _ = triangulate_robust(P, pts, np.ones((4, 50)), threshold=5.0)
    np.testing.assert_allclose(Y, X, atol=1e-6)
    assert not used[:2].any()


# ----------------------------------------------------------------------------- entry point


@pytest.fixture(scope="module")
def sample():
    return make_sample(n_frames=120, seed=1)


def test_triangulate_reports_diagnostics(sample):
    poses = triangulate(sample.poses2d, sample.rig, TriangulationConfig(method="robust"))
    ok = np.isfinite(poses.points).all(-1)
    assert ok.mean() > 0.9
    assert (poses.ncams[ok] >= 2).all() and (poses.ncams[~ok] == 0).all()
    assert (poses.cameras_used.sum(-1) == poses.ncams).all()
    assert np.nanmax(poses.error) < 15.0 * 1.2  # selected below 15 px in ideal pixels; reported in the real image
    assert ((poses.score[ok] >= 0.3) & (poses.score[ok] <= 1.0)).all()
    # an outlier observation is never among the cameras used when the point came out right
    err = np.linalg.norm(poses.points - sample.truth.points, axis=-1)
    good = ok & (err < 20)
    outl = sample.outliers.transpose(1, 2, 0)  # (F, K, V)
    big = outl & (np.linalg.norm(sample.poses2d.points - sample.rig.project(sample.truth.points), axis=-1)
                  .transpose(1, 2, 0) > 40)  # fmt: skip
    assert not (poses.cameras_used & big & good[..., None]).any()


def test_camera_order_does_not_matter(sample):
    p = sample.poses2d
    order = [2, 0, 3, 1]
    shuffled = Poses2D(views=[p.views[i] for i in order], keypoints=p.keypoints, points=p.points[order],
                       scores=p.scores[order])  # fmt: skip
    a = triangulate(p, sample.rig)
    b = triangulate(shuffled, sample.rig)
    np.testing.assert_allclose(a.points, b.points, atol=1e-9)


def test_errors_are_explained(sample):
    p = sample.poses2d
    low = Poses2D(views=p.views, keypoints=p.keypoints, points=p.points, scores=p.scores * 0.1)
    with pytest.raises(TriangulationError, match="score-threshold"):
        triangulate(low, sample.rig)
    one = Poses2D(views=p.views[:1], keypoints=p.keypoints, points=p.points[:1], scores=p.scores[:1])
    with pytest.raises(TriangulationError, match="at least two views"):
        triangulate(one, sample.rig)
    renamed = Poses2D(views=("cam1", "cam2", "cam3", "camX"), keypoints=p.keypoints, points=p.points,
                      scores=p.scores)  # fmt: skip
    with pytest.raises(MocapError, match="camX"):
        triangulate(renamed, sample.rig)
    with pytest.raises(MocapError, match="unknown triangulation option"):
        TriangulationConfig.from_dict({"metod": "dlt"})
    with pytest.raises(MocapError, match="min_cameras"):
        TriangulationConfig(min_cameras=1)


def test_robust_beats_aniposelib_ransac_on_the_sample(tmp_path):
    """Same input to both; aniposelib's RANSAC is slow (ms per point), so a subset of frames."""
    cameras = pytest.importorskip("aniposelib.cameras")
    from mocap3d.io.calibration import save_calibration

    s = make_sample(n_frames=20, seed=7)
    save_calibration(s.rig, tmp_path / "calibration.toml")
    group = cameras.CameraGroup.load(str(tmp_path / "calibration.toml"))
    ours = triangulate(s.poses2d, s.rig, TriangulationConfig(method="robust", score_threshold=0.0))
    pts = s.poses2d.points.reshape(4, -1, 2)
    enough = (np.isfinite(pts).all(-1).sum(0) >= 2)  # aniposelib crashes on points with fewer views
    theirs = np.full((pts.shape[1], 3), np.nan)
    theirs[enough] = group.triangulate_ransac(pts[:, enough], min_cams=2, progress=False)[0]
    truth = s.truth.points.reshape(-1, 3)
    e_ours = np.linalg.norm(ours.points.reshape(-1, 3) - truth, axis=1)[enough]
    e_theirs = np.linalg.norm(theirs - truth, axis=1)[enough]
    assert np.nanmedian(e_ours) <= np.nanmedian(e_theirs)
    assert np.nanpercentile(e_ours, 90) <= np.nanpercentile(e_theirs, 90)


# ----------------------------------------------------------------------------- Pose2Sim


P2S_MARKERS = ["RHip", "RKnee", "RAnkle", "RBigToe", "RSmallToe", "RHeel", "LHip", "LKnee", "LAnkle", "LBigToe",
               "LSmallToe", "LHeel", "Neck", "Head", "Nose", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow",
               "LWrist"]  # fmt: skip


def test_pose2sim_demo_reference(dataset):
    """Pose2Sim's raw TRC: exact where it used all four cameras, its camera choice elsewhere."""
    from mocap3d.io.calibration import load_calibration
    from mocap3d.io.pose2d import load_track2d
    from mocap3d.io.pose3d import load_trc

    root = dataset("pose2sim-demo") / "Pose2Sim" / "S00_Demo_Session"
    trial = root / "S00_P00_SingleParticipant" / "S00_P00_T01_BalancingTrial"
    rig = load_calibration(root / "S00_Calibration" / "Calib_qualisys.toml")
    tracks = {
        cam: load_track2d(trial / "pose-associated" / f"{cam.replace('_', '')}_json", keypoint_preset="BODY_25B")
        for cam in rig.names
    }
    poses2d = Poses2D.from_tracks(tracks, keypoints=P2S_MARKERS)
    ref = load_trc(trial / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc", yup=True)
    assert ref.keypoints == tuple(P2S_MARKERS)
    ours = triangulate(poses2d, rig, TriangulationConfig.from_dict({"preset": "pose2sim"}))
    dist = np.linalg.norm(ours.points - ref.points, axis=-1)
    all_four = ours.ncams == 4
    assert all_four.sum() > 500
    assert np.nanmax(dist[all_four]) < 1e-6
    triangulated = np.isfinite(ours.points).all(-1)
    # Points Pose2Sim could not triangulate were interpolated by it; we leave them NaN.
    assert triangulated.sum() >= 0.95 * np.isfinite(ref.points).all(-1).sum()
    assert np.mean(dist[triangulated] < 1e-3) >= 0.95


def test_config_reads_anipose_project_files(dataset, tmp_path):
    path = dataset("aniposelib-tests") / "tests/data/calib/7cam-allen-mouse/config.toml"
    cfg = TriangulationConfig.from_toml(path)
    assert cfg.method == "optim" and InputMatching.from_toml(path).cam_regex == "(cam[0-9]+)_"
    assert cfg.score_threshold == 0.4 and cfg.n_deriv_smooth == 3 and cfg.chunk_frames == 1000
    assert ("nose", "L-ear") in cfg.constraints and len(cfg.constraints_weak) == 18
    flat = tmp_path / "flat.toml"
    flat.write_text('method = "dlt"\nmin_cameras = 3\n\n[[filter3d]]\ntype = "median"\n')
    assert TriangulationConfig.from_toml(flat).min_cameras == 3
    ransac = tmp_path / "anipose.toml"
    ransac.write_text('nesting = 1\n[triangulation]\nransac = true\nreproj_error_threshold = 8\naxes = []\n')
    cfg = TriangulationConfig.from_toml(ransac)
    assert cfg.method == "robust" and cfg.reproj_threshold == 8


def test_summary_median_is_numpys_nanmedian():
    """The summary's median (written without numpy.ma's import) equals ``np.nanmedian`` on odd, even, all-NaN."""
    from mocap3d.triangulation.triangulate_stage import _median

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 11, 1000, 1001):
        x = rng.normal(size=n)
        x[rng.random(n) < 0.3] = np.nan
        expected = np.nanmedian(x) if np.isfinite(x).any() else np.nan
        np.testing.assert_equal(_median(x), expected)
    assert np.isnan(_median(np.full(4, np.nan)))
