"""Put a reconstruction into a frame the user names (anipose's ``axes`` / ``reference_point``).

A frame is given by two axes, each "from body part ``a`` to body part ``b``",
and an origin, e.g. anipose's::

    [triangulation]
    axes = [["x", "tail_base", "snout"], ["z", "floor_a", "floor_b"]]
    reference_point = "floor_a"

Two conventions (``AlignmentConfig.convention``):

``mocap3d`` (default)
    The first axis is taken exactly; the second is made perpendicular to it;
    the third completes a right-handed frame, so ``M`` is a rotation. The
    origin is the reference point's median position.
``anipose``
    anipose 1.1.24's ``correct_coordinate_frame`` step for step: each
    ``(axis, a, b)`` triple (two or more; triples naming the same axis add up)
    adds the unit direction from ``a`` to ``b`` to row ``axis`` of ``M``; the
    missing axis is the cross product of the first two named; every row is
    normalised, and the second axis is **not** made perpendicular to the
    first (``M`` is not a rotation when the two directions are not
    perpendicular). The origin is the per-coordinate median of the reference
    point *after* ``M`` is applied.

Directions come from the body parts' **median positions over the recording**
(so a few bad frames do not tilt the frame). A frame can also come from a
board placement (a grid of triangulated corners: x along the rows, y along
the columns, z out of the board, origin at the first corner) or be given as a
rotation and origin directly.

The aligned points are ``(p - center) @ M.T``: row ``i`` of ``M`` is the new
axis ``i`` in old coordinates and ``center`` the origin in the *old* frame.
Both are recorded in the poses' metadata (``alignment_M``,
``alignment_center``). anipose's CSV columns ``center_i`` hold the origin in
the *new* frame, ``M @ center`` (anipose maps a CSV point back with
``(q + center_csv) @ inv(M.T)``); :func:`mocap3d.io.pose3d.save_anipose_csv`
writes that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MocapError
from ..poses import Poses3D

__all__ = ["AlignmentConfig", "axes_transform", "anipose_transform", "board_transform", "apply_transform",
           "align_poses"]  # fmt: skip

_AXES = {"x": 0, "y": 1, "z": 2}
CONVENTIONS = ("mocap3d", "anipose")


@dataclass(frozen=True)
class AlignmentConfig:
    """anipose-style frame: ``(axis, from_part, to_part)`` specs and an origin.

    ``reference_point`` is a body part name, or three coordinates in the
    current frame; None keeps the origin (rotation only). ``convention``:
    ``mocap3d`` (two triples, an orthonormal frame) or ``anipose`` (two or
    more triples, anipose's own ``M``; see the module docstring).
    """

    axes: tuple[tuple[str, str, str], ...]
    reference_point: str | tuple[float, float, float] | None = None
    convention: str = "mocap3d"

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise MocapError(f"alignment: unknown convention '{self.convention}'; choose {' or '.join(CONVENTIONS)}.")
        most = "two" if self.convention == "mocap3d" else "two or more"
        if len(self.axes) < 2 or (self.convention == "mocap3d" and len(self.axes) != 2) or any(
            len(a) != 3 for a in self.axes
        ):
            raise MocapError(
                f"alignment: `axes` must be {most} [axis, from_part, to_part] triples, e.g. "
                '[["x", "tail_base", "snout"], ["z", "floor_a", "floor_b"]].'
            )

    @classmethod
    def from_anipose(cls, triangulation: dict, convention: str = "mocap3d") -> AlignmentConfig:
        """From an anipose config's ``[triangulation]`` table (``axes``, ``reference_point``)."""
        axes = triangulation.get("axes")
        if not isinstance(axes, list) or not all(isinstance(a, list) for a in axes):
            axes = []
        ref = triangulation.get("reference_point")
        if isinstance(ref, list):
            ref = tuple(float(v) for v in ref)
        return cls(axes=tuple(tuple(a) for a in axes), reference_point=ref, convention=convention)


def _median_position(poses: Poses3D, name: str) -> np.ndarray:
    if name not in poses.keypoints:
        raise MocapError(f"alignment: body part '{name}' is not in the poses ({', '.join(poses.keypoints)}).")
    pts = poses.points[:, poses.keypoints.index(name)]
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) == 0:
        raise MocapError(f"alignment: body part '{name}' is never triangulated; pick another for the axes.")
    return np.median(pts, axis=0)


