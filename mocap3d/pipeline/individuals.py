"""The project pipeline with several animals or people (``[triangulation] individuals = "all"`` or a number).

With that key the ``triangulate`` stage runs the several-individual job of
``mocap3d triangulate --individuals`` (:func:`mocap3d.multi.run.triangulate_individuals`:
association across cameras, identities through time, each individual
triangulated as one animal would be) and writes ``pose-3d/<session>.h5`` in the
several-individual layout (:mod:`mocap3d.io.individuals`). The later stages take
every individual through the same library functions as one animal:

* ``filter3d``: :func:`mocap3d.filters.run.filter_3d_file` sees the layout and
  filters each individual (one ``pose-3d-filtered/<session>.h5``);
* ``angles``: one table per individual, ``angles/<session>_<individual>.csv``;
* ``export``: ``.nc``/``.h5`` one file with every individual, ``.trc``/``.c3d``/``.csv``
  one file per individual (``exports/<session>_<individual>.trc``).

The names of the per-individual outputs come from the 3D file, so the stages
after ``triangulate`` plan once it has run; each is resumable like every stage
(its manifest records the 3D file it read).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import PoseFileError, TriangulationError

# ``ctx`` below is a :class:`~mocap3d.pipeline.stages.SessionContext` (not imported: stages imports this module);
# a plan is the (inputs, outputs, params, run) of a :class:`~mocap3d.pipeline.stages.StageWork`.
SessionContext = Any
Plan = tuple[list[Path], list[Path], dict, Callable[[], list[str]]]

__all__ = ["triangulate_session_individuals", "session_individuals", "angles_individuals", "export_individuals"]


def triangulate_session_individuals(ctx: SessionContext, files: dict[str, Path], offsets_file: Path | None,
                                    out: Path) -> list[str]:  # fmt: skip
    """The ``triangulate`` stage's work with several individuals: 2D files -> ``out`` (every individual)."""
    from ..io.individuals import save_individuals
    from ..io.pose2d import load_track2d
    from ..multi.detections import Detections
    from ..multi.run import summary_lines, triangulate_individuals
    from ..multi.tracking import TrackingConfig
    from .sync import apply_offsets, load_offsets

    cfg = ctx.config
    tracks = {c: load_track2d(p, keypoint_preset=cfg.project.keypoint_preset) for c, p in files.items()}
    offsets = load_offsets(offsets_file) if offsets_file else {}
    if offsets:
        tracks = apply_offsets(tracks, offsets)
    detections = Detections.from_tracks(tracks, fps=cfg.project.fps)
    tracking = TrackingConfig(n_individuals=cfg.inputs.n_individuals)
    poses, result = triangulate_individuals(detections, ctx.rig, cfg.triangulation, tracking=tracking)
    if not poses:
        raise TriangulationError(f"session {ctx.session.name}: no individual could be triangulated; no detections "
                                 "agree between two cameras.")  # fmt: skip
    for p in poses.values():
        p.metadata.update(ctx.provenance(files, offsets))
    written = save_individuals(poses, out, fps=cfg.project.fps, units=cfg.project.units)
    return summary_lines(poses, result, written)[:-1]


def session_individuals(ctx: SessionContext, src: Path) -> list[str]:
    """The individuals of a session's 3D file (written by ``triangulate``), or a sentence when it is not there."""
    from ..io.individuals import individual_names_in

    names = individual_names_in(src)
    if names is None:
        raise PoseFileError(f"session {ctx.session.name}: {src.relative_to(ctx.session.root).as_posix()} is not "
                            "a several-individual 3D file yet; run the triangulate stage first (config.toml sets "
                            "[triangulation] individuals).")  # fmt: skip
    return names


def angles_individuals(ctx: SessionContext, src: Path, out: Path) -> Plan:
    """The ``angles`` stage's plan with several individuals: one table per individual."""
    from ..io.individuals import individual_paths

    targets = individual_paths(out, session_individuals(ctx, src))

    def run() -> list[str]:
        from ..analysis.angles import compute_angles, save_angles_csv
        from ..io.individuals import load_individuals

        lines = []
        for name, poses in load_individuals(src).items():
            table = compute_angles(poses, ctx.config.angles)
            save_angles_csv(table, targets[name])
            lines.append(f"{name}: {table.shape[1] - 1} angles over {len(table)} frames")
        return lines

    return [src], list(targets.values()), ctx.config.params("angles"), run


def export_individuals(ctx: SessionContext, src: Path, outs: list[Path]) -> Plan:
    """The ``export`` stage's plan with several individuals: one .nc/.h5 with all, or one file per individual."""
    from ..io.individuals import individual_paths

    names = session_individuals(ctx, src)
    targets = {out: sorted(set(individual_paths(out, names).values())) for out in outs}
    cfg = ctx.config

    def run() -> list[str]:
        from ..io.individuals import load_individuals, save_individuals

        individuals = load_individuals(src)
        fps = cfg.project.fps or next(iter(individuals.values())).fps
        written = []
        for out in outs:
            written += save_individuals(individuals, out, fps=fps, units=cfg.project.units, yup=cfg.export.trc_yup)
        return [f"wrote {', '.join(p.name for p in written)}"]

    return [src], [p for paths in targets.values() for p in paths], ctx.config.params("export", "project"), run
