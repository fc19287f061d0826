"""The ``filter3d`` stage: a 3D pose file -> the same poses filtered (``mocap3d filter-3d`` and the pipeline).

:func:`run` is the stage; the command line and the project pipeline both call
it. The job is :func:`mocap3d.filters.run.filter_3d_file` (a file of several
individuals has each one filtered with the same steps). As a filter batch
resumes where it stopped, an existing output is kept (reported as skipped)
unless ``overwrite``; an input is never written over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..config import Config
from ..errors import FilterError, MocapError
from .config import FilterStep
from .run import filter_3d_file

__all__ = ["Filter3DStageConfig", "run"]


@dataclass(frozen=True)
class Filter3DStageConfig(Config):
    """Every setting of the filter3d stage: the ``[[filter3d]]`` steps, in order, and the frame rate (Hz) when
    the file carries none (anipose CSV)."""

    steps: tuple[FilterStep, ...] = ()
    fps: float | None = None

    error: ClassVar[type[MocapError]] = FilterError


def run(config: Filter3DStageConfig, inputs: Sequence[str | Path], out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Filter the one 3D file of ``inputs`` (``.csv``, ``.h5``, ``.trc``, ``.nc``) into ``out`` (format from its
    suffix); returns ``out``. ``report`` is called with each line of the summary."""
    paths = [Path(p) for p in inputs]
    if len(paths) != 1:
        raise FilterError(f"the filter3d stage filters one 3D file at a time; {len(paths)} were given.")
    result = filter_3d_file(paths[0], out, config.steps, fps=config.fps, overwrite=overwrite)
    for line in result.lines():
        if report is not None:
            report(line)
    return Path(out)
