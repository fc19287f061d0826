"""NWB files with the ``ndx-pose`` extension (what DeepLabCut, SLEAP and movement write): load and save.

Layout (as ``movement``'s NWB writer and reader use it)
    A processing module ``behavior`` holding a ``Skeletons`` container and one
    ``ndx_pose.PoseEstimation`` per individual (named ``PoseEstimation`` for
    one individual, ``PoseEstimation_<individual>`` for several), each with
    one ``PoseEstimationSeries`` per keypoint: ``data`` (frames, 2 or 3),
    ``confidence`` (frames,), regular sampling (``rate`` = fps,
    ``starting_time`` = first frame / fps) when the frame rate is known, else
    ``timestamps`` = frame numbers. The NWB file's ``identifier`` is the
    individual's name (movement's convention), and a file of one individual
    has a ``Subject`` of that name, linked from its skeleton (as movement's
    export writes one file per individual; see :mod:`mocap3d.io.individuals`).
Units
    2D: ``unit = "pixels"``. 3D: NWB's SI convention, ``unit = "meters"``
    and ``conversion`` = metres per stored unit (0.001 for millimetres), the
    values stored in the data's own unit (:attr:`Poses3D.units
    <mocap3d.poses.Poses3D.units>`); unknown units are an error, never a
    guess. Reading maps ``conversion`` back to mm/cm/m.
Requires ``pynwb`` and ``ndx-pose`` (``pip install pynwb ndx-pose``).
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PoseFileError
from ..poses import DEFAULT_INDIVIDUAL, LENGTH_UNITS, Poses3D, Track2D, normalize_units
from .atomic import atomic_path

__all__ = ["save_nwb_poses3d", "load_nwb_poses3d", "save_nwb_track2d", "load_nwb_track2d", "sniff_nwb",
           "nwb_individuals"]

log = logging.getLogger(__name__)
_MODULE = "behavior"


def _libs():
    try:
        import ndx_pose
        import pynwb
    except ImportError:
        raise PoseFileError("NWB files need the `pynwb` and `ndx-pose` packages: pip install pynwb ndx-pose") from None
    return pynwb, ndx_pose


def sniff_nwb(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file with NWB's ``nwb_version`` attribute."""
    try:
        import h5py

        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return "nwb_version" in f.attrs
    except OSError:
        return False


def _timing(n_frames: int, fps: float | None, frame_start: int) -> dict[str, Any]:
    if fps:
        return {"rate": float(fps), "starting_time": frame_start / float(fps)}
    return {"timestamps": (np.arange(n_frames) + frame_start).astype(np.float64)}


def _write(path: Path, individuals: list[tuple[str, np.ndarray, np.ndarray]], keypoints: tuple[str, ...],
           unit: str, conversion: float, timing: dict[str, Any], description: str) -> Path:
    """One PoseEstimation per (individual, data (F, K, D), confidence (F, K))."""
    pynwb, ndx_pose = _libs()
    # one individual: the file is its subject (movement's NWB export, one file per individual)
    subject = pynwb.file.Subject(subject_id=individuals[0][0]) if len(individuals) == 1 else None
    nwb = pynwb.NWBFile(
        session_description=description,
        identifier=individuals[0][0],
        session_start_time=_dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc),
        subject=subject,
    )
    module = nwb.create_processing_module(name=_MODULE, description="processed behavioral data")
    skeletons, estimations = [], []
    for name, data, conf in individuals:
        skeleton = ndx_pose.Skeleton(name=f"skeleton_{name}" if len(individuals) > 1 else "skeleton",
                                     nodes=list(keypoints), subject=subject)  # fmt: skip
        skeletons.append(skeleton)
        series = [
            ndx_pose.PoseEstimationSeries(
                name=kp, description=f"{kp} of {name}", data=data[:, j], unit=unit, conversion=conversion,
                reference_frame="mocap3d world frame (the calibration's)" if data.shape[-1] == 3 else
                "image pixels, (0, 0) at the top-left corner",
                confidence=conf[:, j], confidence_definition="mocap3d score (2D detector confidence)",
                **timing,
            )
            for j, kp in enumerate(keypoints)
        ]  # fmt: skip
        estimations.append(ndx_pose.PoseEstimation(
            name="PoseEstimation" if len(individuals) == 1 else f"PoseEstimation_{name}",
            pose_estimation_series=series, description=f"{description}: {name}", skeleton=skeleton,
            source_software="mocap3d",
        ))  # fmt: skip
    module.add(ndx_pose.Skeletons(skeletons=skeletons))
    for est in estimations:
        module.add(est)
    with atomic_path(path) as tmp, pynwb.NWBHDF5IO(str(tmp), mode="w") as io:
        io.write(nwb)
    return path


def save_nwb_poses3d(poses: Poses3D, path: str | Path, units: str | None = None, fps: float | None = None,
                     individual: str = DEFAULT_INDIVIDUAL) -> Path:  # fmt: skip
    """Write 3D poses to an NWB file (see the module docstring); ``units`` converts (or labels unknown units)."""
    path = Path(path)
    if units is not None:
        poses = poses.with_units(units) if poses.units is not None else poses.replace(units=units)
    unit = poses.require_units(f"writing the NWB file {path.name}")
    valid = np.isfinite(poses.points).all(-1)
    conf = np.where(valid, poses.score, np.nan)
    timing = _timing(poses.n_frames, fps or poses.fps, int(poses.metadata.get("frame_start", 0)))
    return _write(path, [(individual, poses.points, conf)], poses.keypoints, "meters", LENGTH_UNITS[unit], timing,
                  "3D poses triangulated by mocap3d")  # fmt: skip


