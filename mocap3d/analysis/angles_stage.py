"""The ``angles`` stage: a 3D pose file -> a table of joint angles per frame (``mocap3d angles`` and the pipeline).

:func:`run` is the stage; the command line and the project pipeline both call
it. A file of several individuals gives one table per individual
(``out_<individual>.csv``, the per-individual naming of every format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import MocapError
from ..io.outputs import check_output

__all__ = ["AnglesStageConfig", "run", "angle_outputs"]


@dataclass(frozen=True)
class AnglesStageConfig(Config):
    """Every setting of the angles stage: the ``[angles]`` table (name -> body parts, anipose's syntax; see
    :func:`mocap3d.analysis.angles.parse_angles`)."""

    angles: Mapping[str, Sequence[str]] = field(default_factory=dict)


def angle_outputs(src: str | Path, out: str | Path) -> dict[str, Path]:
    """Individual -> table the stage writes from ``src``: ``{"": out}`` for one individual, else one per individual."""
    from ..io.individuals import individual_names_in, individual_paths

    names = individual_names_in(src)
    return {"": Path(out)} if names is None else individual_paths(out, names)


def run(config: AnglesStageConfig, inputs: Sequence[str | Path], out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Joint angles (degrees) of the one 3D file of ``inputs`` for every frame -> the CSV ``out`` (anipose's
    ``angles/*.csv`` layout); returns ``out``. Existing tables are replaced only with ``overwrite``."""
    from ..io.exports import load_any_poses3d
    from ..io.individuals import load_individuals
    from .angles import compute_angles, parse_angles, save_angles_csv

    paths = [Path(p) for p in inputs]
    if len(paths) != 1:
        raise MocapError(f"the angles stage reads one 3D file; {len(paths)} were given.")
    if not config.angles:
        raise MocapError("no angles declared: give the [angles] table (name = [body parts]) at least one angle.")
    src = paths[0]
    targets = angle_outputs(src, out)
    for target in targets.values():
        check_output(target, paths, overwrite=overwrite, kinds=["table"])
    individuals = {"": load_any_poses3d(src)} if set(targets) == {""} else load_individuals(src)
    definitions = parse_angles(config.angles)
    for name, poses in individuals.items():
        angles = compute_angles(poses, definitions)
        save_angles_csv(angles, targets[name])
        if report is None:
            continue
        cols = [c for c in angles.columns if c != "fnum"]
        report(f"wrote {targets[name]}: {len(cols)} angle columns x {len(angles)} frames")
        for c in cols[:12]:
            col = angles[c]
            report(f"  {c:<20} median {col.median():8.1f} deg, range {col.min():.1f}..{col.max():.1f}")
    return Path(out)
