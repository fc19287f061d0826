"""Initial camera extrinsics from the graph of camera pairs.

1. Every usable view gives the board's pose in that camera (``cv2.solvePnP``
   with IPPE, the planar solver, on undistorted normalized corners, so pinhole
   and fisheye lenses go through the same code).
2. Each pair of cameras that saw the board in the same frame gets one relative
   pose per shared frame; they are averaged robustly: rotations by the chordal
   L2 mean of quaternions after rejecting those far from it, translations by
   the component-wise median of the kept ones.
3. A maximum spanning tree over the pair graph (weight: number of agreeing
   shared views, then lower spread) chains the pairs from the first camera, so
   a camera that never shares a view with the first camera is still placed.
   A disconnected graph is an error naming the groups of cameras.

Pose convention: ``T_a_b`` (4, 4) maps coordinates in frame ``b`` to frame
``a``; camera extrinsics are ``T_cam_world`` (world = first camera here).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from ..camera import CameraRig, rodrigues
from ..errors import CalibrationError

__all__ = [
    "to_transform",
    "from_transform",
    "invert_transform",
    "view_poses",
    "PairPose",
    "pair_poses",
    "spanning_tree",
    "chain_extrinsics",
    "board_world_poses",
    "DisconnectedCamerasError",
]

log = logging.getLogger(__name__)


class DisconnectedCamerasError(CalibrationError):
    """The cameras split into groups that never see the board at the same time."""


def to_transform(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """4x4 transforms (..., 4, 4) from Rodrigues vectors and translations (..., 3)."""
    rvec = np.asarray(rvec, dtype=np.float64)
    out = np.zeros(rvec.shape[:-1] + (4, 4))
    out[..., :3, :3] = rodrigues(rvec)
    out[..., :3, 3] = tvec
    out[..., 3, 3] = 1.0
    return out


def from_transform(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rodrigues vectors and translations (..., 3) from 4x4 transforms (..., 4, 4)."""
    transform = np.asarray(transform, dtype=np.float64)
    flat = transform.reshape(-1, 4, 4)
    rvec = Rotation.from_matrix(flat[:, :3, :3]).as_rotvec()
    return rvec.reshape(transform.shape[:-2] + (3,)), transform[..., :3, 3].copy()


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of rigid 4x4 transforms (..., 4, 4)."""
    r = transform[..., :3, :3]
    out = np.zeros_like(transform)
    rt = np.swapaxes(r, -1, -2)
    out[..., :3, :3] = rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rt, transform[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def view_poses(
    rig: CameraRig, corners: np.ndarray, object_points: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The board's pose in each camera for every usable view.

    Parameters
    ----------
    rig : CameraRig
        Intrinsics are used; extrinsics are ignored.
    corners : array (C, F, N, 2)
        Pixel corners, NaN where missing.
    object_points : array (N, 3)
    usable : bool array (C, F)

    Returns
    -------
    T_cam_board : array (C, F, 4, 4)
        NaN where the view is not usable or PnP failed.
    error : array (C, F)
        Median reprojection error of each view (px), NaN where not usable.
    """
    c, f, n, _ = corners.shape
    normalized = rig.undistort_points(corners.reshape(c, f * n, 2), output="normalized").reshape(c, f, n, 2)
    poses = np.full((c, f, 4, 4), np.nan)
    obj = np.ascontiguousarray(object_points, dtype=np.float64)
    for ci, fi in zip(*np.nonzero(usable), strict=True):  # one small PnP per view; initialisation only
        seen = np.isfinite(normalized[ci, fi]).all(-1)
        if seen.sum() < 4:
            continue
        ok, rvec, tvec = cv2.solvePnP(
            obj[seen], np.ascontiguousarray(normalized[ci, fi, seen]), np.eye(3), None, flags=cv2.SOLVEPNP_IPPE
        )
        if ok and np.isfinite(rvec).all() and tvec.ravel()[2] > 0:
            poses[ci, fi] = to_transform(rvec.ravel(), tvec.ravel())
    # reprojection error of every view at once
    world = np.einsum("cfij,nj->cfni", poses[..., :3, :3], obj) + poses[:, :, None, :3, 3]
    proj = np.full_like(corners, np.nan)
    at_origin = rig.replace(rvec=np.zeros((c, 3)), tvec=np.zeros((c, 3)))
    for ci in range(c):  # per camera, each through its own lens
        proj[ci] = at_origin.select([rig.names[ci]]).project(world[ci])[0]
    err = np.linalg.norm(proj - corners, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN views stay NaN
        view_err = np.nanmedian(err, axis=-1)
    return poses, view_err


@dataclass(frozen=True)
class PairPose:
    """Robust relative pose of camera ``j`` in camera ``i``'s frame (``T_i_j``)."""

    i: int
    j: int
    transform: np.ndarray  # (4, 4)
    n_shared: int  # frames both cameras saw
    n_inliers: int  # frames that agree with the average
    spread_deg: float  # median rotation deviation of the inliers


def _robust_average(transforms: np.ndarray) -> tuple[np.ndarray, int, float]:
    """Average rigid transforms (S, 4, 4): chordal L2 rotation mean + median translation, outliers removed."""
    rot = Rotation.from_matrix(transforms[:, :3, :3])
    t = transforms[:, :3, 3]
    keep = np.ones(len(transforms), bool)
    for _ in range(2):  # mean -> reject -> mean of the kept ones
        mean = rot[keep].mean()
        ang = (mean.inv() * rot).magnitude()
        tm = np.median(t[keep], axis=0)
        dt = np.linalg.norm(t - tm, axis=1)
        scale = np.linalg.norm(tm) + 1e-12
        keep = (ang <= max(3 * np.median(ang[keep]), np.deg2rad(0.5))) & (
            dt <= max(3 * np.median(dt[keep]), 0.005 * scale)
        )
        if not keep.any():
            keep = ang <= np.median(ang)
    mean = rot[keep].mean()
    out = np.eye(4)
    out[:3, :3] = mean.as_matrix()
    out[:3, 3] = np.median(t[keep], axis=0)
    spread = float(np.rad2deg(np.median((mean.inv() * rot[keep]).magnitude())))
    return out, int(keep.sum()), spread


def pair_poses(T_cam_board: np.ndarray) -> list[PairPose]:
    """Robust relative poses of every camera pair that shares views.

    Parameters
    ----------
    T_cam_board : array (C, F, 4, 4)
        From :func:`view_poses` (NaN where not seen).

    Returns
    -------
    list of PairPose, for pairs ``i < j`` with at least one shared view.
    """
    c = T_cam_board.shape[0]
    valid = np.isfinite(T_cam_board).all((-1, -2))
    out = []
    for i in range(c):
        for j in range(i + 1, c):
            shared = np.flatnonzero(valid[i] & valid[j])
            if len(shared) == 0:
                continue
            rel = T_cam_board[i, shared] @ invert_transform(T_cam_board[j, shared])  # T_i_j per frame
            transform, n_in, spread = _robust_average(rel)
            out.append(PairPose(i, j, transform, len(shared), n_in, spread))
    return out


def spanning_tree(n_cameras: int, pairs: list[PairPose], names: tuple[str, ...]) -> list[PairPose]:
    """Maximum spanning tree of the pair graph (Kruskal), deterministic.

    Raises
    ------
    DisconnectedCamerasError
        When some cameras never share a view with the others, naming the groups.
    """
    parent = list(range(n_cameras))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    tree = []
    for pair in sorted(pairs, key=lambda p: (-p.n_inliers, p.spread_deg, p.i, p.j)):
        ri, rj = root(pair.i), root(pair.j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
            tree.append(pair)
    groups: dict[int, list[str]] = {}
    for cam in range(n_cameras):
        groups.setdefault(root(cam), []).append(names[cam])
    if len(groups) > 1:
        listed = "; ".join("{" + ", ".join(g) + "}" for g in groups.values())
        first, second = list(groups.values())[:2]
        raise DisconnectedCamerasError(
            f"the cameras form {len(groups)} groups that never see the board in the same frame: {listed}. "
            f"Record the board where a camera of one group and a camera of another both see it at the same time "
            f"(e.g. move the board where cameras {first[0]} and {second[0]} both see it), and keep the videos "
            "synchronised."
        )
    return tree


def chain_extrinsics(n_cameras: int, tree: list[PairPose], root_camera: int = 0) -> np.ndarray:
    """Camera extrinsics ``T_cam_world`` (C, 4, 4) with the world = ``root_camera``'s frame."""
    T = np.full((n_cameras, 4, 4), np.nan)
    T[root_camera] = np.eye(4)
    placed = {root_camera}
    edges = list(tree)
    while edges:
        progress = False
        for pair in list(edges):
            if pair.i in placed and pair.j not in placed:
                T[pair.j] = invert_transform(pair.transform) @ T[pair.i]  # T_j_w = T_j_i T_i_w
                placed.add(pair.j)
            elif pair.j in placed and pair.i not in placed:
                T[pair.i] = pair.transform @ T[pair.j]
                placed.add(pair.i)
            else:
                continue
            edges.remove(pair)
            progress = True
        if not progress:
            break
    return T


def board_world_poses(
    T_cam_world: np.ndarray, T_cam_board: np.ndarray, n_corners: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The board's pose in the world for every frame, from the camera that saw most of it.

    Parameters
    ----------
    T_cam_world : array (C, 4, 4)
    T_cam_board : array (C, F, 4, 4), NaN where not seen
    n_corners : int array (C, F)
        Detected corners per view (ranks which camera to trust).

    Returns
    -------
    T_world_board : array (F, 4, 4), NaN for frames no camera saw
    seen : bool array (F,)
    """
    valid = np.isfinite(T_cam_board).all((-1, -2))
    rank = np.where(valid, n_corners, -1)
    best = np.argmax(rank, axis=0)  # first camera on ties
    seen = valid.any(0)
    frames = np.arange(T_cam_board.shape[1])
    T = invert_transform(T_cam_world[best]) @ T_cam_board[best, frames]
    T[~seen] = np.nan
    return T, seen
