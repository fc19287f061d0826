"""The ``filter2d`` stage: each camera's 2D file -> the same detections filtered, in the same format.

:func:`run` is the stage; ``mocap3d filter-2d`` and the project pipeline both
call it. The job is :func:`mocap3d.filters.run.filter_2d_files`. As a filter
batch resumes where it stopped, existing outputs are kept (reported as
skipped) unless ``overwrite``; an input is never written over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..config import Config
from ..errors import FilterError, MocapError
from .config import FilterStep
from .run import filter_2d_files

__all__ = ["Filter2DStageConfig", "run"]


@dataclass(frozen=True)
class Filter2DStageConfig(Config):
    """Every setting of the filter2d stage: the ``[[filter2d]]`` steps, in order, and the names of OpenPose JSON
    keypoints (``keypoint_preset``)."""

    steps: tuple[FilterStep, ...] = ()
    keypoint_preset: str | None = None

    error: ClassVar[type[MocapError]] = FilterError


def run(config: Filter2DStageConfig, inputs: Sequence[str | Path], out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Filter each 2D file (or OpenPose folder) of ``inputs`` into the folder ``out`` (one DeepLabCut input: ``out``
    may be the output file); returns ``out``. ``report`` is called with each line of the summary."""
    result = filter_2d_files(list(inputs), out, config.steps, overwrite=overwrite,
                             keypoint_preset=config.keypoint_preset)  # fmt: skip
    for line in result.lines():
        if report is not None:
            report(line)
    return Path(out)
