"""A synthetic calibration scene with a known answer, shared by the calibration solver tests.

Four 1280x1024 cameras on an arc looking at the same volume, with radial and
tangential distortion; a ChArUco-sized board (9x6 inner corners, 60 mm squares)
moved and tilted through the volume. Detections are the true projections plus
Gaussian noise; a corner counts as detected when it lies in the image and the
board faces the camera (a ChArUco board is only read from its front).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mocap3d.calibration.boards import Checkerboard
from mocap3d.calibration.detect import Detections
from mocap3d.camera import CameraRig


def look_at(center: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (rvec, tvec) of a camera at ``center`` looking at ``target`` (z forward, y down)."""
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross(z, -np.asarray(up))
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    r = np.stack([x, y, z])
    return Rotation.from_matrix(r).as_rotvec(), -r @ center


def make_rig(n_cameras: int = 4, width: int = 1280, height: int = 1024, distance: float = 2500.0) -> CameraRig:
    angles = np.deg2rad(np.linspace(-60, 60, n_cameras))
    rvecs, tvecs, ks, dists = [], [], [], []
    for i, a in enumerate(angles):
        center = np.array([distance * np.sin(a), -distance * np.cos(a), 300.0 + 100 * i])
        r, t = look_at(center, np.array([0.0, 0.0, 0.0]))
        rvecs.append(r)
        tvecs.append(t)
        f = 1100.0 + 60 * i
        ks.append([[f, 0, width / 2 + 11 - 7 * i], [0, f * 1.001, height / 2 - 9 + 5 * i], [0, 0, 1]])
        dists.append([-0.21 + 0.02 * i, 0.09, 0.0012, -0.0008, 0.0])
    return CameraRig(
        names=tuple("ABCDEFGH"[:n_cameras]), sizes=[[width, height]] * n_cameras, K=ks, dist=dists,
        rvec=rvecs, tvec=tvecs,
    )


def board_poses(board: Checkerboard, n_frames: int, seed: int = 0) -> np.ndarray:
    """(F, 4, 4) board->world placements: a wandering, tilting sweep in front of the arc."""
    rng = np.random.default_rng(seed)
    obj = board.object_points()
    centre_offset = obj.mean(0)
    out = np.zeros((n_frames, 4, 4))
    base = Rotation.from_euler("x", 90, degrees=True)  # board upright, facing -y (towards the cameras)
    for f in range(n_frames):
        tilt = Rotation.from_rotvec(rng.uniform(-0.7, 0.7, 3) * np.array([1.0, 1.0, 0.5]))
        rot = (Rotation.from_euler("z", rng.uniform(-40, 40), degrees=True) * base * tilt).as_matrix()
        pos = rng.uniform([-900, -700, -600], [900, 700, 800])
        out[f, :3, :3] = rot
        out[f, :3, 3] = pos - rot @ centre_offset
        out[f, 3, 3] = 1
    return out


def project_board(rig: CameraRig, board, poses: np.ndarray, noise_px: float, seed: int = 1) -> np.ndarray:
    """Detected corners (C, F, N, 2) with NaN where a corner is not seen."""
    obj = board.object_points()
    world = np.einsum("fij,nj->fni", poses[:, :3, :3], obj) + poses[:, None, :3, 3]
    uv = rig.project(world)
    normal = poses[:, :3, 2]  # board z axis in the world
    to_cam = rig.centers()[:, None, :] - poses[None, :, :3, 3]
    facing = np.einsum("cfi,fi->cf", to_cam, normal) / np.linalg.norm(to_cam, axis=-1) > np.cos(np.deg2rad(70))
    visible = rig.in_image(uv) & (rig.depths(world) > 0) & facing[:, :, None]
    margin = 5
    visible &= (uv > margin).all(-1) & (uv < rig.sizes[:, None, None, :] - margin).all(-1)
    rng = np.random.default_rng(seed)
    out = uv + rng.normal(0, noise_px, uv.shape)
    out[~visible] = np.nan
    return out


def make_scene(n_frames: int = 120, noise_px: float = 0.2, seed: int = 0, n_cameras: int = 4):
    """(true rig, board, true poses (F,4,4), Detections)."""
    board = Checkerboard(corners_x=9, corners_y=6, square_length=60.0)
    rig = make_rig(n_cameras)
    poses = board_poses(board, n_frames, seed)
    corners = project_board(rig, board, poses, noise_px, seed + 1)
    det = Detections(
        cameras=rig.names, image_sizes=rig.sizes.copy(), frames=np.arange(n_frames), corners=corners, board=board
    )
    return rig, board, poses, det


def umeyama(src: np.ndarray, dst: np.ndarray, scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) with dst ~ s R src + t, least squares (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, d, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1
    r = u @ sign @ vt
    s = np.trace(np.diag(d) @ sign) / (a**2).sum(1).mean() if scale else 1.0
    return s, r, mu_d - s * r @ mu_s


def compare_rigs(true: CameraRig, est: CameraRig) -> dict[str, float]:
    """Errors of ``est`` against ``true`` after a similarity alignment of the camera centres."""
    s, r, t = umeyama(est.centers(), true.centers())
    centres = s * est.centers() @ r.T + t
    rot_true = true.R
    rot_est = est.R @ r.T  # est world -> aligned world
    rel = Rotation.from_matrix(rot_true @ np.swapaxes(rot_est, 1, 2))
    fx_err = np.abs(est.K[:, 0, 0] / true.K[:, 0, 0] - 1)
    fy_err = np.abs(est.K[:, 1, 1] / true.K[:, 1, 1] - 1)
    pp_err = np.linalg.norm(est.K[:, :2, 2] - true.K[:, :2, 2], axis=1)
    return {
        "focal_pct": 100 * float(max(fx_err.max(), fy_err.max())),
        "pp_px": float(pp_err.max()),
        "centre_mm": float(np.linalg.norm(centres - true.centers(), axis=1).max()),
        "rot_deg": float(np.rad2deg(rel.magnitude()).max()),
        "scale": float(s),
    }


def lens_rms(true: CameraRig, est: CameraRig, step: int = 32) -> np.ndarray:
    """Per-camera RMS (px) between the two lens models over a grid of the whole image.

    Pixels of the true camera are turned into rays by the true model and
    projected by the estimated intrinsics (same rotation), so only the
    intrinsics are compared.
    """
    out = []
    for i in range(true.n_cameras):
        w, h = true.sizes[i]
        gx, gy = np.meshgrid(np.arange(0, w, step), np.arange(0, h, step))
        px = np.stack([gx.ravel(), gy.ravel()], -1).astype(float)
        t = true.select([true.names[i]])
        e = est.select([est.names[i]])
        rays = t.undistort_points(px[None], output="normalized")[0]
        zero = np.zeros((1, 3))
        pts = np.concatenate([rays, np.ones((len(rays), 1))], 1)
        back = e.replace(rvec=zero, tvec=zero).project(pts)[0]
        out.append(np.sqrt(np.mean(np.sum((back - px) ** 2, -1))))
    return np.array(out)
