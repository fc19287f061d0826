"""File formats: calibrations, 2D poses and 3D poses (one module per format, one registry: :mod:`.registry`).

The readers and writers are importable from here (``from mocap3d.io import
load_track2d``); their modules are only imported on first use, so that
``import mocap3d.io`` stays light (no pandas, h5py or PyTables).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "load_track2d": "pose2d",
    "save_dlc": "pose2d",
    "save_sleap_analysis": "pose2d",
    "save_openpose_folder": "pose2d",
    "KEYPOINT_PRESETS": "pose2d",
    "match_files_to_cameras": "matching",
    "load_views": "matching",
    "save_poses3d": "pose3d",
    "load_poses3d": "pose3d",
    "load_h5_calibration": "pose3d",
    "load_calibration": "calibration",
    "save_calibration": "calibration",
    "calibration_units": "calibration",
    "save_track2d": "registry",
    "find_format": "registry",
    "load_trc": "trc",
    "save_trc": "trc",
    "load_c3d": "c3d",
    "save_c3d": "c3d",
    "load_netcdf": "netcdf",
    "save_netcdf": "netcdf",
    "load_sleap": "sleap",
    "save_sleap": "sleap",
    "load_nwb_poses3d": "nwb",
    "save_nwb_poses3d": "nwb",
    "load_nwb_track2d": "nwb",
    "save_nwb_track2d": "nwb",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mocap3d.io' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
