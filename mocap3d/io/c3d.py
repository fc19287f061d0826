"""C3D files (biomechanics' binary marker format), through ``ezc3d``: load and save.

What is stored where
    * ``POINT:LABELS`` keypoint names, ``POINT:RATE`` the frame rate,
      ``POINT:UNITS`` the points' length unit (:attr:`Poses3D.units
      <mocap3d.poses.Poses3D.units>`: written from the data, converted when
      another unit is asked for, an error when unknown).
    * Coordinates in the world frame (the calibration's axes; C3D readers
      such as OpenSim's and Visual3D's take Z as vertical, which is mocap3d's
      board-calibrated world). C3D stores 32-bit floats: a round trip returns
      ``float32(points)`` exactly.
    * The point **residual** is the reprojection error of the point in pixels
      (``POINT:RESIDUAL_UNITS = "px"``): 0 is a perfect fit, -1 (C3D's
      convention) marks a missing point; a point without a known error (an
      imported one) has residual 0. C3D packs a residual into one byte times
      ``|POINT:SCALE|``; mocap3d writes ``POINT:SCALE = -0.05`` (negative:
      float coordinates, which the scale does not touch), so the error is
      kept to 0.05 px and errors above 12.75 px are stored as 12.75 px. The **camera mask** holds the first 7
      cameras used (``cameras_used``), C3D's bits 0..6. The fourth word is laid out as the C3D specification
      says (camera bits in the high byte, residual in the low byte), which the ``c3d`` package and BTK read;
      ezc3d 1.7 swaps the two bytes, so mocap3d writes and reads that word itself.
    * The triangulation **confidence** (``score``) rides as one analog
      channel per keypoint, ``<keypoint>_score``, sampled at the point rate
      (``ANALOG:RATE`` = ``POINT:RATE``), as C3D files carry any per-frame
      signal.

Metadata (method, thresholds...) is not kept: C3D parameters cannot hold
JSON of arbitrary length.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np

from ..errors import PoseFileError
from ..poses import Poses3D, normalize_units
from .atomic import atomic_path

__all__ = ["save_c3d", "load_c3d", "sniff_c3d"]

log = logging.getLogger(__name__)
_SCORE_SUFFIX = "_score"
#: Resolution of the reprojection error stored in the residual (px); C3D residuals are one byte, so errors
#: above 255 steps (12.75 px) are stored as 12.75 px.
RESIDUAL_STEP_PX = 0.05


def _ezc3d():
    try:
        import ezc3d
    except ImportError:  # pragma: no cover - ezc3d is a declared dependency
        raise PoseFileError("reading or writing C3D needs the `ezc3d` package: pip install ezc3d") from None
    return ezc3d


def sniff_c3d(path: Path) -> bool:
    """Whether ``path`` starts like a C3D file (second byte 0x50, C3D's key)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[1] == 0x50


def _data_layout(f) -> tuple[int, int, int, int] | None:
    """(data offset, frames, points, analog values per frame) of an Intel floating-point C3D file, else None."""
    f.seek(0)
    header = f.read(512)
    param_block = header[0]
    f.seek(512 * (param_block - 1) + 3)
    processor = f.read(1)
    n_points, n_analog, first, last = struct.unpack("<4H", header[2:10])
    scale = struct.unpack("<f", header[12:16])[0]
    start_block = struct.unpack("<H", header[16:18])[0]
    if processor != bytes([84]) or scale >= 0:  # 84: Intel; a negative scale: float data
        return None
    return 512 * (start_block - 1), last - first + 1, n_points, n_analog


def _write_point_words(path: Path, scale: float, words: np.ndarray) -> None:
    """Set the header's ``POINT:SCALE`` copy and every point's fourth word, as the C3D specification lays them out.

    ezc3d 1.7 leaves the header's scale at -1 (the ``c3d`` package then refuses the file) and writes the residual in
    the high byte of the fourth word and the camera mask in the low byte, the reverse of the specification
    (c3d.org: camera bits in the high byte, the residual / ``|POINT:SCALE|`` in the low byte), which the ``c3d``
    package and BTK follow. ``words`` is (frames, points): ``mask << 8 | steps``, or -1 for a missing point.
    """
    with open(path, "r+b") as f:
        f.seek(12)
        f.write(struct.pack("<f", scale))
        layout = _data_layout(f)
        if layout is None:  # pragma: no cover - ezc3d always writes Intel floats
            raise PoseFileError(f"{path}: ezc3d wrote an unexpected C3D layout; cannot store the residuals.")
        offset, n_frames, n_points, n_analog = layout
        width = 4 * n_points + n_analog
        f.seek(offset)
        block = np.frombuffer(f.read(4 * width * n_frames), dtype="<f4").reshape(n_frames, width).copy()
        block[:, 3 : 4 * n_points : 4] = words.astype(np.float32)
        f.seek(offset)
        f.write(block.tobytes())


def _read_point_words(path: Path, n_frames: int, n_points: int) -> np.ndarray | None:
    """The fourth word of every point (frames, points) as integers, for Intel float files; else None."""
    try:
        with open(path, "rb") as f:
            layout = _data_layout(f)
            if layout is None:
                return None
            offset, frames, points, n_analog = layout
            if (frames, points) != (n_frames, n_points):
                return None
            width = 4 * points + n_analog
            f.seek(offset)
            raw = f.read(4 * width * frames)
    except (OSError, struct.error, IndexError):
        return None
    if len(raw) != 4 * width * frames:
        return None
    block = np.frombuffer(raw, dtype="<f4").reshape(frames, width)
    return block[:, 3 : 4 * points : 4].astype(np.int64)


def save_c3d(poses: Poses3D, path: str | Path, fps: float | None = None, units: str | None = None) -> Path:
    """Write 3D keypoints to a C3D file (atomically); see the module docstring for the layout.

    Parameters
    ----------
    poses : points (frames, keypoints, 3), NaN = missing, in ``poses.units``.
    fps : frame rate (Hz); defaults to ``poses.fps``. Required by C3D.
    units : unit of the file (``"mm"``, ``"cm"``, ``"m"``); default
        ``poses.units``. Points of unknown units are labelled ``units`` as
        they are; without either, an error.

    Returns
    -------
    Path of the written file.
    """
    ezc3d = _ezc3d()
    path = Path(path)
    rate = fps if fps is not None else poses.fps
    if rate is None or not np.isfinite(rate) or rate <= 0:
        raise PoseFileError("C3D needs a frame rate: pass fps (e.g. --fps 60) or set it on the poses.")
    target = normalize_units(units, "C3D units") if units is not None else None
    if target is None:
        target = poses.require_units(f"writing the C3D file {path.name}")
    elif poses.units is not None and poses.units != target:
        poses = poses.with_units(target)
    pts = poses.points  # (F, K, 3)
    f, k, _ = pts.shape
    valid = np.isfinite(pts).all(-1)  # (F, K)
    data = np.ones((4, k, f))
    data[:3] = np.where(valid[..., None], pts, 0.0).transpose(2, 1, 0)
    error = np.asarray(poses.error, dtype=np.float64)
    # C3D packs the residual in one byte times |POINT:SCALE|: round to the step, clip at the largest byte
    steps = np.clip(np.round(np.where(np.isfinite(error), error, 0.0) / RESIDUAL_STEP_PX), 0, 255).astype(np.int64)
    used = np.asarray(poses.cameras_used, dtype=bool)[..., :7]  # (F, K, <=7)
    mask_bits = (used * (1 << np.arange(used.shape[-1]))).sum(-1).astype(np.int64)  # (F, K)
    words = np.where(valid, (mask_bits << 8) | steps, -1)
    score = np.where(valid, np.asarray(poses.score, dtype=np.float64), 0.0)
    c3d = ezc3d.c3d()
    point = c3d["parameters"]["POINT"]
    point["RATE"]["value"] = [float(rate)]
    point["LABELS"]["value"] = list(poses.keypoints)
    point["UNITS"]["value"] = [target]
    point["SCALE"]["value"] = [-RESIDUAL_STEP_PX]  # negative: float data; its size is the residual's step
    c3d.add_parameter("POINT", "RESIDUAL_UNITS", ["px"])
    analog = c3d["parameters"]["ANALOG"]
    analog["RATE"]["value"] = [float(rate)]
    analog["LABELS"]["value"] = [f"{name}{_SCORE_SUFFIX}" for name in poses.keypoints]
    analog["UNITS"]["value"] = ["1"] * k
    c3d["data"]["points"] = data
    c3d["data"]["meta_points"]["residuals"] = np.where(valid, 0.0, -1.0).T[None]  # (1, K, F); final words below
    c3d["data"]["meta_points"]["camera_masks"] = np.zeros((7, k, f), dtype=bool)
    c3d["data"]["analogs"] = score.T[None].copy()  # (1 subframe, K channels, F)
    with atomic_path(path) as tmp:
        c3d.write(str(tmp))
        _write_point_words(tmp, -RESIDUAL_STEP_PX, words)
    log.info("wrote %s (%d frames, %d points, %g Hz, %s)", path, f, k, rate, target)
    return path


def load_c3d(path: str | Path) -> Poses3D:
    """Read a C3D file's 3D points as :class:`Poses3D`.

    Points with a negative residual (C3D's "invalid") become NaN. ``units``
    is ``POINT:UNITS`` (None when absent or not a length). The residual is
    read back as ``error`` when the file says it is in pixels
    (``POINT:RESIDUAL_UNITS = "px"``, as mocap3d writes it); analog channels
    named ``<keypoint>_score`` at the point rate become ``score``; the
    camera masks become ``cameras_used`` (views ``cam_bit0..6``, C3D keeps
    no camera names).
    """
    ezc3d = _ezc3d()
    path = Path(path)
    if not path.exists():
        raise PoseFileError(f"C3D file '{path}' does not exist.")
    try:
        c3d = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises plain RuntimeError on bad files
        raise PoseFileError(f"'{path}' is not a readable C3D file ({exc}).") from None
    params = c3d["parameters"]["POINT"]
    labels = [str(s).strip() for s in params["LABELS"]["value"]]
    data = np.asarray(c3d["data"]["points"], dtype=np.float64)  # (4, K, F)
    pts = data[:3].transpose(2, 1, 0).copy()
    f, k = pts.shape[:2]
    words = _read_point_words(path, f, k)
    scale = abs(float(np.asarray(params["SCALE"]["value"]).ravel()[0])) if "SCALE" in params else 1.0
    if words is not None:  # decoded as the specification says (see _write_point_words)
        missing = words < 0
        residuals = np.where(missing, -1.0, (words & 0xFF) * scale)
        masks = ((np.where(missing, 0, words)[None] >> 8) >> np.arange(7)[:, None, None]) & 1  # (7, F, K)
        masks = masks.astype(bool).transpose(0, 2, 1)  # (7, K, F)
    else:
        residuals = np.asarray(c3d["data"]["meta_points"]["residuals"], dtype=np.float64)[0].T  # (F, K)
        missing = residuals < 0
        masks = np.asarray(c3d["data"]["meta_points"]["camera_masks"], dtype=bool)  # (7, K, F)
    pts[missing] = np.nan
    rate = float(np.asarray(params["RATE"]["value"]).ravel()[0])
    raw_units = params["UNITS"]["value"][0] if "UNITS" in params and len(params["UNITS"]["value"]) else None
    try:
        units = normalize_units(raw_units, f"{path}: POINT:UNITS")
    except ValueError as exc:
        log.warning("%s; the points' units are unknown", exc)
        units = None
    keypoints = tuple(labels[:k]) + tuple(f"point{i}" for i in range(len(labels), k))
    error = None
    res_units = params.get("RESIDUAL_UNITS", {}).get("value", [])
    if len(res_units) and str(res_units[0]).strip() == "px":
        error = np.where(missing, np.nan, residuals)
    score = None
    analog = c3d["parameters"].get("ANALOG", {})
    a_labels = [str(s).strip() for s in analog.get("LABELS", {}).get("value", [])]
    analogs = np.asarray(c3d["data"]["analogs"], dtype=np.float64)  # (1, channels, F * ratio)
    wanted = [f"{name}{_SCORE_SUFFIX}" for name in keypoints]
    if analogs.size and all(w in a_labels for w in wanted) and analogs.shape[-1] == f:
        score = analogs[0, [a_labels.index(w) for w in wanted]].T
        score = np.where(missing, 0.0, score)
    views: tuple[str, ...] = ()
    used = None
    if masks.size and masks.any():
        n = int(np.flatnonzero(masks.any(axis=(1, 2))).max()) + 1
        views = tuple(f"cam_bit{i}" for i in range(n))
        used = masks[:n].transpose(2, 1, 0)
    return Poses3D(
        keypoints=keypoints,
        points=pts,
        error=error,
        ncams=None if used is None else used.sum(-1),
        cameras_used=used,
        score=score,
        views=views,
        fps=rate,
        metadata={"source": str(path), "format": "c3d"},
        units=units,
    )
