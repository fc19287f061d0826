"""The ``sync`` stage: each camera's 2D file (or video) -> the frame offsets between the cameras (``offsets.toml``).

:func:`run` is the stage; ``mocap3d sync --out`` and the project pipeline both
call it. :func:`estimate` is its job without the file (``mocap3d sync``
without ``--out`` prints the offsets). The methods are :mod:`.offsets`'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..config import Config
from ..errors import MocapError, ProjectError
from .offsets import SyncConfig, SyncResult, estimate_offsets, save_offsets

__all__ = ["SyncStageConfig", "SyncInputs", "run", "estimate"]


@dataclass(frozen=True)
class SyncStageConfig(Config):
    """Every setting of the sync stage: the ``[sync]`` table, which file is which camera (``cam_regex``; default:
    camera names as tokens of the file names) and the names of OpenPose JSON keypoints."""

    sync: SyncConfig = field(default_factory=SyncConfig)
    cam_regex: str | None = None
    keypoint_preset: str | None = None

    error: ClassVar[type[MocapError]] = ProjectError


@dataclass(frozen=True)
class SyncInputs:
    """One 2D file (or video, for ``flash``) per camera, and the calibration: the camera names the files are
    matched to and, for ``epipolar``, the geometry (None: cameras named after the files, ``cam1.h5`` -> ``cam1``)."""

    files: tuple[Path, ...]
    calibration: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(Path(p) for p in self.files))
        if self.calibration is not None:
            object.__setattr__(self, "calibration", Path(self.calibration))

    def paths(self) -> list[Path]:
        return [*self.files, *([self.calibration] if self.calibration else [])]


def estimate(config: SyncStageConfig, inputs: SyncInputs) -> SyncResult:
    """Each camera's offset against the reference camera, with its confidence (nothing is written)."""
    from ..io.calibration import load_calibration
    from ..io.matching import match_files_to_cameras
    from ..io.pose2d import load_track2d

    method = config.sync.method
    if method == "epipolar" and inputs.calibration is None:
        raise MocapError("the epipolar method needs the calibration (the geometry); give it, or use the "
                         "keypoints method.")  # fmt: skip
    rig = load_calibration(inputs.calibration) if inputs.calibration is not None else None
    if rig is not None:
        matched = match_files_to_cameras(list(inputs.files), rig.names, config.cam_regex)
        files = {c: Path(matched[c]) for c in rig.names if c in matched}
    else:  # cameras named after the files: cam1.h5, cam1.analysis.h5, cam1_json -> cam1
        files = {p.name.split(".")[0].removesuffix("_json"): p for p in inputs.files}
    if method == "flash":
        return estimate_offsets(config.sync, videos=files)
    tracks = {c: load_track2d(p, keypoint_preset=config.keypoint_preset) for c, p in files.items()}
    return estimate_offsets(config.sync, tracks=tracks, rig=rig)


def run(config: SyncStageConfig, inputs: SyncInputs, out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Estimate the offsets and write them to ``out`` (``sync/offsets.toml`` layout); returns ``out``.

    A camera whose offset is ambiguous fails the stage when ``[sync] on_ambiguous = "fail"`` (nothing is
    written), else the best guess is kept and flagged in the file. An existing ``out`` is replaced only with
    ``overwrite``.
    """
    from ..io.outputs import check_output

    out = Path(out)
    check_output(out, inputs.paths(), overwrite=overwrite, kinds=["settings"])
    result = estimate(config, inputs)
    if result.any_ambiguous and config.sync.on_ambiguous == "fail":
        bad = "; ".join(f"{c}: {r}" for c, r in result.reasons.items() if r)
        raise ProjectError(f"camera offsets are ambiguous ({bad}). Record a clearer motion or a flash, narrow [sync] "
                           'max_offset, or set on_ambiguous = "use" to keep the best guess.')  # fmt: skip
    save_offsets(result, out)
    for line in [*result.lines(), f"wrote {out}"]:
        if report is not None:
            report(line)
    return out
