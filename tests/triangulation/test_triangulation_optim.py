"""Spatiotemporal triangulation (``method = "optim"``).

Sections: building blocks (projection and its derivative, gap interpolation,
finite differences), the normal equations against finite differences of the
objective, accuracy on the sample rig's ground truth (against the robust
frame-by-frame method, limb lengths, outliers, gaps, chunks), configuration
and the command line.
"""

from __future__ import annotations

import numpy as np
import pytest
import toml
from click.testing import CliRunner

from mocap3d.camera import CameraRig
from mocap3d.cli import cli
from mocap3d.errors import MocapError, TriangulationError
from mocap3d.io.pose3d import load_h5
from mocap3d.poses import Poses2D
from mocap3d.sample import make_sample, write_sample
from mocap3d.triangulation import TriangulationConfig, triangulate
from mocap3d.triangulation.optim import (
    _cost,
    _difference_adjoint,
    _difference_coefficients,
    _normal_equations,
    _Problem,
    _smooth_band,
    interpolate_gaps,
    optimize_trajectories,
    project_with_jacobian,
    robust_loss,
)


def errors(points, truth):
    return np.linalg.norm(points - truth, axis=-1)


@pytest.fixture(scope="module")
def sample():
    return make_sample(n_frames=240, seed=1)


@pytest.fixture(scope="module")
def limbs(sample):
    return [list(pair) for pair in sample.limbs]


@pytest.fixture(scope="module")
def robust(sample):
    return triangulate(sample.poses2d, sample.rig, TriangulationConfig(method="robust"))


@pytest.fixture(scope="module")
def optim(sample, limbs):
    return triangulate(sample.poses2d, sample.rig, TriangulationConfig(method="optim", constraints=limbs))


# ----------------------------------------------------------------------------- building blocks
def _fisheye_rig(rig: CameraRig) -> CameraRig:
    dist = np.array(rig.dist)
    dist[[0, 2], :] = [[0.02, -0.01, 0.003, -0.001, 0.0], [-0.03, 0.01, 0.0, 0.0, 0.0]]
    return rig.replace(fisheye=[True, False, True, False], dist=dist)


@pytest.mark.parametrize("fisheye", [False, True])
def test_projection_matches_rig_and_its_derivative(sample, fisheye):
    rig = _fisheye_rig(sample.rig) if fisheye else sample.rig
    rng = np.random.default_rng(0)
    X = rng.normal(0, 600, (200, 3)) + [0, 0, 900]
    X[0] = [0.0, 0.0, 900.0]  # on the rig's aim: near the optical axes
    cams = rng.integers(0, rig.n_cameras, len(X))
    pix, jac = project_with_jacobian(rig, X, cams)
    np.testing.assert_allclose(pix, rig.project(X)[cams, np.arange(len(X))], atol=1e-9)
    h = 1e-4
    numeric = np.stack(
        [(project_with_jacobian(rig, X + h * e, cams, False)[0] - project_with_jacobian(rig, X - h * e, cams, False)[0])
         / (2 * h) for e in np.eye(3)], -1,
    )  # fmt: skip
    np.testing.assert_allclose(jac, numeric, atol=1e-7 * np.abs(numeric).max())
    undist, _ = project_with_jacobian(rig, X, cams, jacobian=False, distort=False)
    np.testing.assert_allclose(undist, rig.project(X, distort=False)[cams, np.arange(len(X))], atol=1e-9)


def test_interpolate_gaps_linear_held_and_never_seen():
    t = np.arange(10.0)
    pts = np.stack([np.stack([t, 2 * t, -t], -1), np.full((10, 3), np.nan)], 1)  # (10, 2, 3)
    pts[[0, 1, 4, 5, 6, 9], 0] = np.nan
    filled, observed = interpolate_gaps(pts)
    expected = np.stack([t, 2 * t, -t], -1)
    expected[:2] = expected[2]  # held before the first observation
    expected[9] = expected[8]  # and after the last
    np.testing.assert_allclose(filled[:, 0], expected)
    assert np.isnan(filled[:, 1]).all()
    assert observed[:, 0].tolist() == [False, False, True, True, False, False, False, True, True, False]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_difference_operator_and_its_adjoint(n):
    rng = np.random.default_rng(n)
    x, r = rng.normal(size=(20, 4)), rng.normal(size=(20 - n, 4))
    c = _difference_coefficients(n)
    np.testing.assert_allclose(np.diff(x, n, axis=0)[0], (c[:, None] * x[: n + 1]).sum(0))
    assert np.isclose((np.diff(x, n, axis=0) * r).sum(), (x * _difference_adjoint(r, n)).sum())


