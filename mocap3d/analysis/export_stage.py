"""The ``export`` stage: 3D poses -> a file that biomechanics and analysis tools read (``mocap3d export`` and the
pipeline).

:func:`run` is the stage; the command line and the project pipeline (once per
``[export] formats`` entry) both call it. It lives beside the alignment it may
apply first; the formats are :mod:`mocap3d.io`'s registry. A file of several
individuals goes to one ``.nc``/``.h5``, or to one ``.trc``/``.c3d``/``.csv``/``.nwb``
per individual (``out_<individual>.trc``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import MocapError
from ..io.outputs import check_output

if TYPE_CHECKING:
    from .alignment import AlignmentConfig

__all__ = ["ExportStageConfig", "run", "export_outputs"]

_PER_INDIVIDUAL = (".trc", ".c3d", ".csv", ".nwb")


@dataclass(frozen=True)
class ExportStageConfig(Config):
    """Every setting of the export stage.

    Attributes
    ----------
    fmt : the output format whatever the suffix (``trc``, ``c3d``, ``netcdf``, ``nwb``, ``anipose-csv``,
        ``mocap3d-h5``); None: from the output's suffix.
    fps : frame rate (TRC/C3D need one when the input has none).
    units : the output's length unit (converts from the input's, or names them when it does not say).
    trc_yup : TRC in OpenSim's Y-up frame (as Pose2Sim writes it) from the Z-up world.
    alignment : axes and origin to align the poses to first (anipose's ``[triangulation]`` axes/reference_point).
    """

    fmt: str | None = None
    fps: float | None = None
    units: str | None = None
    trc_yup: bool = True
    alignment: AlignmentConfig | None = None


def export_outputs(src: str | Path, out: str | Path) -> list[Path]:
    """The files the stage writes from ``src``: ``out``, or one per individual of a several-individual file."""
    from ..io.individuals import individual_names_in, individual_paths

    names = individual_names_in(src)
    return [Path(out)] if names is None else sorted(set(individual_paths(out, names).values()))


def run(config: ExportStageConfig, inputs: Sequence[str | Path], out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Write the poses of the one 3D file of ``inputs`` to ``out`` (format from ``config.fmt`` or its suffix);
    returns ``out``. An existing output is replaced only with ``overwrite``. A mocap3d ``.h5`` input's stored
    calibration goes along into an ``.h5`` output."""
    from ..io.individuals import individual_names_in

    paths = [Path(p) for p in inputs]
    if len(paths) != 1:
        raise MocapError(f"the export stage reads one 3D file; {len(paths)} were given.")
    src, out = paths[0], Path(out)
    names = individual_names_in(src)
    if names is not None:
        _export_individuals(config, src, names, out, overwrite, report)
        return out
    from ..io.exports import load_any_poses3d, save_any_poses3d
    from ..io.pose3d import load_h5_calibration, sniff_h5

    check_output(out, paths, overwrite=overwrite, kinds=["pose3d"])
    poses = load_any_poses3d(src)
    if config.alignment is not None:
        from .alignment import align_poses

        poses = align_poses(poses, config.alignment)
    calibration = load_h5_calibration(src) if sniff_h5(src) else None
    path = save_any_poses3d(poses, out, fps=config.fps, units=config.units, yup=config.trc_yup,
                            calibration=calibration, fmt=config.fmt)  # fmt: skip
    if report is not None:
        report(f"wrote {path} ({poses.n_frames} frames, {len(poses.keypoints)} keypoints)")
    return out


def _export_individuals(config: ExportStageConfig, src: Path, names: list[str], out: Path, overwrite: bool,
                        report: Callable[[str], Any] | None) -> None:  # fmt: skip
    """Several individuals: one .nc/.h5 with all, or one file per individual (out_<individual>.trc, ...)."""
    from ..io.individuals import ONE_FILE_SUFFIXES, load_individuals, save_individuals

    if config.fmt is not None:
        raise MocapError(f"{src} holds {len(names)} individuals; their output format comes from --out's suffix "
                         "(.nc, .h5: one file; .trc, .c3d, .csv, .nwb: one per individual), so leave out --to.")
    if out.suffix.lower() not in ONE_FILE_SUFFIXES + _PER_INDIVIDUAL:
        raise MocapError(f"--out '{out.name}': end it with .nc or .h5 (every individual in one file) or .trc, .c3d, "
                         ".csv, .nwb (one file per individual).")  # fmt: skip
    for target in export_outputs(src, out):
        check_output(target, [src], overwrite=overwrite, kinds=["pose3d"])
    individuals = load_individuals(src)
    if config.alignment is not None:
        from .alignment import align_poses

        individuals = {n: align_poses(p, config.alignment) for n, p in individuals.items()}
    first = next(iter(individuals.values()))
    fps = config.fps if config.fps is not None else first.fps
    written = save_individuals(individuals, out, fps=fps, units=config.units, yup=config.trc_yup)
    if report is not None:
        report(f"wrote {', '.join(str(w) for w in written)} ({len(individuals)} individuals, {first.n_frames} "
               f"frames, {len(first.keypoints)} keypoints)")  # fmt: skip
