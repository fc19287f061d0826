"""Read and write calibration files.

Formats
-------
* anipose / aniposelib ``calibration.toml``: one ``[cam_N]`` section per camera
  (``name``, ``size = [w, h]``, ``matrix``, ``distortions``, ``rotation`` as a
  world->camera Rodrigues vector, ``translation``, optional ``fisheye``) and a
  ``[metadata]`` section. aniposelib sorts section keys as strings on load, so
  ``cam_10`` comes before ``cam_2``; mocap3d keeps the numeric order of the
  section suffixes and matches cameras by ``name``. With 11 or more cameras
  the two orders differ for files written elsewhere, so a positional array
  (aniposelib's ``(cameras, points, 2)``) must follow ``CameraGroup.get_names()``,
  not the file's numbering; mocap3d writes zero-padded keys (``cam_00`` ..
  ``cam_11``) so that both orders are the same for its own files.
* Pose2Sim's variant of the same layout (sections named after the cameras,
  4 distortion terms, translation in metres). It loads through the same reader.
* caliscope's ``camera_array.toml`` (``[cameras.N]``, rotation as a 3x3 matrix).

Writing always produces anipose's layout, which aniposelib's
``CameraGroup.load`` reads back with identical projections.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import toml

from ..camera import CameraRig, rodrigues, rotation_to_rodrigues
from ..errors import CalibrationError, MocapError
from .atomic import atomic_write_text

__all__ = ["load_calibration", "save_calibration", "save_caliscope", "rig_to_anipose_dict", "rig_from_anipose_dict",
           "calibration_units", "load_calibration_with_metadata"]


def _natural_key(key: str) -> tuple:
    """Order ``cam_2`` before ``cam_10`` (aniposelib's string sort does not)."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key))


def _read_toml(path: Path) -> dict[str, Any]:
    from .settings import read_toml

    return read_toml(path, "calibration file", CalibrationError)


#: Largest |value| accepted anywhere in a calibration (mm-scale rigs are ~1e4; 1e300 is a broken file).
MAX_CALIBRATION_VALUE = 1e9
#: Tolerance on a rotation matrix: |R Rt - I| and |det R - 1| (files store ~8 significant digits).
ROTATION_TOLERANCE = 1e-3


def _numbers(cam: dict, field: str, key: str, source: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``cam[field]`` as a float array of ``shape``, finite and not absurdly large; else a sentence."""
    where = f"{source}: impossible calibration values: camera '{cam.get('name', key)}' [{key}] {field}"
    try:
        arr = np.asarray(cam[field], dtype=np.float64)
    except (ValueError, TypeError):
        raise CalibrationError(f"{where} must be numbers, not {cam[field]!r:.80}.") from None
    if shape is not None and arr.size != int(np.prod(shape)):
        raise CalibrationError(f"{where} must have {int(np.prod(shape))} numbers ({'x'.join(map(str, shape))}), "
                               f"not {arr.size}.")  # fmt: skip
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{where} contains NaN or infinite values; recalibrate or fix the file.")
    if arr.size and np.abs(arr).max() > MAX_CALIBRATION_VALUE:
        raise CalibrationError(f"{where} contains {np.abs(arr).max():.3g}, an impossible value (above "
                               f"{MAX_CALIBRATION_VALUE:.0e}); recalibrate or fix the file.")  # fmt: skip
    return arr


def _check_camera(cam: dict, key: str, source: str) -> None:
    """Every value of one camera section is plausible: finite numbers, a true rotation, positive focal lengths
    and image size. A message names the camera and the key (``rotation``, ``matrix``...)."""
    name = f"{source}: impossible calibration values: camera '{cam.get('name', key)}' [{key}]"
    K = _numbers(cam, "matrix", key, source, (3, 3)).reshape(3, 3)
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise CalibrationError(f"{name} matrix: the focal lengths (fx = {K[0, 0]:g}, fy = {K[1, 1]:g} px) must be "
                               "positive; recalibrate this camera.")  # fmt: skip
    if not np.allclose(K[2], [0, 0, 1], atol=1e-6) or abs(K[1, 0]) > 1e-6:
        raise CalibrationError(f"{name} matrix is not a camera matrix (rows [fx, s, cx], [0, fy, cy], [0, 0, 1]); "
                               f"its last row is {K[2].tolist()}.")  # fmt: skip
    _numbers(cam, "distortions", key, source)
    _numbers(cam, "translation", key, source, (3,))
    rot = _numbers(cam, "rotation", key, source)
    if rot.size == 9:
        R = rot.reshape(3, 3)
        off = float(np.abs(R @ R.T - np.eye(3)).max())
        det = float(np.linalg.det(R))
        if off > ROTATION_TOLERANCE or abs(det - 1) > ROTATION_TOLERANCE:
            raise CalibrationError(
                f"{name} rotation is not a rotation matrix (R Rt differs from the identity by {off:.3g}, det R = "
                f"{det:.3g}); write a 3x3 orthonormal matrix with det 1 or a Rodrigues vector of 3 numbers."
            )
    elif rot.size != 3:
        raise CalibrationError(f"{name} rotation must be a Rodrigues vector (3 numbers) or a 3x3 matrix, not "
                               f"{rot.size} numbers.")  # fmt: skip
    if "size" in cam:
        size = _numbers(cam, "size", key, source, (2,))
        if not np.all(size >= 1):
            raise CalibrationError(f"{name} size {size.tolist()} must be the image's [width, height] in pixels, "
                                   "both positive.")  # fmt: skip


def rig_from_anipose_dict(data: dict[str, Any], source: str = "calibration") -> tuple[CameraRig, dict[str, Any]]:
    """Build a rig from a parsed anipose/Pose2Sim calibration dict.

    Returns the rig and the ``[metadata]`` table (empty when absent).
    """
    sections = [k for k, v in data.items() if isinstance(v, dict) and k != "metadata" and "matrix" in v]
    if not sections:
        raise CalibrationError(
            f"{source}: no camera sections found (expected tables with `matrix`, `distortions`, `rotation`, "
            "`translation` as in anipose's calibration.toml)."
        )
    sections.sort(key=_natural_key)
    names, sizes, ks, dists, rvecs, tvecs, fisheye = [], [], [], [], [], [], []
    for key in sections:
        cam = data[key]
        missing = [f for f in ("matrix", "distortions", "rotation", "translation") if f not in cam]
        if missing:
            raise CalibrationError(f"{source}: camera section [{key}] lacks {', '.join(missing)}.")
        try:
            _check_camera(cam, key, source)
            rot = np.asarray(cam["rotation"], dtype=np.float64)
            rvec = rotation_to_rodrigues(rot) if rot.shape == (3, 3) else rot.reshape(3)
            names.append(str(cam.get("name", key)))
            sizes.append(np.asarray(cam.get("size", [0, 0]), dtype=np.float64).round().astype(np.int64).reshape(2))
            ks.append(np.asarray(cam["matrix"], dtype=np.float64).reshape(3, 3))
            dists.append(np.asarray(cam["distortions"], dtype=np.float64).ravel())
            rvecs.append(rvec)
            tvecs.append(np.asarray(cam["translation"], dtype=np.float64).reshape(3))
            fisheye.append(bool(cam.get("fisheye", False)))
        except (ValueError, TypeError) as exc:
            raise CalibrationError(f"{source}: camera section [{key}] has malformed values ({exc}).") from None
        if len(dists[-1]) > 5:
            raise CalibrationError(
                f"{source}: camera '{names[-1]}' has {len(dists[-1])} distortion terms; mocap3d supports OpenCV's "
                "5-term pinhole model (k1, k2, p1, p2, k3) and the 4-term fisheye model."
            )
    width = max(len(d) for d in dists)
    dist = np.zeros((len(dists), max(width, 5)))
    for i, d in enumerate(dists):
        dist[i, : len(d)] = d
    rig = CameraRig(names=tuple(names), sizes=sizes, K=ks, dist=dist, rvec=rvecs, tvec=tvecs, fisheye=fisheye)
    meta = data.get("metadata", {})
    return rig, dict(meta) if isinstance(meta, dict) else {}


def _rig_from_caliscope(data: dict[str, Any], source: str) -> CameraRig:
    cams = data["cameras"]
    keys = sorted(cams, key=_natural_key)
    converted = {}
    for key in keys:
        cam = cams[key]
        if cam.get("ignore", False):
            continue
        if "rotation" not in cam or "translation" not in cam:
            raise CalibrationError(f"{source}: caliscope camera {key} has no extrinsics (rotation/translation).")
        converted[f"cam_{key}"] = {
            "name": str(cam.get("cam_id", key)),
            "size": cam["size"],
            "matrix": cam["matrix"],
            "distortions": cam["distortions"],
            "rotation": cam["rotation"],
            "translation": cam["translation"],
            "fisheye": bool(cam.get("fisheye", False)),
        }
    return rig_from_anipose_dict(converted, source)[0]


def load_calibration(path: str | Path) -> CameraRig:
    """Load a calibration file (anipose, Pose2Sim or caliscope layout).

    Parameters
    ----------
    path : path to a ``.toml`` file.

    Returns
    -------
    CameraRig
        Cameras in the file's order (numeric order of ``cam_N`` suffixes).
    """
    return load_calibration_with_metadata(path)[0]


def load_calibration_with_metadata(path: str | Path) -> tuple[CameraRig, dict[str, Any]]:
    """Like :func:`load_calibration`, also returning the ``[metadata]`` table."""
    path = Path(path)
    data = _read_toml(path)
    if isinstance(data.get("cameras"), dict) and all(isinstance(v, dict) for v in data["cameras"].values()):
        # caliscope works in metres (its board's square size is given in cm and converted to m)
        return _rig_from_caliscope(data, str(path)), {"format": "caliscope", "units": "m"}
    return rig_from_anipose_dict(data, str(path))


def output_units(units: str | None, metadata: dict[str, Any], calibration: str | Path, out: str | Path) -> str | None:
    """The units to write ``out`` in: ``units`` when given, else the calibration's; refused before any work when a
    TRC/C3D output needs them and neither says (units are never guessed)."""
    units = units or calibration_units(metadata)
    suffix = Path(out).suffix.lower()
    if units is None and suffix in (".trc", ".c3d"):
        raise MocapError(f"{calibration} does not say its length unit, which a {suffix} header needs; pass --units mm "
                         '(or m, cm), or add units = "mm" to its [metadata] table.')  # fmt: skip
    return units


def calibration_units(source: str | Path | dict[str, Any]) -> str | None:
    """The length unit of a calibration (``"mm"``, ``"cm"``, ``"m"``), or None when the file does not say.

    ``source`` is a calibration file or its ``[metadata]`` table. The unit is
    read from ``[metadata] units`` (mocap3d writes it from the board's unit;
    add it by hand to an anipose or Pose2Sim file: ``units = "m"``) or from
    the format (caliscope's files are in metres). Never guessed from the
    values: a missing unit is None, and whoever needs it asks the user.
    """
    from ..poses import normalize_units

    meta = source if isinstance(source, dict) else load_calibration_with_metadata(source)[1]
    where = "calibration [metadata] units" if isinstance(source, dict) else f"{source}: [metadata] units"
    try:
        return normalize_units(meta.get("units"), where)
    except ValueError as exc:
        raise CalibrationError(str(exc)) from None


def rig_to_anipose_dict(rig: CameraRig, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The anipose ``calibration.toml`` content of a rig, as a dict."""
    out: dict[str, Any] = {}
    # zero-padded keys: aniposelib orders cameras by the string sort of the keys, mocap3d numerically
    width = len(str(max(len(rig.names) - 1, 0)))
    for i, name in enumerate(rig.names):
        ndist = 4 if rig.fisheye[i] else 5
        cam: dict[str, Any] = {
            "name": name,
            "size": [int(v) for v in rig.sizes[i]],
            "matrix": rig.K[i].tolist(),
            "distortions": rig.dist[i, :ndist].tolist(),
            "rotation": rig.rvec[i].tolist(),
            "translation": rig.tvec[i].tolist(),
        }
        if rig.fisheye[i]:
            cam["fisheye"] = True
        out[f"cam_{i:0{width}d}"] = cam
    meta = {"adjusted": False, "error": 0.0}
    meta.update(metadata or {})
    out["metadata"] = meta
    return out


def save_calibration(rig: CameraRig, path: str | Path, metadata: dict[str, Any] | None = None,
                     units: str | None = None) -> Path:  # fmt: skip
    """Write ``rig`` as anipose's ``calibration.toml`` (atomically), or caliscope's ``camera_array.toml``.

    ``metadata`` entries go to the ``[metadata]`` table (anipose uses
    ``adjusted`` and ``error``, the median reprojection error in px);
    ``units`` (the translations' length unit) is written there as ``units``,
    which :func:`calibration_units` reads back (aniposelib ignores it). A
    path named ``camera_array.toml`` is written in caliscope's layout
    (:func:`save_caliscope`).
    """
    path = Path(path)
    meta = dict(metadata or {})
    if units is not None:
        from ..poses import normalize_units

        meta["units"] = normalize_units(units, "calibration units")
    if path.name == "camera_array.toml":
        return save_caliscope(rig, path, units=meta.get("units"))
    atomic_write_text(path, toml.dumps(rig_to_anipose_dict(rig, meta)))
    return path


def save_caliscope(rig: CameraRig, path: str | Path, units: str | None = None) -> Path:
    """Write ``rig`` as caliscope's ``camera_array.toml``: ``[cameras.N]`` with a 3x3 rotation matrix, in metres.

    caliscope works in metres: translations in another known unit are
    converted; unknown units are an error (caliscope would misread them).
    Fisheye cameras are refused (caliscope models pinhole cameras only).
    caliscope identifies cameras by integer ``cam_id``: names that are
    integers are kept, other names become the cameras' positions (0, 1, ...)
    and are lost (caliscope has no field for them).
    """
    from ..poses import LENGTH_UNITS, normalize_units

    path = Path(path)
    unit = normalize_units(units, "calibration units")
    if unit is None:
        raise CalibrationError(
            f"{path}: caliscope calibrations are in metres, and this rig's length unit is not known; pass units "
            "(mm, cm or m)."
        )
    if rig.fisheye.any():
        fish = [n for n, f in zip(rig.names, rig.fisheye, strict=True) if f]
        raise CalibrationError(f"{path}: caliscope has no fisheye model; cameras {fish} are fisheye.")
    scale = LENGTH_UNITS[unit]
    R = rodrigues(rig.rvec)
    cameras: dict[str, Any] = {}
    ids = [int(n) if str(n).isdigit() else i for i, n in enumerate(rig.names)]
    if len(set(ids)) != len(ids):
        ids = list(range(len(rig.names)))
    for i in range(len(rig.names)):
        cameras[str(ids[i])] = {
            "cam_id": ids[i],
            "size": [int(v) for v in rig.sizes[i]],
            "rotation_count": 0,
            "error": 0.0,
            "matrix": rig.K[i].tolist(),
            "distortions": rig.dist[i, :5].tolist(),
            "exposure": 0,
            "grid_count": 0,
            "ignore": False,
            "translation": (rig.tvec[i] * scale).tolist(),
            "rotation": R[i].tolist(),
            "verified_resolutions": [[int(v) for v in rig.sizes[i]]],
        }
    atomic_write_text(path, toml.dumps({"cameras": cameras}))
    return path


def rotation_matrices(rig: CameraRig) -> np.ndarray:
    """World-to-camera rotation matrices (C, 3, 3); kept for readers of caliscope layouts."""
    return rodrigues(rig.rvec)
