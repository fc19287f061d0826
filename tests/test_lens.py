"""The one lens model and solver loop (mocap3d.lens): OpenCV agreement, analytic derivatives, inverse, losses, LM."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mocap3d import lens

PINHOLE = (-0.21, 0.09, 1.2e-3, -8e-4, -0.015)
FISHEYE = (0.08, -0.03, 0.01, -0.002, 0.0)


def _points(n=400, seed=0, reach=0.6):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-reach, reach, (n, 2))
    xy[0] = 0.0  # the image centre, where the fisheye terms take their limits
    return xy[:, 0], xy[:, 1]


@pytest.mark.parametrize("fisheye", [False, True])
def test_distort_is_opencv(fisheye):
    x, y = _points()
    K = np.array([[1100.0, 0.7, 640.0], [0.0, 1098.0, 512.0], [0.0, 0.0, 1.0]])
    coeffs = FISHEYE if fisheye else PINHOLE
    obj = np.stack([x, y, np.ones_like(x)], -1).reshape(-1, 1, 3)
    if fisheye:
        ref = cv2.fisheye.projectPoints(obj, np.zeros(3), np.zeros(3), K, np.array(coeffs[:4]), alpha=K[0, 1] / K[0, 0])
        ref = ref[0].reshape(-1, 2)
    else:
        ref = cv2.projectPoints(obj, np.zeros(3), np.zeros(3), K, np.array(coeffs))[0].reshape(-1, 2)
        ref[:, 0] += K[0, 1] * lens.distort(x, y, coeffs)[1]  # cv2.projectPoints has no skew
    pix = lens.to_pixels(*lens.distort(x, y, coeffs, fisheye), K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1])
    np.testing.assert_allclose(pix, ref, atol=1e-6)


@pytest.mark.parametrize("fisheye", [False, True])
def test_jacobians_match_finite_differences(fisheye):
    x, y = _points(seed=1)
    coeffs = np.array(FISHEYE if fisheye else PINHOLE)
    xd, yd, d = lens.distort_jacobian(x, y, coeffs, fisheye, wrt_coeffs=True)
    np.testing.assert_array_equal(np.stack([xd, yd]), np.stack(lens.distort(x, y, coeffs, fisheye)))
    h = 1e-6
    for analytic, (dx, dy) in (((d.dxd_dx, d.dyd_dx), (h, 0.0)), ((d.dxd_dy, d.dyd_dy), (0.0, h))):
        plus = np.stack(lens.distort(x + dx, y + dy, coeffs, fisheye))
        minus = np.stack(lens.distort(x - dx, y - dy, coeffs, fisheye))
        np.testing.assert_allclose(np.stack(analytic), (plus - minus) / (2 * h), atol=1e-7)
    for k in range(5):
        step = np.zeros(5)
        step[k] = h
        numeric = (np.stack(lens.distort(x, y, coeffs + step, fisheye))
                   - np.stack(lens.distort(x, y, coeffs - step, fisheye))) / (2 * h)  # fmt: skip
        np.testing.assert_allclose(d.d_coeffs[:, :, k].T, numeric, atol=1e-7)


def test_mixed_fisheye_rows_take_each_model():
    x, y = _points(seed=2)
    fish = np.arange(len(x)) % 2 == 0
    coeffs = tuple(np.where(fish, f, p) for f, p in zip(FISHEYE, PINHOLE, strict=True))
    xd, yd, d = lens.distort_jacobian(x, y, coeffs, fish, wrt_coeffs=True)
    for rows, model, flag in ((fish, FISHEYE, True), (~fish, PINHOLE, False)):
        ref_x, ref_y, ref_d = lens.distort_jacobian(x[rows], y[rows], model, flag, wrt_coeffs=True)
        np.testing.assert_array_equal(xd[rows], ref_x)
        np.testing.assert_array_equal(d.dxd_dy[rows], ref_d.dxd_dy)
        np.testing.assert_array_equal(d.d_coeffs[rows], ref_d.d_coeffs)


def test_undistort_inverts_distort():
    x, y = _points(n=2000, seed=3, reach=0.7)
    xd, yd = lens.distort(x, y, PINHOLE)
    xd[5] = np.nan
    ux, uy = lens.undistort(xd, yd, *PINHOLE)
    ok = np.arange(len(x)) != 5
    np.testing.assert_allclose(ux[ok], x[ok], atol=1e-12)
    np.testing.assert_allclose(uy[ok], y[ok], atol=1e-12)
    assert np.isnan(ux[5]) and np.isnan(uy[5])
    # beyond the model's fold (r ~ 1.8 for this lens) there is no inverse: NaN, not a wrong point
    far = lens.undistort(np.array([5.0]), np.array([5.0]), *PINHOLE)
    assert np.isnan(far[0]).all()


def test_undistort_fisheye_inverts_distort():
    x, y = _points(n=300, seed=4)
    K = np.array([[900.0, 0.0, 640.0], [0.0, 900.0, 512.0], [0.0, 0.0, 1.0]])
    pix = lens.to_pixels(*lens.distort(x, y, FISHEYE, True), 900.0, 900.0, 640.0, 512.0)
    pix[7] = np.nan
    ux, uy = lens.undistort_fisheye(pix, K, np.array(FISHEYE))
    ok = np.arange(len(x)) != 7
    np.testing.assert_allclose(ux[ok], x[ok], atol=1e-9)
    np.testing.assert_allclose(uy[ok], y[ok], atol=1e-9)
    assert np.isnan(ux[7])


# scipy.optimize.least_squares' losses as its documentation defines them, of s = z / scale^2, and rho'(s)
_SCIPY_LOSSES = {
    "linear": (lambda s: s, lambda s: 1 + 0 * s),
    "soft_l1": (lambda s: 2 * (np.sqrt(1 + s) - 1), lambda s: 1 / np.sqrt(1 + s)),
    "huber": (lambda s: np.where(s <= 1, s, 2 * np.sqrt(s) - 1), lambda s: 1 / np.sqrt(np.maximum(s, 1.0))),
    "cauchy": (lambda s: np.log1p(s), lambda s: 1 / (1 + s)),
    "arctan": (lambda s: np.arctan(s), lambda s: 1 / (1 + s * s)),
}


@pytest.mark.parametrize("kind", lens.ROBUST_LOSSES)
def test_robust_losses_are_scipys_in_squared_pixels(kind):
    """rho(z) = scale^2 rho_scipy(z / scale^2), drho its derivative; quadratic near 0."""
    scale = 2.5
    z = np.linspace(0.0, 80.0, 321)
    rho, drho = lens.robust_loss(z, kind, scale)
    ref_rho, ref_drho = _SCIPY_LOSSES[kind]
    np.testing.assert_allclose(rho, scale**2 * ref_rho(z / scale**2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(drho, ref_drho(z / scale**2), rtol=1e-12)
    h = 1e-5
    inner = z[1:-1]
    numeric = (lens.robust_loss(inner + h, kind, scale)[0] - lens.robust_loss(inner - h, kind, scale)[0]) / (2 * h)
    np.testing.assert_allclose(drho[1:-1], numeric, rtol=1e-5)
    np.testing.assert_allclose(lens.robust_loss(np.array([1e-6]), kind, scale)[0], [1e-6], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown loss"):
        lens.robust_loss(z, "l2", scale)


def test_levenberg_marquardt_fits_and_reports():
    """A curve fit with a known answer: the loop converges, counts its evaluations and reports each step."""
    t = np.linspace(0, 3, 40)
    truth = np.array([2.0, -1.3])
    data = truth[0] * np.exp(truth[1] * t)

    def residual(p):
        return p[0] * np.exp(p[1] * t) - data

    def cost(p):
        return 0.5 * float(residual(p) @ residual(p))

    def step(p, lam):
        J = np.stack([np.exp(p[1] * t), p[0] * t * np.exp(p[1] * t)], 1)
        H = J.T @ J
        return np.linalg.solve(H + lam * np.diag(np.diag(H)), -J.T @ residual(p))

    seen = []
    result = lens.levenberg_marquardt(np.array([1.0, 0.0]), cost, step, damping=1e-3, max_iterations=100,
                                      ftol=1e-12, max_damping=1e12, on_iteration=lambda *a: seen.append(a))  # fmt: skip
    np.testing.assert_allclose(result.x, truth, rtol=1e-6)
    # it stops on a small decrease (that step is reported), or when no step helps (that iteration is not)
    assert result.converged and result.iterations == len(seen) + (0 if seen[-1][2] < 1e-12 else 1)
    assert result.evaluations >= result.iterations + 1
    assert all(b[1] < a[1] for a, b in zip(seen, seen[1:], strict=False))  # the cost falls at every step
    # a step that never helps: the damping rises until max_tries, and the start is returned as converged
    stuck = lens.levenberg_marquardt(np.array([1.0, 0.0]), cost, lambda p, lam: np.array([5.0, 5.0]),
                                     damping=1.0, max_iterations=10, ftol=0.0, max_tries=4)  # fmt: skip
    assert stuck.converged and stuck.iterations == 1 and stuck.evaluations == 5
    np.testing.assert_array_equal(stuck.x, [1.0, 0.0])


def test_schur_solve_is_the_block_systems_solution():
    """Eliminating A from [[A, B], [B^T, D]] (a, b) = -(g_a, g_b) both ways the solvers do (a Cholesky half
    solve on both sides, or A^-1 on one side) gives the dense solution's b; a singular reduced system gives
    None or, asked for, the least-squares answer."""
    rng = np.random.default_rng(0)
    m, n = 9, 3
    J = rng.normal(size=(30, m + n))
    H = J.T @ J
    g = rng.normal(size=m + n)
    A, B, D = H[:m, :m], H[:m, m:], H[m:, m:]
    want = np.linalg.solve(H, -g)[m:]
    L = np.linalg.cholesky(A)
    W, y = np.linalg.solve(L, B), np.linalg.solve(L, g[:m])
    np.testing.assert_allclose(lens.schur_solve(D, W.T, W, -(g[m:] - W.T @ y)), want, rtol=1e-10)
    F = B.T @ np.linalg.inv(A)
    np.testing.assert_allclose(lens.schur_solve(D, F, B, -g[m:] + F @ g[:m]), want, rtol=1e-10)
    singular = np.ones((2, 2))
    assert lens.schur_solve(singular, np.zeros((2, 1)), np.zeros((1, 2)), np.ones(2)) is None
    np.testing.assert_allclose(
        lens.schur_solve(singular, np.zeros((2, 1)), np.zeros((1, 2)), np.ones(2), lstsq_fallback=True), [0.5, 0.5]
    )