def test_robust_losses():
    z = np.array([0.0, 1.0, 4.0, 100.0, 1e4])
    for kind in ("soft_l1", "huber", "linear"):
        rho, drho = robust_loss(z, kind, 2.0)
        assert np.allclose(rho[:2], z[:2], rtol=0.2) and (np.diff(rho) > 0).all()
        h = 1e-6
        numeric = (robust_loss(z + h, kind, 2.0)[0] - robust_loss(np.maximum(z - h, 0), kind, 2.0)[0]) / (
            z + h - np.maximum(z - h, 0)
        )
        np.testing.assert_allclose(drho[1:], numeric[1:], rtol=1e-5)
    assert robust_loss(np.array([1e4]), "soft_l1", 2.0)[0][0] < 1e3  # grows like the distance, not its square


# ----------------------------------------------------------------------------- normal equations
def _small_problem(loss: str) -> tuple[_Problem, np.ndarray]:
    s = make_sample(n_frames=7, seed=3)
    k = [0, 2, 4, 6]  # head, l_shoulder, l_elbow, l_wrist
    pts, scores = s.poses2d.points[:, :, k], s.poses2d.scores[:, :, k]
    cam, frame, kp = np.nonzero(np.isfinite(pts).all(-1))
    pairs = np.array([[2, 1], [3, 2], [3, 0]])
    problem = _Problem(
        rig=s.rig, distort=True, n_frames=7, n_points=4, obs_cam=cam, obs_point=frame * 4 + kp,
        obs_xy=pts[cam, frame, kp], obs_weight=scores[cam, frame, kp], pairs=pairs,
        pair_weight=np.array([2.0, 0.5, 1.0]), smooth=0.05, n_deriv=2, loss=loss, loss_scale=3.0,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    X = s.truth.points[:, k] + rng.normal(0, 20, (7, 4, 3))
    lengths = np.linalg.norm(X[0, pairs[:, 0]] - X[0, pairs[:, 1]], axis=-1) * 1.05
    return problem, np.concatenate([X.ravel(), lengths])


def _dense(band: np.ndarray) -> np.ndarray:
    n = band.shape[1]
    full = np.zeros((n, n))
    for d in range(band.shape[0]):
        idx = np.arange(n - d)
        full[idx + d, idx] = band[d, : n - d]
        full[idx, idx + d] = band[d, : n - d]
    return full


@pytest.mark.parametrize("loss", ["linear", "soft_l1", "huber"])
def test_gradient_matches_finite_differences_of_the_objective(loss):
    problem, x = _small_problem(loss)
    cost, _, _, _, grad = _normal_equations(problem, x, _smooth_band(problem))
    assert np.isclose(cost, _cost(problem, x))
    h = 1e-5
    numeric = np.array([(_cost(problem, x + h * e) - _cost(problem, x - h * e)) / (2 * h) for e in np.eye(len(x))])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max())


