"""All individuals in one output: ``{individual: Poses3D}`` to files and back.

(Also importable as :mod:`mocap3d.multi.output`; it lives in :mod:`mocap3d.io`
because filters, analysis and the pipeline read these files too, below the
association code.)

* ``.nc``: one netCDF file in ``movement``'s poses layout, ``position``
  (time, space, keypoints, individuals): each individual's dataset is
  :func:`mocap3d.io.exports.poses_to_movement_dataset`'s, concatenated along
  ``individuals``; ``movement.io.load_poses.from_file(..., "movement")`` or
  ``xarray.open_dataset`` read it.
* ``.h5``: one HDF5 file, format ``mocap3d.individuals``: datasets ``points``
  (individuals, frames, keypoints, 3), ``error``, ``ncams``, ``score``
  (individuals, frames, keypoints), ``cameras_used`` (individuals, frames,
  keypoints, views); attributes ``individuals``, ``keypoints``, ``views``,
  ``fps``, ``units`` and ``metadata`` (JSON, per individual).
* ``.trc``, ``.c3d``, ``.csv``: formats without an individuals dimension get
  one file per individual, the name before the suffix: ``out.trc`` ->
  ``out_individual_0.trc``, ``out_individual_1.trc``.
* ``.nwb``: one file per individual too, as ``movement``'s NWB export writes
  them (``movement.io.save_poses.to_nwb_file``: "each individual in the
  dataset will be written to a separate NWBFile, as required by the NWB
  format"): each file's ``identifier`` and ``Subject.subject_id`` are the
  individual's name and its ``behavior`` module holds one ``PoseEstimation``,
  so ``movement.io.load_poses.from_nwb_file`` reads each and ``xr.merge``
  joins them. A file holding several ``PoseEstimation`` objects (another
  tool's, or our 2D export) is read as several individuals.

:func:`read_individuals` is what every command that takes a 3D file calls
first: the individuals of a file that holds several, None for a
single-animal file (which then takes the single-animal path, unchanged).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import PoseFileError
from ..poses import Poses3D
from .atomic import atomic_path

__all__ = ["save_individuals", "load_individuals", "read_individuals", "individual_names_in", "individual_paths",
           "ONE_FILE_SUFFIXES"]

ONE_FILE_SUFFIXES = (".nc", ".netcdf", ".h5", ".hdf5")
_FORMAT = "mocap3d.individuals"


def individual_paths(path: str | Path, names: list[str]) -> dict[str, Path]:
    """Where each individual goes: ``path`` itself for one-file formats, ``<stem>_<name><suffix>`` otherwise."""
    path = Path(path)
    if path.suffix.lower() in ONE_FILE_SUFFIXES:
        return {n: path for n in names}
    return {n: path.with_name(f"{path.stem}_{n}{path.suffix}") for n in names}


def _check_same_shape(poses: dict[str, Poses3D]) -> None:
    if not poses:
        raise PoseFileError("no individual was triangulated; nothing to write.")
    first = next(iter(poses.values()))
    for name, p in poses.items():
        if p.keypoints != first.keypoints or p.n_frames != first.n_frames or p.views != first.views:
            raise PoseFileError(f"individual '{name}' has other keypoints, frames or views than the first one.")


def save_individuals(
    poses: dict[str, Poses3D], path: str | Path, fps: float | None = None, units: str | None = None, yup: bool = True
) -> list[Path]:
    """Write every individual (see module docstring for the layouts); returns the written paths."""
    _check_same_shape(poses)
    path = Path(path)
    suffix = path.suffix.lower()
    first = next(iter(poses.values()))
    unit = units or first.units  # None when unknown: never guessed
    rate = fps if fps is not None else first.fps
    if suffix in (".nc", ".netcdf"):
        import xarray as xr

        from .exports import poses_to_movement_dataset

        parts = []
        for name, p in poses.items():
            if rate is not None and p.fps != rate:
                p = Poses3D(keypoints=p.keypoints, points=p.points, error=p.error, ncams=p.ncams,
                            cameras_used=p.cameras_used, score=p.score, views=p.views, fps=rate,
                            metadata=p.metadata)  # fmt: skip
            parts.append(poses_to_movement_dataset(p, individual=name, units=unit))
        ds = xr.concat(parts, dim="individuals", combine_attrs="override")
        ds.attrs["mocap3d_metadata"] = json.dumps({n: p.metadata for n, p in poses.items()}, default=str)
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")
        return [path]
    if suffix in (".h5", ".hdf5"):
        import h5py

        str_dt = h5py.string_dtype()
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            opts = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
            for key in ("points", "error", "ncams", "score", "cameras_used"):
                f.create_dataset(key, data=np.stack([getattr(p, key) for p in poses.values()]), **opts)
            f.attrs["format"] = _FORMAT
            f.attrs["version"] = 1
            for key, values in (("individuals", list(poses)), ("keypoints", first.keypoints), ("views", first.views)):
                f.attrs.create(key, np.array(values, dtype=object), dtype=str_dt)
            f.attrs["fps"] = np.nan if rate is None else float(rate)
            if unit is not None:
                f.attrs["units"] = unit
            f.attrs["metadata"] = json.dumps({n: p.metadata for n, p in poses.items()}, default=str)
        return [path]
    from .exports import save_any_poses3d

    written = []
    targets = individual_paths(path, list(poses))
    if suffix == ".nwb":
        from .nwb import save_nwb_poses3d

        for p in poses.values():  # every file or none: units are checked before the first is written
            labelled = p.replace(units=unit) if p.units is None and unit else p
            labelled.require_units(f"writing the NWB file {path.name}")
        return [save_nwb_poses3d(poses[name], target, units=unit, fps=rate, individual=name)
                for name, target in targets.items()]  # fmt: skip
    for name, target in targets.items():
        written.append(save_any_poses3d(poses[name], target, fps=rate, units=unit, yup=yup))
    return written


def load_individuals(path: str | Path) -> dict[str, Poses3D]:
    """Read a multi-individual ``.nc`` (movement's layout, ours or movement's) or ``.h5`` (:func:`save_individuals`)."""
    path = Path(path)
    if not path.exists():
        raise PoseFileError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix in (".nc", ".netcdf"):
        import xarray as xr

        from .exports import load_netcdf

        with xr.open_dataset(path, engine="h5netcdf") as ds:
            names = [str(n) for n in ds["individuals"].values]
            stored = ds.attrs.get("mocap3d_metadata")
        out = {n: load_netcdf(path, individual=n) for n in names}
        try:  # save_individuals keeps each individual's metadata under its name
            per = json.loads(stored) if isinstance(stored, str) else {}
        except ValueError:
            per = {}
        if isinstance(per, dict) and names and all(isinstance(per.get(n), dict) for n in names):
            for n, p in out.items():
                kept = {k: v for k, v in p.metadata.items() if k not in per}
                p.metadata = {**per[n], **kept}
        return out
    if suffix in (".h5", ".hdf5"):
        import h5py

        if not h5py.is_hdf5(path):
            raise PoseFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?).")
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("format") != _FORMAT:
                    raise PoseFileError(f"{path}: not a mocap3d multi-individual file (format {_FORMAT}).")
                names = [str(s) for s in f.attrs["individuals"]]
                keypoints = [str(s) for s in f.attrs["keypoints"]]
                views = [str(s) for s in f.attrs["views"]]
                fps = float(f.attrs["fps"])
                units = str(f.attrs.get("units", "")) or None
                meta = json.loads(f.attrs["metadata"])
                arrays = {k: f[k][()] for k in ("points", "error", "ncams", "score", "cameras_used")}
            out = {}
            for i, n in enumerate(names):
                metadata = dict(meta.get(n, {}))
                if units and not metadata.get("units"):
                    metadata["units"] = units
                out[n] = Poses3D(keypoints=keypoints, points=arrays["points"][i], error=arrays["error"][i],
                                 ncams=arrays["ncams"][i], score=arrays["score"][i],
                                 cameras_used=arrays["cameras_used"][i], views=views,
                                 fps=None if np.isnan(fps) else fps, metadata=metadata)  # fmt: skip
            return out
        except PoseFileError:
            raise
        except Exception as exc:  # h5py, json and shape errors of a damaged file
            what = f"{type(exc).__name__}: {exc}"
            raise PoseFileError(f"{path}: damaged mocap3d multi-individual file ({what}).") from None
    if suffix == ".nwb":
        from .nwb import load_nwb_poses3d, nwb_individuals

        return {n: load_nwb_poses3d(path, individual=n) for n in nwb_individuals(path)}
    raise PoseFileError(f"{path}: several individuals are read from .nc, .h5 or .nwb files.")


def individual_names_in(path: str | Path) -> list[str] | None:
    """The individuals of a file that holds several (cheap: names only), None for a single-animal file.

    Several: a mocap3d multi-individual ``.h5`` (even with one individual: its
    layout is the several-individual one), a ``.nc`` or ``.nwb`` with two or
    more individuals. Every other file, and one that cannot be read (its
    reader then says why), is a single-animal file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        return None
    try:
        if suffix in (".h5", ".hdf5"):
            import h5py

            if not h5py.is_hdf5(path):
                return None
            with h5py.File(path, "r") as f:
                if f.attrs.get("format") != _FORMAT:
                    return None
                return [str(s) for s in f.attrs["individuals"]]
        if suffix in (".nc", ".netcdf"):
            import xarray as xr

            with xr.open_dataset(path, engine="h5netcdf") as ds:
                names = [str(n) for n in ds["individuals"].values] if "individuals" in ds.coords else []
            return names if len(names) > 1 else None
        if suffix == ".nwb":
            from .nwb import nwb_individuals

            names = nwb_individuals(path)
            return names if len(names) > 1 else None
    except (OSError, ValueError, KeyError, PoseFileError):
        return None
    return None


def read_individuals(path: str | Path) -> dict[str, Poses3D] | None:
    """Every individual of a file that holds several (see :func:`individual_names_in`), else None."""
    return load_individuals(path) if individual_names_in(path) is not None else None
