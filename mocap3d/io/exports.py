"""Biomechanics exports, kept for older imports: C3D (:mod:`mocap3d.io.c3d`), netCDF (:mod:`mocap3d.io.netcdf`).

``load_any_poses3d``/``save_any_poses3d`` are the format registry's
:func:`~mocap3d.io.registry.load_poses3d` and
:func:`~mocap3d.io.registry.save_poses3d` (one dispatcher, one set of
defaults: TRC is written Y-up and declared so, read by its declaration).
"""

from __future__ import annotations

from pathlib import Path

from ..poses import Poses3D
from .c3d import load_c3d, save_c3d
from .netcdf import load_netcdf, poses_to_movement_dataset, save_netcdf

__all__ = [
    "save_c3d", "load_c3d", "save_netcdf", "load_netcdf", "poses_to_movement_dataset", "load_any_poses3d",
    "save_any_poses3d",
]


def load_any_poses3d(path: str | Path, trc_yup: bool | None = None, fmt: str | None = None) -> Poses3D:
    """Read 3D poses from any registered format (by ``fmt``, else suffix and content).

    A TRC file is read with the axes it declares (Y-up when it declares none,
    OpenSim's convention); ``trc_yup`` overrides that.
    """
    from .registry import load_poses3d

    kw = {} if trc_yup is None else {"yup": trc_yup}
    return load_poses3d(path, fmt=fmt, **kw)


def save_any_poses3d(
    poses: Poses3D, path: str | Path, fps: float | None = None, units: str | None = None, yup: bool | None = None,
    calibration=None, fmt: str | None = None,
) -> Path:
    """Write 3D poses in the format of ``fmt`` or of the suffix (``.trc .c3d .nc .nwb .csv .h5``).

    ``units`` converts (or, for points of unknown units, labels) the output;
    ``yup`` applies to TRC (default: the axes the poses were read with, else Y-up).
    """
    from .registry import save_poses3d

    return save_poses3d(poses, path, fmt=fmt, fps=fps, units=units, yup=yup, calibration=calibration)
