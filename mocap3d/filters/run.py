"""File-level filter stages behind ``mocap3d filter-2d`` and ``mocap3d filter-3d``.

Each stage reads files, runs :func:`~mocap3d.filters.apply_filters_2d` or
:func:`~mocap3d.filters.apply_filters_3d` and writes the result in the input's
format, atomically. An output that already exists is skipped unless
``overwrite=True``, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FilterError
from .config import FilterStep
from .filters2d import apply_filters_2d
from .filters3d import apply_filters_3d

log = logging.getLogger(__name__)

__all__ = ["FilterReport", "filter_2d_files", "filter_3d_file", "filter_3d_individuals_file", "resolve_steps"]

_DLC_SUFFIXES = (".h5", ".csv")


@dataclass
class FilterReport:
    """What a filter stage wrote, skipped, and changed (for the CLI summary)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    lines_: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = list(self.lines_)
        if self.skipped:
            out.append(f"skipped {len(self.skipped)} existing output(s) (use --overwrite to redo them)")
        return out


def _is_sleap(path: Path) -> bool:
    import h5py

    with h5py.File(path, "r") as f:
        return "tracks" in f


def _output_2d(path: Path, out: Path, single: bool) -> Path:
    """``out`` itself for one file given a file name, else ``out/<input name>``."""
    if single and not path.is_dir() and out.suffix.lower() in _DLC_SUFFIXES and not out.is_dir():
        return out
    return out / path.name


def _openpose_prefix(folder: Path) -> str:
    """``cam01`` for files named ``cam01.0000.json`` or ``cam01_000000000000_keypoints.json``."""
    first = min(folder.glob("*.json"), default=None)
    if first is None:
        return folder.name
    stem = re.sub(r"(_keypoints)?$", "", first.stem)
    return re.sub(r"[._-]?\d+$", "", stem) or folder.name


def filter_2d_files(
    inputs: Sequence[str | Path],
    out: str | Path,
    steps: Sequence[FilterStep],
    overwrite: bool = False,
    keypoint_preset: str | None = None,
) -> FilterReport:
    """Filter each camera's 2D file and write it in the same format.

    Parameters
    ----------
    inputs : DeepLabCut ``.h5``/``.csv``, SLEAP analysis ``.h5`` or OpenPose
        JSON folders, one per camera (each filtered on its own).
    out : a folder (outputs keep the input names), or, for a single DeepLabCut
        input, the output file (``.h5`` or ``.csv``).
    steps : 2D filter steps, in order.
    keypoint_preset : keypoint names of OpenPose JSON (see
        :func:`mocap3d.io.pose2d.load_track2d`).
    """
    from ..io.outputs import check_output, check_output_folder
    from ..io.pose2d import dlc_scorer, load_track2d, save_dlc, save_openpose_folder, save_sleap_analysis

    if not steps:
        raise FilterError("no 2D filter steps were given; pass --filter or a --config with [[filter2d]] steps.")
    out = Path(out)
    report = FilterReport()
    paths = [Path(p) for p in inputs]
    if len(paths) > 1:  # several inputs: --out is the folder of their outputs
        check_output_folder(out, paths)
    for path in paths:
        target = _output_2d(path, out, len(paths) == 1)
        if path.is_dir():
            check_output_folder(target, paths)
        else:  # never an input, never a file of another kind; existing outputs are skipped below
            check_output(target, paths, overwrite=True, kinds=["pose2d", "labels"])
        if target.exists() and not overwrite:
            report.skipped.append(target)
            continue
        track = load_track2d(path, keypoint_preset=keypoint_preset)
        filtered = apply_filters_2d(track, steps)
        if path.is_dir():
            save_openpose_folder(filtered, target, _openpose_prefix(path))
        elif path.suffix.lower() == ".h5" and _is_sleap(path):
            save_sleap_analysis(filtered, target)
        else:  # DeepLabCut's tools look columns up by the scorer of the file name: keep the input's
            save_dlc(filtered, target, scorer=dlc_scorer(path) or "mocap3d")
        seen_before = int(np.isfinite(track.points).all(-1).sum())
        seen_after = int(np.isfinite(filtered.points).all(-1).sum())
        report.written.append(target)
        report.lines_.append(f"{path.name} -> {target}: {seen_before} -> {seen_after} detections")
    return report


