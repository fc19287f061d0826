"""Joint angles from 3D keypoints, declared as in anipose's ``[angles]`` config.

Each entry of the ``[angles]`` table names an angle and lists body parts::

    [angles]
    knee = ["hip", "knee", "ankle"]                 # flexion at the middle part
    hip_axis = ["axis", "hip", "knee", "ankle"]     # rotation about the hip->knee axis
    paw_cross = ["cross-axis", "a", "b", "c"]       # direction within the a-b-c plane's normal frame
    leg = ["chain", "hip", "knee", "ankle/", "toe"] # Euler angles along a chain

Definitions (all in degrees, vectorized over frames, NaN where a body part
is missing), matching anipose's ``compute_angles`` so that its users get the
same numbers:

* **flexion** ``[a, b, c]``: the angle at ``b`` between ``b->a`` and ``b->c``,
  in [0, 180] (180 = straight).
* **axis** ``["axis", a, b, c]``: ``z`` along ``b->a``; ``x`` the world x axis
  made perpendicular to ``z``; ``y = z × x``. The angle is the direction of
  ``c->b`` in that (x, y) plane, ``atan2(y, x)`` in (-180, 180].
* **cross-axis** ``["cross-axis", a, b, c]``: ``z`` normal to the plane of
  ``(a - b)`` and ``(b - c)``; x, y as above; the angle is the direction of
  ``a->c`` in that plane.
* **chain** ``["chain", p0, p1, ..., pn]``: a frame per segment (``z`` along
  the segment, ``x`` towards the next segment, perpendicular to ``z``; a
  trailing ``/`` on a part flips that joint's flexion direction); the
  rotation between consecutive frames as Euler angles (scipy's extrinsic ``"zyx"``) gives
  ``{part}_flex`` (the y angle, the same as the flexion angle with sign),
  ``{part}_rot`` (z, axial rotation; not for the last joint) and, for the
  first part, ``{part}_abduct`` (x).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MocapError
from ..io.atomic import atomic_path
from ..poses import Poses3D

__all__ = ["AngleSpec", "parse_angles", "compute_angles", "save_angles_csv", "flexion", "axis_angle",
           "cross_axis_angle", "chain_angles"]

log = logging.getLogger(__name__)

_KINDS = ("flex", "axis", "cross-axis", "chain")


@dataclass(frozen=True)
class AngleSpec:
    """One declared angle: its name, kind (flex | axis | cross-axis | chain) and body parts."""

    name: str
    kind: str
    parts: tuple[str, ...]


def parse_angles(table: Mapping[str, Sequence[str]]) -> list[AngleSpec]:
    """Angle specs from an anipose ``[angles]`` table (name -> list of strings)."""
    specs = []
    for name, entry in table.items():
        items = [str(x) for x in entry]
        if items and items[0] in ("axis", "cross-axis"):
            if len(items) != 4:
                raise MocapError(f"angle '{name}': {items[0]} angles take three body parts, e.g. "
                                 f'["{items[0]}", "hip", "knee", "ankle"] (got {items[1:]}).')
            specs.append(AngleSpec(name, items[0], tuple(items[1:])))
        elif items and items[0] == "chain":
            if len(items) < 3:
                raise MocapError(f"angle '{name}': a chain needs at least two body parts (got {items[1:]}).")
            specs.append(AngleSpec(name, "chain", tuple(items[1:])))
        elif len(items) == 3:
            specs.append(AngleSpec(name, "flex", tuple(items)))
        else:
            raise MocapError(
                f"angle '{name}' = {items}: expected three body parts (flexion), or "
                '"axis"/"cross-axis" and three body parts, or "chain" and two or more body parts.'
            )
    return specs


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _perp(u: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``u`` minus its component along ``z`` (z unit vectors (F, 3); u broadcastable)."""
    return u - np.sum(u * z, axis=-1, keepdims=True) * z