def test_normal_matrix_is_jt_j_of_the_residuals():
    """With the plain quadratic loss, the band + coupling + length blocks are exactly J^T J."""
    problem, x = _small_problem("linear")
    _, band, coupling, d_len, _ = _normal_equations(problem, x, _smooth_band(problem))

    def residuals(p):
        X = p[: problem.n_coords].reshape(problem.n_frames, problem.n_points, 3)
        L = p[problem.n_coords :]
        pix, _ = project_with_jacobian(problem.rig, X.reshape(-1, 3)[problem.obs_point], problem.obs_cam, False)
        e = problem.obs_weight[:, None] * (pix - problem.obs_xy)
        v = np.linalg.norm(X[:, problem.pairs[:, 0]] - X[:, problem.pairs[:, 1]], axis=-1)
        lres = 100 * problem.pair_weight * (v / L - 1)
        return np.concatenate([e.ravel(), problem.smooth * np.diff(X, 2, axis=0).ravel(), lres.ravel()])

    h = 1e-6
    J = np.stack([(residuals(x + h * e) - residuals(x - h * e)) / (2 * h) for e in np.eye(len(x))], -1)
    jtj = J.T @ J
    n = problem.n_coords
    scale = np.abs(jtj).max()
    np.testing.assert_allclose(_dense(band), jtj[:n, :n], atol=1e-6 * scale)
    np.testing.assert_allclose(coupling, jtj[:n, n:], atol=1e-6 * scale)
    np.testing.assert_allclose(d_len, jtj[n:, n:], atol=1e-6 * scale)