def filter_3d_file(
    path: str | Path,
    out: str | Path,
    steps: Sequence[FilterStep],
    fps: float | None = None,
    overwrite: bool = False,
) -> FilterReport:
    """Filter a 3D pose file (anipose ``.csv``, mocap3d ``.h5``, OpenSim ``.trc``) into ``out``.

    The output format follows ``out``'s suffix. A TRC keeps its axes and units;
    an HDF5 result keeps the calibration stored with it; ``fps`` overrides the
    file's frame rate (anipose CSV files carry none).
    """
    from ..io.individuals import individual_names_in
    from ..io.pose3d import load_h5_calibration, load_poses3d, save_poses3d

    if not steps:
        raise FilterError("no 3D filter steps were given; pass --filter or a --config with [[filter3d]] steps.")
    path, out = Path(path), Path(out)
    if individual_names_in(path) is not None:
        return filter_3d_individuals_file(path, out, steps, fps=fps, overwrite=overwrite)
    report = FilterReport()
    from ..io.outputs import check_output

    check_output(out, [path], overwrite=True, kinds=["pose3d"])  # existing outputs are skipped below
    if out.exists() and not overwrite:
        report.skipped.append(out)
        return report
    poses = load_poses3d(path)
    filtered = apply_filters_3d(poses, steps, fps=fps)
    kw: dict = {}
    suffix = out.suffix.lower()
    if suffix == ".trc":
        kw["units"] = str(poses.metadata.get("units") or "mm")
    elif suffix in (".h5", ".hdf5") and path.suffix.lower() in (".h5", ".hdf5"):
        kw["calibration"] = load_h5_calibration(path)
    save_poses3d(filtered, out, **kw)
    report.written.append(out)
    for record in filtered.metadata["filters"][len(poses.metadata.get("filters", [])) :]:
        counts = ", ".join(f"{k} {v}" for k, v in record.items() if k not in ("name", "params"))
        report.lines_.append(f"{record['name']}: {counts}")
    report.lines_.append(f"wrote {out} ({filtered.n_frames} frames, {len(filtered.keypoints)} keypoints)")
    return report


def filter_3d_individuals_file(
    path: str | Path,
    out: str | Path,
    steps: Sequence[FilterStep],
    fps: float | None = None,
    overwrite: bool = False,
) -> FilterReport:
    """:func:`filter_3d_file` for a file of several individuals: each is filtered on its own, with the same steps.

    ``out`` is one file with every individual (``.nc``, ``.h5``) or, for
    formats without an individuals dimension (``.trc``, ``.c3d``, ``.csv``,
    ``.nwb``), one file per individual (``out_<individual>.trc``); see
    :mod:`mocap3d.io.individuals`. Existing outputs are skipped unless ``overwrite``.
    """
    from ..io.individuals import individual_paths, load_individuals, save_individuals
    from ..io.outputs import check_output

    path, out = Path(path), Path(out)
    individuals = load_individuals(path)
    targets = sorted(set(individual_paths(out, list(individuals)).values()))
    for target in targets:
        check_output(target, [path], overwrite=True, kinds=["pose3d"])  # existing outputs are skipped below
    report = FilterReport()
    if all(t.exists() for t in targets) and not overwrite:
        report.skipped.extend(targets)
        return report
    filtered = {name: apply_filters_3d(p, steps, fps=fps) for name, p in individuals.items()}
    first = next(iter(individuals.values()))
    units = None
    if out.suffix.lower() == ".trc":
        units = first.units or "mm"  # as the single-animal path
    written = save_individuals(filtered, out, fps=fps, units=units)
    report.written.extend(written)
    for name, p in filtered.items():
        records = p.metadata["filters"][len(individuals[name].metadata.get("filters", [])) :]
        counts = "; ".join(f"{r['name']}: " + ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("name", "params"))
                           for r in records)  # fmt: skip
        report.lines_.append(f"{name}: {counts}")
    report.lines_.append(f"wrote {', '.join(str(w) for w in written)} ({len(filtered)} individuals, "
                         f"{first.n_frames} frames, {len(first.keypoints)} keypoints)")  # fmt: skip
    return report


def resolve_steps(
    stage: str, config: str | Path | None, name: str | None, params: dict[str, object]
) -> list[FilterStep]:
    """The steps of a command line: a ``--config`` file's steps for ``stage`` or one ``--filter`` with options.

    ``params`` holds the options given (None values are ignored); giving one
    that the chosen filter does not take is an error naming the valid ones.
    """
    from .config import load_filter_config, step_from_dict

    given = {k: v for k, v in params.items() if v is not None}
    if config is not None and name is not None:
        raise FilterError("pass either --config or --filter, not both.")
    if config is not None:
        if given:
            raise FilterError(
                f"options {', '.join('--' + k.replace('_', '-') for k in given)} only apply with --filter; "
                "put them in the config file's steps instead."
            )
        pipeline = load_filter_config(config)
        steps = list(pipeline.filter2d if stage == "2d" else pipeline.filter3d)
        if not steps:
            raise FilterError(f"{config}: no [[filter{stage}]] steps in this file.")
        return steps
    if name is None:
        raise FilterError("say which filter to run: --filter NAME (with its options) or --config filters.toml.")
    return [step_from_dict({"type": name, **given}, stage)]  # type: ignore[arg-type]
