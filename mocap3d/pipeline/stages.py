"""The stages of a session, each a resumable function ``stage(session, config) -> StageOutcome``.

Every stage plans its work first (inputs, outputs, the parameters its outputs
depend on), skips it when the manifest says it is complete (see
:mod:`.manifest`), and otherwise removes what an interrupted run left, writes
its outputs atomically and records what it did. A stage that does not apply
(no 2D filter configured, 2D files already there) says so and writes nothing.

Order: ``calibrate``, ``train`` (the ``[network] project``'s network, once for
all sessions), ``analyze``, ``sync``, ``filter2d``, ``triangulate``,
``filter3d``, ``angles``, ``gait``, ``export``. :data:`STAGES` maps names to functions;
:func:`register_stage` adds or replaces one (e.g. another 2D network).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import MocapError, PoseFileError
from ..io.outputs import check_not_inputs
from . import manifest
from .config import DEFAULT_ANALYZER, FOLDERS, ProjectConfig, ProjectError, Session, find_calibration

__all__ = ["StageOutcome", "StageWork", "SessionContext", "STAGES", "STAGE_ORDER", "register_stage", "run_stage",
           "check_stage"]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg")


@dataclass
class StageOutcome:
    """What one stage did for one session.

    ``status``: ``done`` (ran and wrote ``outputs``), ``skipped`` (complete from
    an earlier run), ``not needed`` (does not apply; ``note`` says why) or
    ``failed`` (``note`` is the reason).
    """

    stage: str
    status: str
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""


@dataclass
class StageWork:
    """A stage's plan: what it reads, what it writes, what the outputs depend on, and how to make them.

    ``run()`` writes every path of ``outputs`` (atomically) and returns summary lines.
    """

    inputs: list[Path]
    outputs: list[Path]
    params: dict
    run: Callable[[], list[str]]
    #: Where the stage's record lives when its outputs serve several sessions (the network a project trains
    #: once); None: the session's own ``.mocap3d/``.
    shared: Path | None = None


class SessionContext:
    """Facts about a session that several stages need (found once, lazily)."""

    def __init__(self, session: Session, config: ProjectConfig):
        self.session = session
        self.config = config

    @cached_property
    def calibration(self) -> Path:
        path = find_calibration(self.session)
        if path is None:
            raise ProjectError(
                f"session {self.session.name}: no calibration. Put a calibration.toml in the session folder or a "
                f"parent folder, or calibration videos in {FOLDERS['calibration']}/ with [calibration] board set."
            )
        return path

    @cached_property
    def rig(self):
        from ..io.calibration import load_calibration

        return load_calibration(self.calibration)

    def pose_files(self, folder_key: str = "pose2d") -> dict[str, Path]:
        """Camera -> 2D file (or OpenPose folder) in ``pose-2d`` (or another 2D folder), in calibration order."""
        from ..io.matching import match_files_to_cameras

        folder = self.session.folder(folder_key)
        paths = sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
        if not paths:
            raise PoseFileError(f"session {self.session.name}: {folder.name}/ holds no 2D file.")
        matched = match_files_to_cameras(paths, self.rig.names, self.config.inputs.cam_regex)
        missing = [c for c in self.rig.names if c not in matched]
        if missing and (self.config.project.require_all_cameras or len(matched) < 2):
            raise PoseFileError(
                f"session {self.session.name}: no 2D file for camera(s) {', '.join(missing)} in {folder.name}/ "
                f"(found {', '.join(matched) or 'none'}; calibration {self.calibration.name} has "
                f"{', '.join(self.rig.names)}). Add the missing file(s), or set [project] require_all_cameras = false "
                "to triangulate from the cameras present."
            )
        return {c: Path(matched[c]) for c in self.rig.names if c in matched}

    def videos(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES) if folder.is_dir() else []

    @property
    def filtered_2d(self) -> bool:
        return bool(self.config.filters.filter2d)

    @property
    def offsets_file(self) -> Path | None:
        return self.session.folder("sync") / "offsets.toml" if self.config.sync.method != "none" else None

    @property
    def pose3d(self) -> Path:
        return self.session.folder("pose3d") / f"{self.session.stem}.h5"

    @property
    def final_pose3d(self) -> Path:
        if self.config.filters.filter3d:
            return self.session.folder("pose3d_filtered") / f"{self.session.stem}.h5"
        return self.pose3d


Planner = Callable[[SessionContext], "StageWork | str"]


def _plan_calibrate(ctx: SessionContext) -> StageWork | str:
    folder = ctx.session.folder("calibration")
    videos = ctx.videos(folder)
    if not videos:
        return f"using {ctx.calibration.relative_to(ctx.session.root).as_posix()}"
    if ctx.config.board is None:
        raise ProjectError(
            f"session {ctx.session.name}: {folder.name}/ has calibration videos but config.toml sets no board; "
            'add board = "board.toml" to [calibration].'
        )
    board = (ctx.session.root / ctx.config.board).resolve()
    out = folder / "calibration.toml"
    reference = (ctx.session.root / ctx.config.calibration_reference).resolve() if ctx.config.calibration_reference \
        else None  # fmt: skip
    pictures = ctx.config.calibration_pictures

    from ..calibration.calibrate_stage import CalibrateInputs, CalibrateStageConfig
    from ..calibration.calibrate_stage import run as calibrate

    config = CalibrateStageConfig(calibration=ctx.config.calibration, workers=1, pictures=pictures, progress=False)
    inputs = CalibrateInputs(board, tuple(videos), reference)

    def run() -> list[str]:
        lines: list[str] = []
        calibrate(config, inputs, out, overwrite=True, report=lines.append)
        return [line for line in lines[1:] if not line.startswith("wrote ")]  # without the per-camera table

    params = {"board": ctx.config.board, "reference": ctx.config.calibration_reference, "pictures": pictures,
              **ctx.config.params("calibration")}  # fmt: skip
    return StageWork([board, *videos, *([reference] if reference else [])], [out], params, run)


def _network_project(ctx: SessionContext):
    """The ``[network] project`` (a 2D-network project TOML, relative to the project root), or None."""
    name = ctx.config.network.project
    if name is None:
        return None
    from ..nn.project import load_project

    path = (ctx.session.root / str(name)).resolve()
    if not path.is_file():
        raise ProjectError(f"[network] project = \"{name}\": no such file under {ctx.session.root}; create it with "
                           "`mocap3d project create`, or set model = \"path/to/model.pt\" instead.")  # fmt: skip
    return load_project(path)


def _plan_train(ctx: SessionContext) -> StageWork | str:
    """The ``[network] project``'s labelled frames -> its trained network (``models/<name>/model.pt``).

    One network serves every session, so its record lives beside the project
    (``<project folder>/.mocap3d/train.json``): the first session that needs it
    trains it and the others find it complete. It is trained again when the
    project file or its labelled frames change; a training that was killed
    resumes from its last snapshot.
    """
    project = _network_project(ctx)
    if project is None:
        return "no [network] project to train"
    labelled = project.data_root / "labeled-data"
    model = project.model_dir / "model.pt"
    shared = project.folder / FOLDERS["manifests"]
    fresh = manifest.read_record(shared, "train") is not None  # read before run_stage removes it

    from ..nn import train_stage

    config = train_stage.TrainStageConfig(progress=False)

    def run() -> list[str]:
        # resume a killed run (no record); a finished one whose inputs changed starts afresh, as does a network
        # that no record nor snapshot describes (the pipeline's outputs are its own to replace)
        lines: list[str] = []
        unknown = model.exists() and not any(project.model_dir.glob("snapshot-*.pt"))
        train_stage.run(config, project.path, project.model_dir, overwrite=fresh or unknown, report=lines.append)
        return [line for line in lines if not line.startswith(("started from", "wrote ", "kept "))]

    return StageWork([project.path, labelled], [model], {"project": str(ctx.config.network.project)}, run,
                     shared=shared)


def _load_analyzer(spec: str) -> Callable:
    """``"package.module:function"`` -> the function."""
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, name)
    except (ImportError, AttributeError):
        raise ProjectError(
            f"the 2D network '{spec}' ([network] analyzer) is not available in this installation; install it, name "
            "another analyzer as \"package.module:function\", or run your network (DeepLabCut, SLEAP, ...) into "
            "pose-2d/ first."
        ) from None


def _accepts(function: Callable, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in params  # not **options: a wrapper may pass them on to a function that takes no such option


def _worker_client():
    """A client for submitting tasks from inside a Dask worker (it leaves the worker's thread pool while it
    waits), or None when this is not running in a Dask worker."""
    try:
        from distributed import get_worker, worker_client
    except ImportError:
        return None
    try:
        get_worker()
    except ValueError:
        return None
    return worker_client()


def _plan_analyze(ctx: SessionContext) -> StageWork | str:
    """Videos in ``videos-raw/`` -> 2D files in ``pose-2d/``, by the ``[network]`` table's analyzer.

    The analyzer is ``analyzer(videos: list[Path], out_dir: Path, **options) -> list[Path]``
    (the ``[network]`` table's other keys are its options); it writes
    ``out_dir/<video stem>.h5`` (DeepLabCut format) per video. Sessions that
    already have 2D files skip this stage. On a Dask cluster each video is its
    own task (the analyzer is called once per video, on any worker).
    """
    pose_dir = ctx.session.folder("pose2d")
    ran_before = manifest.read_record(ctx.session.folder("manifests"), "analyze") is not None
    if not ran_before and pose_dir.is_dir() and any(not p.name.startswith(".") for p in pose_dir.iterdir()):
        return "2D files already in pose-2d/"
    videos = ctx.videos(ctx.session.folder("videos"))
    if not videos:
        raise ProjectError(f"session {ctx.session.name}: neither videos in videos-raw/ nor 2D files in pose-2d/.")
    table = ctx.config.network
    options = table.kwargs()
    spec = table.spec
    project = _network_project(ctx)
    model: Path | None = None
    if spec != DEFAULT_ANALYZER:
        pass  # another analyzer's options are its own business
    elif project is not None and "model" not in options:
        model = project.model_dir / "model.pt"  # the 'train' stage's network
        options["model"] = str(model)
        options.setdefault("pcutoff", project.pcutoff)
    elif "model" in options:  # relative to the project root, as every path of config.toml
        model = (ctx.session.root / str(options["model"])).resolve()
        options["model"] = str(model)
    if spec == DEFAULT_ANALYZER and model is None:
        raise ProjectError(
            f"session {ctx.session.name}: videos-raw/ has videos but no 2D files in pose-2d/, and config.toml's "
            '[network] table names no trained network; set model = "path/to/model" (or project = '
            '"path/to/project.toml" to train one) there, or put DeepLabCut/SLEAP 2D files in pose-2d/.'
        )
    analyzer = _load_analyzer(spec)
    table.check_options(analyzer, f"session {ctx.session.name}", options)
    if _accepts(analyzer, "progress"):
        options.setdefault("progress", False)  # bars per video would fill the logs of a pipeline run
    outputs = [pose_dir / f"{v.stem}.h5" for v in videos]
    # the network is an input: a network trained again makes every video be analysed again
    network = [model / "model.pt" if model.is_dir() else model] if model is not None else []

    def run() -> list[str]:
        for path in outputs:  # analysed again (another network, other videos): analyzers skip files that exist
            path.unlink(missing_ok=True)
        client = _worker_client()
        if client is None or len(videos) < 2:
            analyzer(videos, pose_dir, **options)
            return [f"analysed {len(videos)} videos"]
        # Inside a Dask worker: one task per video, so a session's cameras are analysed on several workers.
        with client as c:
            c.gather([c.submit(analyzer, [v], pose_dir, pure=False, **options) for v in videos])
        return [f"analysed {len(videos)} videos as {len(videos)} Dask tasks"]

    return StageWork([*videos, *network], outputs, ctx.config.params("network"), run)


def _plan_sync(ctx: SessionContext) -> StageWork | str:
    cfg = ctx.config.sync
    if cfg.method == "none":
        return "cameras share a trigger ([sync] method = none)"
    from ..sync import sync_stage

    out = ctx.session.folder("sync") / "offsets.toml"
    params = ctx.config.params("sync")
    if cfg.method == "flash":
        from ..io.matching import match_files_to_cameras

        videos = ctx.videos(ctx.session.folder("videos"))
        matched = match_files_to_cameras(videos, ctx.rig.names, ctx.config.inputs.cam_regex)
        files = [Path(matched[c]) for c in ctx.rig.names if c in matched]
        inputs = files  # the calibration only names the cameras
    else:
        files = list(ctx.pose_files().values())
        inputs = [ctx.calibration, *files]
    config = sync_stage.SyncStageConfig(sync=cfg, cam_regex=ctx.config.inputs.cam_regex,
                                        keypoint_preset=ctx.config.project.keypoint_preset)  # fmt: skip
    stage_inputs = sync_stage.SyncInputs(tuple(files), ctx.calibration)

    def run() -> list[str]:
        lines: list[str] = []
        sync_stage.run(config, stage_inputs, out, overwrite=True, report=lines.append)
        return lines[:-1]  # without "wrote"

    return StageWork(inputs, [out], params, run)


def _summary(stage_run: Callable[[Callable[[str], Any]], Any]) -> list[str]:
    """A stage's report lines for its manifest: the summary, without per-column details or the list of files
    (the manifest lists the outputs) unless nothing else was said."""
    lines: list[str] = []
    stage_run(lines.append)
    short = [line for line in lines if not line.startswith((" ", "wrote "))]
    return short or [line for line in lines if not line.startswith(" ")]


def _plan_filter2d(ctx: SessionContext) -> StageWork | str:
    steps = ctx.config.filters.filter2d
    if not steps:
        return "no [[filter2d]] steps"
    from ..filters import filter2d_stage

    files = ctx.pose_files()
    out_dir = ctx.session.folder("pose2d_filtered")
    outputs = [out_dir / p.name for p in files.values()]
    config = filter2d_stage.Filter2DStageConfig(steps=tuple(steps), keypoint_preset=ctx.config.project.keypoint_preset)

    def run() -> list[str]:
        return _summary(lambda report: filter2d_stage.run(config, list(files.values()), out_dir, overwrite=True,
                                                          report=report))  # fmt: skip

    return StageWork(list(files.values()), outputs, {"filter2d": ctx.config.params("filters")["filters"]["filter2d"]},
                     run)  # fmt: skip


def _plan_triangulate(ctx: SessionContext) -> StageWork | str:
    from ..triangulation import triangulate_stage

    files = ctx.pose_files("pose2d_filtered" if ctx.filtered_2d else "pose2d")
    inputs = triangulate_stage.TriangulateInputs(ctx.calibration, tuple(files.values()), ctx.offsets_file)
    out = ctx.pose3d
    cfg = ctx.config
    config = triangulate_stage.TriangulateStageConfig(
        triangulation=cfg.triangulation, matching=cfg.inputs, keypoint_preset=cfg.project.keypoint_preset,
        fps=cfg.project.fps, units=cfg.project.units, session=ctx.session.name, root=ctx.session.root,
    )  # fmt: skip

    def run() -> list[str]:
        return _summary(lambda report: triangulate_stage.run(config, inputs, out, overwrite=True, report=report))

    return StageWork(inputs.paths(), [out], ctx.config.params("triangulation", "project"), run)


def _plan_filter3d(ctx: SessionContext) -> StageWork | str:
    steps = ctx.config.filters.filter3d
    if not steps:
        return "no [[filter3d]] steps"
    from ..filters import filter3d_stage

    src, out = ctx.pose3d, ctx.final_pose3d
    config = filter3d_stage.Filter3DStageConfig(steps=tuple(steps), fps=ctx.config.project.fps)

    def run() -> list[str]:
        return _summary(lambda report: filter3d_stage.run(config, [src], out, overwrite=True, report=report))

    return StageWork([src], [out], {"filter3d": ctx.config.params("filters")["filters"]["filter3d"],
                                    "fps": ctx.config.project.fps}, run)  # fmt: skip


def _several(ctx: SessionContext, src: Path) -> bool:
    """Whether the session has several individuals (then the outputs' names come from its 3D file)."""
    if ctx.config.inputs.individuals is None:
        return False
    from .individuals import session_individuals

    session_individuals(ctx, src)  # a sentence when triangulate has not written them yet
    return True


def _plan_angles(ctx: SessionContext) -> StageWork | str:
    if not ctx.config.angles:
        return "no [angles] table"
    from ..analysis import angles_stage

    src = ctx.final_pose3d
    out = ctx.session.folder("angles") / f"{ctx.session.stem}.csv"
    outputs = list(angles_stage.angle_outputs(src, out).values()) if _several(ctx, src) else [out]
    config = angles_stage.AnglesStageConfig(angles=ctx.config.angles)

    def run() -> list[str]:
        return _summary(lambda report: angles_stage.run(config, [src], out, overwrite=True, report=report))

    return StageWork([src], outputs, ctx.config.params("angles"), run)


def _plan_gait(ctx: SessionContext) -> StageWork | str:
    """Gait events, strides and a left/right summary of the final 3D poses (``[gait]``; see
    :mod:`mocap3d.analysis.gait`) -> ``gait/<session>_{events,strides,summary}.csv`` and ``<session>.png``."""
    gait = ctx.config.gait
    if gait is None:
        return "no [gait] table"
    from ..analysis import gait_stage

    src = ctx.final_pose3d
    folder, stem = ctx.session.folder("gait"), ctx.session.stem
    if _several(ctx, src):
        outs = gait_stage.gait_outputs(src, folder)
    else:
        outs = [*(folder / f"{stem}_{name}.csv" for name in ("events", "strides", "summary")), folder / f"{stem}.png"]
    config = gait_stage.GaitStageConfig(gait=gait, units=ctx.config.project.units)

    def run() -> list[str]:
        return _summary(lambda report: gait_stage.run(config, [src], folder, overwrite=True, report=report))

    return StageWork([src], outs, ctx.config.params("gait", "project"), run)


def _plan_export(ctx: SessionContext) -> StageWork | str:
    formats = ctx.config.export.formats
    if not formats:
        return "no [export] formats"
    from ..analysis import export_stage

    src = ctx.final_pose3d
    outs = [ctx.session.folder("exports") / f"{ctx.session.stem}.{fmt}" for fmt in formats]
    several = _several(ctx, src)
    outputs = [p for out in outs for p in export_stage.export_outputs(src, out)] if several else outs
    cfg = ctx.config
    config = export_stage.ExportStageConfig(fps=cfg.project.fps, units=cfg.project.units, trc_yup=cfg.export.trc_yup)

    def run() -> list[str]:
        lines: list[str] = []
        for out in outs:
            export_stage.run(config, [src], out, overwrite=True, report=lines.append)
        return [f"wrote {', '.join(o.name for o in outputs)}"]

    return StageWork([src], outputs, ctx.config.params("export", "project"), run)


STAGE_ORDER: tuple[str, ...] = ("calibrate", "train", "analyze", "sync", "filter2d", "triangulate", "filter3d",
                                "angles", "gait", "export")  # fmt: skip

STAGES: dict[str, Planner] = {
    "calibrate": _plan_calibrate,
    "train": _plan_train,
    "analyze": _plan_analyze,
    "sync": _plan_sync,
    "filter2d": _plan_filter2d,
    "triangulate": _plan_triangulate,
    "filter3d": _plan_filter3d,
    "angles": _plan_angles,
    "gait": _plan_gait,
    "export": _plan_export,
}


def register_stage(name: str, planner: Planner, after: str | None = None) -> None:
    """Add (or replace) a stage. ``planner(ctx)`` returns a :class:`StageWork`, or a string saying why
    there is nothing to do; a new stage runs after ``after`` (default: last)."""
    global STAGE_ORDER
    STAGES[name] = planner
    if name not in STAGE_ORDER:
        order = list(STAGE_ORDER)
        order.insert(order.index(after) + 1 if after else len(order), name)
        STAGE_ORDER = tuple(order)


def _check(name: str, ctx: SessionContext, force: bool) -> tuple[StageWork | None, StageOutcome | None]:
    """Plan a stage; return the plan, and the outcome when nothing has to run (not needed, or complete)."""
    start = time.time()
    planned = STAGES[name](ctx)
    if isinstance(planned, str):
        return None, StageOutcome(name, "not needed", note=planned)
    if not force:
        done, why = manifest.is_complete(_records(ctx, planned), name, ctx.session.root, planned.inputs,
                                         planned.outputs, planned.params)  # fmt: skip
        if done:
            return planned, StageOutcome(name, "skipped", planned.outputs, time.time() - start, "complete")
        log.debug("%s/%s: %s", ctx.session.name, name, why)
    return planned, None


def _records(ctx: SessionContext, planned: StageWork) -> Path:
    """The folder of the stage's record: the session's, or the shared one of outputs that serve several sessions."""
    return planned.shared if planned.shared is not None else ctx.session.folder("manifests")


def check_stage(name: str, ctx: SessionContext) -> StageOutcome | None:
    """The stage's outcome if nothing has to run (not needed, or complete); None if it would run."""
    return _check(name, ctx, force=False)[1]


def run_stage(name: str, ctx: SessionContext, force: bool = False) -> StageOutcome:
    """Plan one stage, skip it when complete, else run it and record it. Errors propagate (the caller reports them)."""
    planned, outcome = _check(name, ctx, force)
    if outcome is not None:
        return outcome
    assert planned is not None  # _check returns a plan whenever there is no outcome
    if planned.shared is None:
        return _run_planned(name, ctx, planned)
    # Outputs shared by sessions (one network for the project): one session makes them while the others wait,
    # then find them complete.
    with manifest.shared_lock(planned.shared, f"{name} of {ctx.session.name}", name):
        planned, outcome = _check(name, ctx, force=False) if not force else (planned, None)
        if outcome is not None:
            return outcome
        assert planned is not None
        return _run_planned(name, ctx, planned)


def _run_planned(name: str, ctx: SessionContext, planned: StageWork) -> StageOutcome:
    start = time.time()
    manifests = _records(ctx, planned)
    base = ctx.session.root
    missing = [p for p in planned.inputs if not p.exists()]
    if missing:
        raise MocapError(f"stage {name}: input(s) missing: {', '.join(str(p) for p in missing)}.")
    try:
        check_not_inputs(planned.outputs, planned.inputs, option="output")
    except MocapError as exc:
        raise MocapError(f"stage {name}: {exc} Change the output names in config.toml.") from None
    manifest.remove_partial(planned.outputs)
    record = manifest.record_path(manifests, name)
    record.unlink(missing_ok=True)  # outputs are about to change: the old record no longer describes them
    summary = planned.run()
    absent = [p for p in planned.outputs if not p.exists()]
    if absent:
        raise MocapError(f"stage {name} did not write {', '.join(str(p) for p in absent)} (a bug in the stage).")
    manifest.write_record(manifests, name, base, planned.inputs, planned.outputs, planned.params, summary, start)
    return StageOutcome(name, "done", planned.outputs, time.time() - start, "; ".join(summary))