@pytest.mark.parametrize("loss", ["linear", "soft_l1"])
def test_same_optimum_as_scipy_least_squares(loss):
    """The band LM solver and a generic trust-region solver (scipy, finite differences) agree."""
    from scipy.optimize import least_squares

    s = make_sample(n_frames=8, seed=8)
    k = [9, 11, 13]  # l_hip, l_knee, l_ankle
    pts, scores = s.poses2d.points[:, :, k], s.poses2d.scores[:, :, k]
    pairs = np.array([[1, 0], [2, 1]])
    rng = np.random.default_rng(2)
    start = s.truth.points[:, k] + rng.normal(0, 15, (8, 3, 3))
    kwargs = dict(scale_smooth=4.0, n_deriv_smooth=2, loss=loss, loss_scale=3.0, smooth_unit=10.0)
    ours = optimize_trajectories(s.rig, pts, scores, start, pairs, np.array([2.0, 0.5]), outlier_threshold=None,
                                 ftol=1e-14, max_iterations=100, **kwargs)  # fmt: skip
    cam, frame, kp = np.nonzero(np.isfinite(pts).all(-1) & (scores > 0))

    def residuals(p):
        X, L = p[:72].reshape(8, 3, 3), p[72:]
        pix, _ = project_with_jacobian(s.rig, X[frame, kp], cam, False)
        e = scores[cam, frame, kp, None] * (pix - pts[cam, frame, kp])
        z = (e * e).sum(-1)
        rho, _ = robust_loss(z, loss, 3.0)
        e = e * np.sqrt(rho / np.maximum(z, 1e-300))[:, None]  # |e'|^2 = rho(|e|^2)
        v = np.linalg.norm(X[:, pairs[:, 0]] - X[:, pairs[:, 1]], axis=-1)
        lres = 100 * np.array([2.0, 0.5]) * (v / L - 1)
        return np.concatenate([e.ravel(), 0.4 * np.diff(X, 2, axis=0).ravel(), lres.ravel()])

    x0 = np.concatenate([start.ravel(), np.median(np.linalg.norm(start[:, [1, 2]] - start[:, [0, 1]], axis=-1), 0)])
    ref = least_squares(residuals, x0, method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    assert ours.converged and np.isclose(ours.cost, ref.cost, rtol=1e-9)
    np.testing.assert_allclose(ours.points.ravel(), ref.x[:72], atol=5e-3)  # mm (scipy stops on its own tolerances)
    np.testing.assert_allclose(ours.lengths, ref.x[72:], atol=1e-3)


# ----------------------------------------------------------------------------- accuracy (sample rig)
def test_optim_beats_robust_frame_by_frame(sample, robust, optim):
    truth = sample.truth.points
    e_r, e_o = errors(robust.points, truth), errors(optim.points, truth)
    assert np.isfinite(e_o).all()  # every gap of the sample is short enough to bridge
    assert np.median(e_o) <= 0.5 * np.nanmedian(e_r)
    assert np.percentile(e_o, 99) <= 0.2 * np.nanpercentile(e_r, 99)
    assert np.median(e_o) < 3.5  # mm; 1.5 px noise at 5 m is ~7 mm per ray


def test_huber_loss_as_accurate(sample, limbs, optim):
    cfg = TriangulationConfig(method="optim", constraints=limbs, reproj_loss="huber")
    huber = triangulate(sample.poses2d, sample.rig, cfg)
    truth = sample.truth.points
    assert np.median(errors(huber.points, truth)) < 1.1 * np.median(errors(optim.points, truth))


def test_outputs_describe_the_solution(sample, optim):
    """error / ncams / cameras_used / score are recomputed from the returned points and the 2D input."""
    v = len(sample.poses2d.views)
    used = optim.cameras_used.transpose(2, 0, 1)  # (V, F, K)
    dist = np.linalg.norm(sample.rig.project(optim.points) - sample.poses2d.points, axis=-1)
    valid = sample.poses2d.scores >= 0.3
    assert not (used & ~valid).any()
    np.testing.assert_array_equal(used, valid & (dist <= 10.0))  # the outlier gate's threshold
    np.testing.assert_array_equal(optim.ncams, used.sum(0))
    seen = optim.ncams > 0
    n = optim.ncams[seen]
    np.testing.assert_allclose(optim.error[seen], np.where(used, dist, 0).sum(0)[seen] / n)
    # the smallest score of the cameras used (anipose's _score)
    np.testing.assert_allclose(optim.score[seen], np.where(used, sample.poses2d.scores, np.inf).min(0)[seen])
    assert np.isnan(optim.error[~seen]).all() and (optim.score[~seen] == 0).all()
    assert optim.views == sample.poses2d.views and optim.cameras_used.shape[-1] == v
    meta = optim.metadata
    assert meta["triangulation"]["method"] == "optim" and meta["triangulation"]["scale_smooth"] == 4.0
    assert meta["optim"]["rejected_observations"][0] > 0.5 * sample.outliers.sum()


def test_limb_lengths_recovered(sample, optim):
    found = optim.metadata["optim"]["limb_lengths"]
    assert set(found) == {f"{a}-{b}" for a, b in sample.limbs}
    for (a, b), true in sample.limbs.items():
        assert abs(found[f"{a}-{b}"] - true) < 2.0, (a, b, found[f"{a}-{b}"], true)  # mm
    # and the output's segments keep those lengths frame by frame
    idx = {k: i for i, k in enumerate(optim.keypoints)}
    for (a, b), true in sample.limbs.items():
        seg = np.linalg.norm(optim.points[:, idx[a]] - optim.points[:, idx[b]], axis=-1)
        assert np.std(seg) < 1.5 and abs(np.median(seg) - true) < 2.0


def test_gaps_are_filled_close_to_the_truth(sample, robust, optim):
    gaps = ~np.isfinite(robust.points).all(-1)
    assert gaps.sum() > 10
    e = errors(optim.points, sample.truth.points)
    assert np.median(e[gaps]) <= 2 * np.median(e)


def test_robust_to_confident_outliers_from_the_default_start(limbs):
    s = make_sample(n_frames=120, seed=4, outlier_fraction=0.25)
    out = triangulate(s.poses2d, s.rig, TriangulationConfig(method="optim", constraints=limbs))
    e = errors(out.points, s.truth.points)
    assert np.median(e) < 4.0 and np.percentile(e, 99) < 20.0
    # the rejected observations are (nearly all) the planted outliers
    used = out.cameras_used.transpose(2, 0, 1)
    assert (used & s.outliers).sum() < 0.1 * s.outliers.sum()
    assert (~used & ~s.outliers & (s.poses2d.scores > 0)).mean() < 0.01


def test_outlier_gate_improves_on_the_robust_loss_alone(sample, limbs, optim):
    plain = triangulate(
        sample.poses2d, sample.rig, TriangulationConfig(method="optim", constraints=limbs, outlier_threshold=0)
    )
    assert plain.metadata["optim"]["rejected_observations"] == [0]
    truth = sample.truth.points
    assert np.median(errors(optim.points, truth)) < np.median(errors(plain.points, truth))


def test_chunks_join_without_seams(sample, limbs, optim):
    cfg = TriangulationConfig(method="optim", constraints=limbs, chunk_frames=100, chunk_overlap=40)
    chunked = triangulate(sample.poses2d, sample.rig, cfg)
    chunks = chunked.metadata["optim"]["chunks"]
    assert len(chunks) == 4 and chunks[0][0] == 0 and chunks[-1][1] == 240
    assert all(b[0] == a[1] - 40 for a, b in zip(chunks, chunks[1:], strict=False))
    truth = sample.truth.points
    assert np.median(errors(chunked.points, truth)) < 1.1 * np.median(errors(optim.points, truth))
    assert np.max(errors(chunked.points, optim.points)) < 3.0  # mm, against a 1.5 px noise floor of ~3 mm
    # no jump at the seams: frame-to-frame changes of the chunked result there match the unchunked ones
    step = np.linalg.norm(np.diff(chunked.points, axis=0), axis=-1)
    step_ref = np.linalg.norm(np.diff(optim.points, axis=0), axis=-1)
    assert np.abs(step - step_ref).max() < 0.5  # mm per frame


def test_long_recordings_are_chunked_past_the_memory_budget(sample, limbs, optim, monkeypatch):
    from mocap3d.triangulation import optim as module

    k = len(sample.poses2d.keypoints)
    monkeypatch.setattr(module, "_BAND_MEMORY", 8 * 3 * k * (3 * k * 2 + 1) * 130)  # 130 frames' worth
    out = triangulate(sample.poses2d, sample.rig, TriangulationConfig(method="optim", constraints=limbs))
    assert out.metadata["optim"]["chunks"] == [[0, 130], [70, 200], [140, 240]]  # overlap 60 (default)
    assert np.max(errors(out.points, optim.points)) < 3.0


def test_long_unseen_runs_stay_gaps(limbs):
    s = make_sample(n_frames=150, seed=5)
    pts, scores = s.poses2d.points.copy(), s.poses2d.scores.copy()
    wrist = s.poses2d.keypoints.index("l_wrist")
    pts[:, 40:90, wrist] = np.nan  # 50 frames unseen by every camera
    scores[:, 40:90, wrist] = 0
    poses = Poses2D(views=s.poses2d.views, keypoints=s.poses2d.keypoints, points=pts, scores=scores, fps=60)
    short = triangulate(poses, s.rig, TriangulationConfig(method="optim", constraints=limbs, max_gap=30))
    assert np.isnan(short.points[40:90, wrist]).all()
    assert np.isfinite(np.delete(short.points, wrist, axis=1)).all()
    long = triangulate(poses, s.rig, TriangulationConfig(method="optim", constraints=limbs, max_gap=60))
    assert np.isfinite(long.points[40:90, wrist]).all()
    assert (long.ncams[40:90, wrist] == 0).all() and np.isnan(long.error[40:90, wrist]).all()


def test_body_part_never_seen_is_nan_and_others_unaffected():
    s = make_sample(n_frames=80, seed=6)
    pts, scores = s.poses2d.points.copy(), s.poses2d.scores.copy()
    pts[:, :, 0] = np.nan
    scores[:, :, 0] = 0
    poses = Poses2D(views=s.poses2d.views, keypoints=s.poses2d.keypoints, points=pts, scores=scores, fps=60)
    out = triangulate(poses, s.rig, TriangulationConfig(method="optim", constraints=[["head", "neck"]]))
    assert np.isnan(out.points[:, 0]).all() and out.metadata["optim"]["limb_lengths"] == {}
    assert np.median(errors(out.points[:, 1:], s.truth.points[:, 1:])) < 4.0


@pytest.mark.parametrize("n_frames", [1, 2, 3])
def test_recordings_shorter_than_the_derivative(sample, limbs, n_frames):
    poses = Poses2D(views=sample.poses2d.views, keypoints=sample.poses2d.keypoints,
                    points=sample.poses2d.points[:, 30 : 30 + n_frames],
                    scores=sample.poses2d.scores[:, 30 : 30 + n_frames])  # fmt: skip
    out = triangulate(poses, sample.rig, TriangulationConfig(method="optim", constraints=limbs))
    assert out.points.shape == (n_frames, len(poses.keypoints), 3)
    assert np.nanmedian(errors(out.points, sample.truth.points[30 : 30 + n_frames])) < 10.0


def test_optimize_trajectories_recovers_truth_from_a_poor_start(sample):
    """The solver on its own: a 30 mm-noisy start converges to the noise floor, lengths included."""
    s = make_sample(n_frames=60, seed=7, outlier_fraction=0.0, occlusion=False)
    rng = np.random.default_rng(1)
    start = s.truth.points + rng.normal(0, 30, s.truth.points.shape)
    pairs = np.array([[s.truth.keypoints.index(a), s.truth.keypoints.index(b)] for a, b in s.limbs])
    res = optimize_trajectories(s.rig, s.poses2d.points, np.ones(s.poses2d.scores.shape), start, pairs,
                                np.full(len(pairs), 2.0))  # fmt: skip
    assert res.converged and res.cost < 0.01 * res.initial_cost
    assert np.median(errors(res.points, s.truth.points)) < 3.0
    np.testing.assert_allclose(res.lengths, list(s.limbs.values()), atol=3.0)


# ----------------------------------------------------------------------------- configuration and CLI
def test_config_checks_and_toml(tmp_path):
    cfg = TriangulationConfig(method="optim", constraints=["l_hip-l_knee", ("a", "b")])
    assert cfg.constraints == (("l_hip", "l_knee"), ("a", "b"))
    path = tmp_path / "t.toml"
    path.write_text(toml.dumps({"triangulation": {"method": "optim", "constraints": [["a", "b"]], "scale_smooth": 2}}))
    loaded = TriangulationConfig.from_toml(path)
    assert loaded.constraints == (("a", "b"),) and loaded.scale_smooth == 2
    assert "scale_smooth" not in TriangulationConfig(method="robust").to_dict()  # robust records stay as they were
    assert TriangulationConfig.from_dict(cfg.to_dict()) == cfg
    for bad in (dict(constraints=["a-b-c"]), dict(constraints=[["a", "a"]]), dict(reproj_loss="cauchy"),
                dict(n_deriv_smooth=0), dict(scale_smooth=-1), dict(chunk_frames=50, chunk_overlap=30),
                dict(reproj_loss_scale=0), dict(outlier_threshold=-1)):  # fmt: skip
        with pytest.raises(MocapError):
            TriangulationConfig(method="optim", **bad)


def test_unknown_constraint_body_part_says_which(sample):
    with pytest.raises(TriangulationError, match="l_hipp.*body parts"):
        triangulate(sample.poses2d, sample.rig, TriangulationConfig(method="optim", constraints=[["l_hipp", "l_knee"]]))


def test_cli_optim(tmp_path):
    s = make_sample(n_frames=60, seed=2)
    files = write_sample(s, tmp_path / "rec")
    out = tmp_path / "pose3d.h5"
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(files["calibration"]), "-o", str(out), "--method", "optim",
                                   "--constraints", "l_hip-l_knee,l_knee-l_ankle", "--scale-smooth", "3",
                                   *map(str, files["pose2d"])])  # fmt: skip
    assert res.exit_code == 0, res.output
    loaded = load_h5(out)
    assert loaded.metadata["triangulation"]["method"] == "optim"
    assert loaded.metadata["triangulation"]["scale_smooth"] == 3
    assert np.nanmedian(errors(loaded.points, s.truth.points)) < 4.0
    args = ["triangulate", "-c", str(files["calibration"]), "-o", str(tmp_path / "x.h5"), "--method", "optim"]
    bad = CliRunner().invoke(cli, [*args, "--constraints", "l_hip-knee", *map(str, files["pose2d"])])
    assert bad.exit_code == 1 and "knee" in bad.output and "Traceback" not in bad.output
