"""One registry of pose file formats, for reading and writing, 2D and 3D.

Each format is one module with a loader and (where mocap3d writes it) a saver;
this registry says which suffixes it uses and how to recognise its content, as
``movement``'s loader registry does. Choosing a format:

1. an explicit ``fmt`` (a format name or a suffix) always wins;
2. otherwise the suffix picks the candidates (``.h5`` is DeepLabCut, SLEAP or
   a mocap3d result; ``.csv`` DeepLabCut or anipose), and when several share a
   suffix the file's content decides (each format's ``sniff``);
3. a suffix no format claims is one sentence listing those that exist.

``load_poses3d``/``save_poses3d`` and ``load_track2d``/``save_track2d`` here
serve the whole package; the older names (``mocap3d.io.pose3d.save_poses3d``,
``mocap3d.io.exports.save_any_poses3d``...) call them.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PoseFileError

__all__ = [
    "Format", "FORMATS", "formats", "find_format", "load_poses3d", "save_poses3d", "load_track2d", "save_track2d",
]  # fmt: skip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    """A file format: where its code lives and how to recognise it.

    ``loader``/``saver`` are ``"module:function"`` names inside
    ``mocap3d.io`` (imported on first use, so that the registry costs
    nothing); ``sniff`` is ``"module:function"`` taking a path and returning
    whether the content is of this format (None: the suffix is enough).
    """

    name: str
    kind: str  # "2d" or "3d"
    suffixes: tuple[str, ...]
    description: str
    loader: str | None = None
    saver: str | None = None
    sniff: str | None = None
    folder: bool = False
    options: frozenset[str] = field(default_factory=frozenset)

    def _resolve(self, ref: str) -> Callable[..., Any]:
        module, func = ref.split(":")
        return getattr(importlib.import_module(f"mocap3d.io.{module}"), func)

    def load(self, path: Path, **kw: Any) -> Any:
        if self.loader is None:
            raise PoseFileError(f"{path}: mocap3d writes {self.description} files but does not read them.")
        loader = self._resolve(self.loader)
        params = inspect.signature(loader).parameters
        return loader(path, **{k: v for k, v in kw.items() if k in params})

    def save(self, data: Any, path: Path, **kw: Any) -> Path:
        if self.saver is None:
            raise PoseFileError(f"{path}: mocap3d reads {self.description} files but does not write them.")
        saver = self._resolve(self.saver)
        params = inspect.signature(saver).parameters
        accepted = {k: v for k, v in kw.items() if k in params}
        dropped = sorted(k for k, v in kw.items() if k not in params and v is not None)
        if dropped:
            log.debug("%s: %s not stored in %s files", path.name, ", ".join(dropped), self.description)
        return saver(data, path, **accepted)

    def matches(self, path: Path) -> bool:
        if self.sniff is None:
            return True
        return bool(self._resolve(self.sniff)(path))


FORMATS: tuple[Format, ...] = (
    # ---- 3D
    Format("mocap3d-h5", "3d", (".h5", ".hdf5"), "mocap3d HDF5", "pose3d:load_h5", "pose3d:save_h5",
           "pose3d:sniff_h5"),
    Format("anipose-csv", "3d", (".csv",), "anipose 3D CSV", "pose3d:load_anipose_csv", "pose3d:save_anipose_csv",
           "pose3d:sniff_anipose_csv"),
    Format("trc", "3d", (".trc",), "OpenSim TRC", "trc:load_trc", "trc:save_trc", "trc:sniff_trc"),
    Format("c3d", "3d", (".c3d",), "C3D", "c3d:load_c3d", "c3d:save_c3d", "c3d:sniff_c3d"),
    Format("netcdf", "3d", (".nc", ".netcdf"), "movement netCDF", "netcdf:load_netcdf", "netcdf:save_netcdf",
           "netcdf:sniff_netcdf"),
    Format("nwb", "3d", (".nwb",), "NWB (ndx-pose)", "nwb:load_nwb_poses3d", "nwb:save_nwb_poses3d",
           "nwb:sniff_nwb"),
    # ---- 2D
    Format("dlc", "2d", (".h5", ".csv"), "DeepLabCut", "pose2d:load_dlc", "pose2d:save_dlc", "pose2d:sniff_dlc"),
    Format("sleap", "2d", (".h5", ".hdf5", ".slp"), "SLEAP analysis HDF5 or labels .slp", "sleap:load_sleap",
           "sleap:save_sleap", "sleap:sniff_sleap"),
    Format("openpose", "2d", (), "OpenPose/RTMPose JSON folder", "pose2d:load_openpose_folder",
           "pose2d:save_openpose_folder", folder=True),
    Format("nwb-2d", "2d", (".nwb",), "NWB (ndx-pose)", "nwb:load_nwb_track2d", "nwb:save_nwb_track2d",
           "nwb:sniff_nwb"),
)  # fmt: skip

_ALIASES = {"h5": "mocap3d-h5", "hdf5": "mocap3d-h5", "csv": "anipose-csv", "anipose": "anipose-csv",
            "nc": "netcdf", "movement": "netcdf", "deeplabcut": "dlc", "slp": "sleap", "json": "openpose"}  # fmt: skip


def formats(kind: str | None = None) -> tuple[Format, ...]:
    """The registered formats (of one ``kind``, ``"2d"`` or ``"3d"``)."""
    return tuple(f for f in FORMATS if kind is None or f.kind == kind)


def _listing(kind: str) -> str:
    return "; ".join(
        f"{f.name} ({', '.join(f.suffixes) if f.suffixes else 'a folder'})" for f in formats(kind)
    )


def find_format(path: str | Path, kind: str, fmt: str | None = None, reading: bool = True) -> Format:
    """The format of ``path`` (see the module docstring); ``fmt`` is a name or suffix that always wins."""
    path = Path(path)
    candidates = formats(kind)
    if fmt is not None:
        key = fmt.lower().lstrip(".")
        key = _ALIASES.get(key, key)
        if kind == "2d" and key == "nwb":
            key = "nwb-2d"
        named = [f for f in candidates if f.name == key or key in (s.lstrip(".") for s in f.suffixes)]
        if not named:
            raise PoseFileError(f"unknown {kind.upper()} pose format '{fmt}'; use one of: {_listing(kind)}.")
        return named[0]
    if path.is_dir() or (not path.suffix and not reading):
        folders = [f for f in candidates if f.folder]
        if folders:
            return folders[0]
    suffix = path.suffix.lower()
    by_suffix = [f for f in candidates if suffix in f.suffixes]
    if not by_suffix:
        raise PoseFileError(
            f"{path}: cannot tell the {kind.upper()} pose format from '{suffix or path.name}'; use one of: "
            f"{_listing(kind)} (or pass the format explicitly)."
        )
    if len(by_suffix) == 1 or not reading:
        return by_suffix[0]
    for f in by_suffix:
        if f.matches(path):
            return f
    return by_suffix[-1]  # the last candidate reads the file and words the error


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise PoseFileError(f"{path}: no such file or folder.")


def load_poses3d(path: str | Path, fmt: str | None = None, **kw: Any):
    """Read 3D poses (:class:`~mocap3d.poses.Poses3D`) from any registered format.

    Keyword arguments go to the format's loader (e.g. TRC's ``axes``).
    """
    path = Path(path)
    _check_exists(path)
    return find_format(path, "3d", fmt).load(path, **kw)


def save_poses3d(poses, path: str | Path, fmt: str | None = None, **kw: Any) -> Path:
    """Write 3D poses in the format of ``fmt`` or of the suffix; returns the path written.

    Options a format has no place for (``fps`` for anipose CSV, ``axes`` for
    C3D...) are dropped, so one call serves every output.
    """
    path = Path(path)
    return find_format(path, "3d", fmt, reading=False).save(poses, path, **kw)


def load_track2d(path: str | Path, fmt: str | None = None, **kw: Any):
    """Read one view's 2D keypoints (:class:`~mocap3d.poses.Track2D`) from any registered format."""
    path = Path(path)
    _check_exists(path)
    return find_format(path, "2d", fmt).load(path, **kw)


def save_track2d(track, path: str | Path, fmt: str | None = None, **kw: Any) -> Path:
    """Write one view's 2D keypoints in the format of ``fmt`` or of the suffix."""
    path = Path(path)
    return find_format(path, "2d", fmt, reading=False).save(track, path, **kw)
