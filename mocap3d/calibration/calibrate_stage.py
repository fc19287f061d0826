"""The ``calibrate`` stage: board videos (or image folders), one per camera -> ``calibration.toml`` and its report.

:func:`run` is the stage; ``mocap3d calibrate`` and the project pipeline both
call it. The job is :func:`mocap3d.calibration.pipeline.calibrate_videos`
(detection, cached; intrinsics; extrinsics; bundle adjustment; the report and
its pictures beside the calibration), then, when a reference calibration is
given, its world frame (:func:`~mocap3d.calibration.pipeline.align_to_reference`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..config import Config
from ..errors import CalibrationError, MocapError
from .config import CalibrationConfig

__all__ = ["CalibrateStageConfig", "CalibrateInputs", "run", "PICTURES"]

#: The report's pictures, ``<out stem>_<name>.png``.
PICTURES = ("coverage", "errors", "rig", "physical")


@dataclass(frozen=True)
class CalibrateStageConfig(Config):
    """Every setting of the calibrate stage.

    Attributes
    ----------
    calibration : the solver's settings (``[calibration]``).
    cameras : camera names in the order of the videos (default: from the file names, ``cam-A.mp4`` -> ``A``).
    step : examine every ``step``-th video frame first (default: the detection's own).
    workers : cameras detected at once.
    pictures : draw the report's pictures.
    cache : the detections cache (default: ``<out stem>_detections.npz``); a run with new solver settings reuses it.
    progress : progress bars while detecting.
    """

    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    cameras: tuple[str, ...] | None = None
    step: int | None = None
    workers: int = 2
    pictures: bool = True
    cache: Path | None = None
    progress: bool = True

    error: ClassVar[type[MocapError]] = CalibrationError


@dataclass(frozen=True)
class CalibrateInputs:
    """The board file, one video (or image folder) per camera, and optionally a calibration whose world frame
    the result takes (matched by camera centres, rigidly)."""

    board: Path
    videos: tuple[Path, ...]
    reference: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "board", Path(self.board))
        object.__setattr__(self, "videos", tuple(Path(p) for p in self.videos))
        if self.reference is not None:
            object.__setattr__(self, "reference", Path(self.reference))

    def paths(self) -> list[Path]:
        return [*self.videos, self.board, *([self.reference] if self.reference else [])]


def run(config: CalibrateStageConfig, inputs: CalibrateInputs, out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Calibrate the cameras and write ``out`` (anipose layout) with ``<stem>_report.json`` and the pictures beside
    it; returns ``out``. An existing calibration (and its report) is replaced only with ``overwrite``; an input
    (the intrinsics file of the settings included) never is."""
    from ..io.outputs import check_output
    from .pipeline import calibrate_videos

    out = Path(out)
    intrinsics = config.calibration.intrinsics_file
    read = [*inputs.paths(), *([Path(intrinsics)] if intrinsics else [])]
    check_output(out, read, overwrite=overwrite, kinds=["calibration"])
    # The report and pictures belong to the calibration file: without it (a killed run wrote them, then
    # stopped) they are replaced; beside an existing calibration, only with overwrite like it.
    stem = out.with_suffix("")
    replace = overwrite or not out.exists()
    check_output(f"{stem}_report.json", read, overwrite=replace, kinds=["table"])
    for name in PICTURES if config.pictures else ():
        check_output(f"{stem}_{name}.png", read, overwrite=replace, kinds=["image"])
    if config.cache is not None:
        check_output(config.cache, read, overwrite=True, kinds=["other", "table"], option="--cache")
    sample = None
    if config.step:
        from .detect import SamplingConfig

        sample = SamplingConfig(step=config.step)
    rig, result, written = calibrate_videos(
        inputs.board, list(inputs.videos), out, config.calibration,
        cameras=list(config.cameras) if config.cameras else None, cache=config.cache, sample=sample,
        workers=config.workers, pictures=config.pictures, progress=config.progress,
    )  # fmt: skip
    lines = [result.table(), f"median reprojection error {result.median_px:.3f} px over {rig.n_cameras} cameras "
             f"(world: {result.world}; intrinsics: {result.intrinsics})"]  # fmt: skip
    if inputs.reference is not None:
        from ..io.calibration import load_calibration, save_calibration
        from .boards import board_units
        from .pipeline import align_to_reference

        rig = align_to_reference(rig, load_calibration(inputs.reference))
        save_calibration(rig, out, {"adjusted": True, "error": result.median_px,
                                    "world": f"camera centres of {inputs.reference.name}"},
                         units=board_units(inputs.board))  # fmt: skip
        lines.append(f"world frame from {inputs.reference.name}")
    lines += [f"wrote {path}" for path in written]
    for line in lines:
        if report is not None:
            report(line)
    return out