def _frame_from_directions(a_axis: int, a_dir: np.ndarray, b_axis: int, b_dir: np.ndarray) -> np.ndarray:
    """Right-handed rotation with row ``a_axis`` along ``a_dir`` and row ``b_axis`` in the (a, b) plane."""
    if a_axis == b_axis:
        raise MocapError("alignment: the two axes must differ (e.g. x and z).")
    na = float(np.linalg.norm(a_dir))
    b_perp = b_dir - float(b_dir @ a_dir) / max(na**2, 1e-300) * a_dir
    nb = float(np.linalg.norm(b_perp))
    if na < 1e-12 or nb < 1e-9 * max(float(np.linalg.norm(b_dir)), 1e-300):
        raise MocapError("alignment: the axis body parts coincide or the two axes are parallel; pick other parts.")
    c_axis = 3 - a_axis - b_axis
    m = np.zeros((3, 3))
    m[a_axis] = a_dir / na
    m[b_axis] = b_perp / nb
    # rows (x, y, z) must satisfy x × y = z: the order of the cross product follows the axes' cyclic order
    if (a_axis, b_axis) in ((0, 1), (1, 2), (2, 0)):
        m[c_axis] = np.cross(m[a_axis], m[b_axis])
    else:
        m[c_axis] = np.cross(m[b_axis], m[a_axis])
    return m


