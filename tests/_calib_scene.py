"""A synthetic calibration scene with a known answer, shared by the calibration solver tests.

Four 1280x1024 cameras on an arc looking at the same volume, with radial and
tangential distortion; a ChArUco-sized board (9x6 inner corners, 60 mm squares)
moved and tilted through the volume. Detections are the true projections plus
Gaussian noise; a corner counts as detected when it lies in the image and the
board's printed face is towards the camera (a ChArUco board is only read from
its front; as in OpenCV, the board's z axis then points away from the camera).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mocap3d.calibration.boards import Checkerboard
from mocap3d.calibration.detect import Detections
from mocap3d.calibration.report import rig_errors
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
    # board upright, its printed face towards the cameras (-y): as in OpenCV, the board's z axis points away
    # from the cameras that read it, into the board
    base = Rotation.from_euler("x", -90, degrees=True)
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
    facing = np.einsum("cfi,fi->cf", to_cam, normal) / np.linalg.norm(to_cam, axis=-1) < -np.cos(np.deg2rad(70))
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


def compare_rigs(true: CameraRig, est: CameraRig) -> dict[str, float]:
    """Worst-camera errors of ``est`` against ``true`` after a similarity alignment of the camera centres."""
    err = rig_errors(true, est)
    return {
        "focal_pct": float(err["focal_pct"].max()),
        "pp_px": float(err["principal_px"].max()),
        "centre_mm": float(err["centre"].max()),
        "rot_deg": float(err["rotation_deg"].max()),
        "scale": float(err["scale"]),
    }
