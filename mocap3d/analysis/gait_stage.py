"""The ``gait`` stage: a 3D pose file -> gait events, strides, a summary and a picture (``mocap3d gait`` and the
pipeline).

:func:`run` is the stage; the command line and the project pipeline both call
it. It writes ``<stem>_events.csv``, ``<stem>_strides.csv``,
``<stem>_summary.csv`` and ``<stem>.png`` into the folder ``out`` (``stem``:
the input's); a file of several individuals is analysed individual by
individual (``<stem>_<individual>_events.csv``...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import MocapError
from ..io.outputs import check_output, check_output_folder
from .gait import GaitConfig

__all__ = ["GaitStageConfig", "run", "gait_outputs"]

_TABLES = ("events", "strides", "summary")


@dataclass(frozen=True)
class GaitStageConfig(Config):
    """Every setting of the gait stage: the ``[gait]`` table, the frame rate when the file has none, and the
    length unit of the points (for the tables' labels)."""

    gait: GaitConfig = field(default_factory=GaitConfig)
    fps: float | None = None
    units: str = "mm"


def _stems(src: Path) -> dict[str, str]:
    from ..io.individuals import individual_names_in

    names = individual_names_in(src)
    return {"": src.stem} if names is None else {n: f"{src.stem}_{n}" for n in names}


def gait_outputs(src: str | Path, out: str | Path) -> list[Path]:
    """The files the stage writes from ``src`` into the folder ``out``."""
    return [Path(out) / f"{stem}{name}" for stem in _stems(Path(src)).values()
            for name in (*(f"_{t}.csv" for t in _TABLES), ".png")]  # fmt: skip


def run(config: GaitStageConfig, inputs: Sequence[str | Path], out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Detect foot strikes and toe offs of the one 3D file of ``inputs`` and write its tables and picture into the
    folder ``out``; returns ``out``. Existing outputs are replaced only with ``overwrite``."""
    from ..io.exports import load_any_poses3d
    from ..io.individuals import load_individuals
    from .gait import analyze_gait, save_gait

    paths = [Path(p) for p in inputs]
    if len(paths) != 1:
        raise MocapError(f"the gait stage reads one 3D file; {len(paths)} were given.")
    src, out = paths[0], Path(out)
    check_output_folder(out, paths)
    stems = _stems(src)
    for stem in stems.values():
        for name in _TABLES:
            check_output(out / f"{stem}_{name}.csv", paths, overwrite=overwrite, kinds=["table"])
        check_output(out / f"{stem}.png", paths, overwrite=overwrite, kinds=["image"])
    individuals = {"": load_any_poses3d(src)} if set(stems) == {""} else load_individuals(src)
    if config.fps is not None:
        individuals = {who: p.replace(fps=config.fps) for who, p in individuals.items()}
    results = {who: analyze_gait(poses, config.gait) for who, poses in individuals.items()}  # all, before any write
    for who, result in results.items():
        written = save_gait(result, out, stem=stems[who], units=config.units)
        if report is None:
            continue
        n = result.events.groupby("event").size().to_dict()
        report(f"{who + ': ' if who else ''}{n.get('strike', 0)} foot strikes, {n.get('off', 0)} toe offs, "
               f"{len(result.strides)} strides")  # fmt: skip
        s = result.summary["all"]
        units = config.units
        report(f"speed {s['speed']:.0f} {units}/s, cadence {s['cadence']:.1f} steps/min, stride "
               f"{s['stride_length']:.0f} {units} in {s['stride_time']:.3f} s, "
               f"stance {100 * s['stance_fraction']:.1f}%")
        for p in written:
            report(f"wrote {p}")
    return out