def flexion(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` (degrees, [0, 180]) between ``b->a`` and ``b->c``; inputs (F, 3), output (F,)."""
    v1, v2 = _unit(a - b), _unit(c - b)
    # arctan2 of |cross| and dot is exact near 0 and 180 degrees, where arccos loses digits
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(v1, v2), axis=-1), np.sum(v1 * v2, axis=-1)))


def _plane_angle(z: np.ndarray, v: np.ndarray) -> np.ndarray:
    x = _unit(_perp(np.array([1.0, 0.0, 0.0]), z))
    y = np.cross(z, x)
    return np.degrees(np.arctan2(np.sum(v * y, -1), np.sum(v * x, -1)))


def axis_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Direction of ``c->b`` about the ``b->a`` axis (degrees); see module docstring."""
    return _plane_angle(_unit(a - b), b - c)


def cross_axis_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Direction of ``a->c`` about the normal of the a-b-c plane (degrees); see module docstring."""
    return _plane_angle(_unit(np.cross(a - b, b - c)), c - a)


def chain_angles(points: Sequence[np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Euler angles along a chain of body parts.

    points : list of (F, 3) positions, one per part in ``names`` (a trailing
    ``/`` in a name flips that joint's flexion sign; it is not part of the
    output column names). Returns columns ``{part}_flex``, ``{part}_rot``,
    ``{part}_abduct`` as described in the module docstring.
    """
    from scipy.spatial.transform import Rotation

    sign = np.array([-1.0 if n.endswith("/") else 1.0 for n in names])
    parts = [n.rstrip("/") for n in names]
    p = np.stack([np.asarray(x, dtype=np.float64) for x in points])  # (J, F, 3)
    j, f = p.shape[:2]
    ok = np.isfinite(p).all(axis=(0, 2))  # frames where the whole chain is seen
    out = {}
    frames = [np.broadcast_to(np.eye(3), (f, 3, 3)).copy()]  # the world frame before the first segment
    for i in range(j - 1):
        z = _unit(p[i + 1] - p[i])
        if i == j - 2:  # the last segment has no next one: an arbitrary x perpendicular to it
            x = _perp(np.array([1.0, 0.0, 0.0]), z)
            fallback = np.linalg.norm(x, axis=-1, keepdims=True) < 1e-5
            x = np.where(fallback, _perp(np.array([0.0, 1.0, 0.0]), z), x)
        else:
            x = _perp(p[i + 2] - p[i + 1], z) * sign[i + 1]
        x = _unit(x)
        frames.append(np.stack([x, np.cross(z, x), z], axis=-1))  # columns x, y, z
    for i in range(j - 1):
        ang = np.full((f, 3), np.nan)
        # a straight (collinear) chain has no defined x axis: those frames stay NaN
        good = ok & np.isfinite(frames[i]).all(axis=(1, 2)) & np.isfinite(frames[i + 1]).all(axis=(1, 2))
        if good.any():
            rel = np.einsum("fji,fjk->fik", frames[i][good], frames[i + 1][good])  # R_i^T R_{i+1}
            with warnings.catch_warnings():
                # gimbal lock (y = +-90 degrees): scipy sets the third angle to 0, as anipose's output has it
                warnings.simplefilter("ignore", UserWarning)
                ang[good] = Rotation.from_matrix(rel).as_euler("zyx", degrees=True)
        if i > 0:
            # Euler angles have two solutions; pick the one whose y angle is the signed flexion
            flex = flexion(p[i - 1], p[i], p[i + 1]) * sign[i]
            other = ~np.isclose(flex, ang[:, 1])
            ang[:, 0] += 180.0 * other
            ang[:, 1] = np.where(other, np.mod(-(ang[:, 1] + 180.0), 360.0), ang[:, 1])
            ang = np.mod(ang + 180.0, 360.0) - 180.0
        out[f"{parts[i]}_flex"] = ang[:, 1]
        if i != j - 2:
            out[f"{parts[i]}_rot"] = ang[:, 0]
        if i == 0:
            out[f"{parts[i]}_abduct"] = ang[:, 2]
    return out


def compute_angles(poses: Poses3D, specs: Sequence[AngleSpec] | Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """All declared angles for every frame: a DataFrame (frames rows; angle columns in degrees, then ``fnum``)."""
    if isinstance(specs, Mapping):
        specs = parse_angles(specs)
    index = {k: i for i, k in enumerate(poses.keypoints)}

    def get(name: str) -> np.ndarray:
        key = name.rstrip("/")
        if key not in index:
            raise MocapError(f"angles: body part '{key}' is not in the poses ({', '.join(poses.keypoints)}).")
        return poses.points[:, index[key]]

    cols: dict[str, np.ndarray] = {}
    for s in specs:
        if s.kind == "flex":
            cols[s.name] = flexion(*(get(n) for n in s.parts))
        elif s.kind == "axis":
            cols[s.name] = axis_angle(*(get(n) for n in s.parts))
        elif s.kind == "cross-axis":
            cols[s.name] = cross_axis_angle(*(get(n) for n in s.parts))
        elif s.kind == "chain":
            cols.update(chain_angles([get(n) for n in s.parts], s.parts))
        else:
            raise MocapError(f"angle '{s.name}': unknown kind '{s.kind}' (one of {', '.join(_KINDS)}).")
    cols["fnum"] = np.arange(poses.n_frames) + int(poses.metadata.get("frame_start", 0))
    return pd.DataFrame(cols)


def save_angles_csv(angles: pd.DataFrame, path: str | Path) -> Path:
    """Write the angle table as CSV (anipose's ``angles/*.csv`` layout), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        angles.to_csv(tmp, index=False)
    log.info("wrote %s (%d frames, %d angles)", path, len(angles), angles.shape[1] - 1)
    return path