def axes_transform(poses: Poses3D, config: AlignmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``M`` (3, 3) and origin ``center`` (3,) of the named frame, in the poses' current frame."""
    (ax_a, a0, a1), (ax_b, b0, b1) = config.axes[:2]
    for ax in (ax_a, ax_b):
        if ax not in _AXES:
            raise MocapError(f"alignment: axis '{ax}' is not one of x, y, z.")
    a_dir = _median_position(poses, a1) - _median_position(poses, a0)
    b_dir = _median_position(poses, b1) - _median_position(poses, b0)
    m = _frame_from_directions(_AXES[ax_a], a_dir, _AXES[ax_b], b_dir)
    ref = config.reference_point
    if ref is None:
        center = np.zeros(3)
    elif isinstance(ref, str):
        center = _median_position(poses, ref)
    else:
        center = np.asarray(ref, dtype=np.float64)
        if center.shape != (3,):
            raise MocapError("alignment: reference_point must be a body part name or three coordinates.")
    return m, center


def anipose_transform(poses: Poses3D, config: AlignmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """anipose's ``M`` (3, 3) and origin (3,) *in the old frame* (see the module docstring).

    anipose writes ``p @ M.T - center_new`` with ``center_new`` the median of the reference point's
    aligned positions; the returned origin is ``inv(M) @ center_new``, so that ``(p - origin) @ M.T``
    is anipose's output.
    """
    m = np.zeros((3, 3))
    named: list[int] = []
    for ax, a, b in config.axes:
        if ax not in _AXES:
            raise MocapError(f"alignment: axis '{ax}' is not one of x, y, z.")
        diff = _median_position(poses, b) - _median_position(poses, a)
        norm = float(np.linalg.norm(diff))
        if norm < 1e-12:
            raise MocapError(f"alignment: body parts '{a}' and '{b}' coincide; pick other parts for axis {ax}.")
        m[_AXES[ax]] += diff / norm
        if _AXES[ax] not in named:
            named.append(_AXES[ax])
    if len(named) < 2:
        raise MocapError("alignment: the axes must name two different directions (e.g. x and z).")
    a_dir, b_dir = named[0], named[1]
    c_dir = 3 - a_dir - b_dir if len(named) == 2 else next(i for i in range(3) if i not in (a_dir, b_dir))
    if (a_dir, b_dir) in ((0, 1), (2, 0), (1, 2)):
        m[c_dir] = np.cross(m[a_dir], m[b_dir])
    else:
        m[c_dir] = np.cross(m[b_dir], m[a_dir])
    norms = np.linalg.norm(m, axis=1)
    if not (norms > 1e-12).all() or abs(np.linalg.det(m / norms[:, None])) < 1e-9:
        raise MocapError("alignment: the two axes are parallel; pick body parts that span two directions.")
    m = m / norms[:, None]
    ref = config.reference_point
    if ref is None:
        return m, np.zeros(3)
    if isinstance(ref, str):
        if ref not in poses.keypoints:
            raise MocapError(f"alignment: body part '{ref}' is not in the poses ({', '.join(poses.keypoints)}).")
        pts = poses.points[:, poses.keypoints.index(ref)]
        pts = pts[~np.isnan(pts[:, 0])] @ m.T
        if len(pts) == 0:
            raise MocapError(f"alignment: body part '{ref}' is never triangulated; pick another reference_point.")
        center_new = np.median(pts, axis=0)
    else:
        center_new = m @ np.asarray(ref, dtype=np.float64)
    return m, np.linalg.solve(m, center_new)


def board_transform(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame of a board placement: corners (rows, cols, 3) of a triangulated board grid.

    x runs along a row (increasing column), y along a column (increasing
    row), z out of the board (right-handed), origin at corner ``[0, 0]``.
    NaN corners are ignored; at least two rows and two columns are needed.
    """
    c = np.asarray(corners, dtype=np.float64)
    if c.ndim != 3 or c.shape[-1] != 3 or c.shape[0] < 2 or c.shape[1] < 2:
        raise MocapError(f"alignment: board corners must be a (rows, cols, 3) grid, got shape {c.shape}.")
    along_x = np.nanmean((c[:, 1:] - c[:, :-1]).reshape(-1, 3), axis=0)
    along_y = np.nanmean((c[1:] - c[:-1]).reshape(-1, 3), axis=0)
    if not (np.isfinite(along_x).all() and np.isfinite(along_y).all()):
        raise MocapError("alignment: too few board corners were triangulated to define its axes.")
    m = _frame_from_directions(0, along_x, 1, along_y)
    # the origin: corner [0, 0], or where the mean grid puts it when that corner is missing
    rows, cols = np.meshgrid(np.arange(c.shape[0]), np.arange(c.shape[1]), indexing="ij")
    est = c - rows[..., None] * along_y - cols[..., None] * along_x
    center = np.nanmedian(est.reshape(-1, 3), axis=0)
    return m, center


def apply_transform(
    poses: Poses3D, rotation: np.ndarray, center: np.ndarray, spec: object = None, rotation_only: bool = True
) -> Poses3D:
    """New poses with points ``(p - center) @ rotation.T``; diagnostics are kept, the transform recorded.

    When the poses were already aligned, the recorded ``alignment_M`` and
    ``alignment_center`` compose, so they map the *original* frame to the new one.
    ``rotation_only=False`` accepts any invertible ``M`` (anipose's convention).
    """
    m = np.asarray(rotation, dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    if m.shape != (3, 3) or c.shape != (3,):
        raise MocapError("alignment: rotation must be 3x3 and center 3 values.")
    if rotation_only and (not np.allclose(m @ m.T, np.eye(3), atol=1e-9) or np.linalg.det(m) < 0):
        raise MocapError("alignment: the rotation is not a proper rotation matrix (orthonormal, det +1).")
    if not rotation_only and not abs(np.linalg.det(m)) > 1e-12:
        raise MocapError("alignment: the matrix M is singular; its axes must span three directions.")
    pts = (poses.points - c) @ m.T
    meta = dict(poses.metadata)
    m0 = np.asarray(meta.get("alignment_M", np.eye(3)), dtype=np.float64)
    c0 = np.asarray(meta.get("alignment_center", np.zeros(3)), dtype=np.float64)
    # p_new = M (M0 (p - c0) - c) = M M0 (p - (c0 + M0^-1 c))
    meta["alignment_M"] = (m @ m0).tolist()
    meta["alignment_center"] = (c0 + np.linalg.solve(m0, c)).tolist()
    if spec is not None:
        meta["alignment"] = spec
    return Poses3D(
        keypoints=poses.keypoints, points=pts, error=poses.error, ncams=poses.ncams,
        cameras_used=poses.cameras_used, score=poses.score, views=poses.views, fps=poses.fps, metadata=meta,
    )


def align_poses(
    poses: Poses3D,
    axes: Sequence[Sequence[str]] | AlignmentConfig,
    reference_point: str | Sequence[float] | None = None,
    convention: str = "mocap3d",
) -> Poses3D:
    """Rotate and translate ``poses`` into the frame named by ``axes`` and ``reference_point``.

    ``convention="anipose"`` reproduces anipose's frame exactly (see the module docstring).

    Examples
    --------
    >>> aligned = align_poses(poses, [["x", "l_hip", "r_hip"], ["z", "pelvis", "neck"]], "pelvis")
    """
    if isinstance(axes, AlignmentConfig):
        config = axes
    else:
        ref = reference_point if reference_point is None or isinstance(reference_point, str) else tuple(
            float(v) for v in reference_point
        )
        config = AlignmentConfig.from_anipose({"axes": [list(a) for a in axes], "reference_point": ref}, convention)
    if config.convention == "anipose":
        m, center = anipose_transform(poses, config)
    else:
        m, center = axes_transform(poses, config)
    spec = {"axes": [list(a) for a in config.axes], "reference_point": config.reference_point,
            "convention": config.convention}  # fmt: skip
    return apply_transform(poses, m, center, spec=spec, rotation_only=config.convention != "anipose")


def axis_vector(up: str) -> np.ndarray:
    """Unit vector (3,) of a signed axis name: ``"z"``, ``"+y"``, ``"-x"`` (what gait and the viewer call "up")."""
    axes = {"x": 0, "y": 1, "z": 2}
    key = up.lstrip("+-").lower()
    if key not in axes:
        raise MocapError(f"up axis '{up}' is not one of x, y, z (optionally signed, e.g. -y).")
    vec = np.zeros(3)
    vec[axes[key]] = -1.0 if up.startswith("-") else 1.0
    return vec