def save_nwb_track2d(track: Track2D, path: str | Path, fps: float | None = None) -> Path:
    """Write one view's 2D keypoints (every individual) to an NWB file, in pixels."""
    path = Path(path)
    seen = np.isfinite(track.points).all(-1)
    inds = [(name, track.points[:, i], np.where(seen[:, i], track.scores[:, i], np.nan))
            for i, name in enumerate(track.individuals)]  # fmt: skip
    return _write(path, inds, track.keypoints, "pixels", 1.0, _timing(track.n_frames, fps, 0),
                  "2D keypoints written by mocap3d")  # fmt: skip


def _read(path: Path, dims: int) -> tuple[list[str], tuple[str, ...], list[np.ndarray], list[np.ndarray], dict]:
    pynwb, _ = _libs()
    try:
        io = pynwb.NWBHDF5IO(str(path), mode="r")
        nwb = io.read()
    except Exception as exc:  # pynwb/hdmf raise many kinds on foreign files
        raise PoseFileError(f"{path}: cannot read this NWB file ({type(exc).__name__}: {exc}).") from None
    with io:
        estimations = [obj for module in nwb.processing.values() for obj in module.data_interfaces.values()
                       if type(obj).__name__ == "PoseEstimation"]  # fmt: skip
        names, datas, confs, info = [], [], [], {}
        keypoints: tuple[str, ...] = ()
        for est in estimations:
            by_name = dict(est.pose_estimation_series)
            # pynwb returns the series sorted by name; the skeleton keeps the keypoints' order
            nodes = [str(n) for n in est.skeleton.nodes[:]] if est.skeleton is not None else []
            order = nodes if sorted(nodes) == sorted(by_name) else list(by_name)
            series = [by_name[n] for n in order]
            if not series or np.asarray(series[0].data).shape[-1] != dims:
                continue
            kps = tuple(s.name for s in series)
            if keypoints and kps != keypoints:
                raise PoseFileError(f"{path}: its pose estimations have different keypoints ({keypoints} vs {kps}).")
            keypoints = kps
            names.append(est.name.removeprefix("PoseEstimation_") if est.name != "PoseEstimation" else
                         nwb.identifier)  # fmt: skip
            datas.append(np.stack([np.asarray(s.data, dtype=np.float64) for s in series], axis=1))
            confs.append(np.stack([np.asarray(s.confidence, dtype=np.float64) if s.confidence is not None
                                   else np.ones(len(s.data)) for s in series], axis=1))  # fmt: skip
            first = series[0]
            info = {"rate": first.rate, "starting_time": first.starting_time, "conversion": first.conversion,
                    "unit": first.unit,
                    "timestamps": None if first.timestamps is None else np.asarray(first.timestamps)}  # fmt: skip
    if not names:
        raise PoseFileError(f"{path}: no ndx-pose PoseEstimation with {dims}D keypoints in this NWB file.")
    return names, keypoints, datas, confs, info


def _frame_start(info: dict) -> int:
    if info.get("rate"):
        return int(round((info.get("starting_time") or 0.0) * info["rate"]))
    ts = info.get("timestamps")
    return int(ts[0]) if ts is not None and len(ts) else 0


def load_nwb_poses3d(path: str | Path, individual: int | str = 0) -> Poses3D:
    """Read one individual's 3D poses from an NWB (ndx-pose) file; units from ``unit``/``conversion``."""
    path = Path(path)
    names, keypoints, datas, confs, info = _read(path, 3)
    idx = names.index(individual) if isinstance(individual, str) and individual in names else individual
    if not isinstance(idx, int) or not 0 <= idx < len(names):
        raise PoseFileError(f"{path}: no individual {individual!r} (individuals: {', '.join(names)}).")
    units = None
    if str(info.get("unit", "")).lower() in ("meters", "metres", "m"):
        conv = float(info.get("conversion") or 1.0)
        units = next((u for u, s in LENGTH_UNITS.items() if np.isclose(s, conv, rtol=1e-9)), None)
    else:
        try:
            units = normalize_units(info.get("unit"))
        except ValueError:
            units = None
    conf = confs[idx]
    valid = np.isfinite(datas[idx]).all(-1)
    meta: dict[str, Any] = {"source": str(path), "format": "nwb", "individual": names[idx]}
    start = _frame_start(info)
    if start:
        meta["frame_start"] = start
    return Poses3D(keypoints=keypoints, points=datas[idx], score=np.where(valid & np.isfinite(conf), conf, 0.0),
                   fps=info.get("rate"), metadata=meta, units=units)  # fmt: skip


def nwb_individuals(path: str | Path) -> list[str]:
    """The individuals of an NWB file's 3D pose estimations (one per ``PoseEstimation``), in file order."""
    return _read(Path(path), 3)[0]


def load_nwb_track2d(path: str | Path) -> Track2D:
    """Read 2D keypoints (every individual) from an NWB (ndx-pose) file."""
    path = Path(path)
    names, keypoints, datas, confs, _ = _read(path, 2)
    points = np.stack(datas, axis=1)  # (F, I, K, 2)
    scores = np.stack(confs, axis=1)
    return Track2D(points, np.where(np.isfinite(scores), scores, 0.0), keypoints, tuple(names), source=str(path))
