"""A project: its ``config.toml``, its sessions, and where each session's calibration is.

Layout (anipose's folder names)::

    project/
      config.toml                 # one file for the whole project (tables below)
      calibration/calibration.toml  # optional: inherited by every session below it
      group-a/                    # sessions may be nested in folders, to any depth
        calibration.toml          # optional: inherited by the sessions of group-a
        session-01/
          videos-raw/cam1.mp4 ...  # raw videos (input of the 'analyze' stage)
          pose-2d/cam1.h5 ...      # 2D keypoints, one file per camera
          calibration/             # optional: this session's own calibration videos
            cam1.mp4 ... -> calibration.toml  (written by the 'calibrate' stage)
          sync/offsets.toml        # frame offsets between cameras ('sync' stage)
          pose-2d-filtered/  pose-3d/  pose-3d-filtered/  angles/  exports/
          .mocap3d/<stage>.json    # what each stage did (see :mod:`.manifest`)

A *session* is any folder that holds a ``videos-raw`` or ``pose-2d`` folder.
Its calibration is the first of ``calibration/calibration.toml`` and
``calibration.toml`` found in the session folder, then in each parent folder
up to the project root.

``config.toml`` tables (every one optional; defaults are the dataclasses below
and the library's own configs, all frozen :class:`mocap3d.config.Config`
dataclasses read through its one coercion, so a misfit names the table and the
key; :class:`ProjectConfig` reads the whole file: ``ProjectConfig.from_toml``)::

    [project]
    fps = 60.0                      # frame rate of the recordings (3D filters, TRC)
    units = "mm"                    # length unit of the calibrations
    require_all_cameras = true      # a session without a 2D file for a camera fails

    [calibration]                   # CalibrationConfig, plus:
    board = "board.toml"            # board file (relative to the project root)
    reference = "lab.toml"          # optional: take this calibration's world frame (rigid, by camera centres)
    pictures = false                # also draw the calibration report's pictures

    [network]                       # NetworkTable: the 'analyze' stage, videos-raw/ -> pose-2d/
    analyzer = "mocap3d.nn:analyze" # "package.module:function"; the other keys are its options
    model = "models/walker"
    # or, instead of model: a 2D-network project (mocap3d project create) that the 'train' stage trains
    # from its labelled frames; 'analyze' then uses its network
    project = "network/project.toml"

    [sync]                          # SyncConfig
    method = "keypoints"            # none | keypoints | flash

    [triangulation]                 # TriangulationConfig
    method = "robust"
    individuals = "all"             # several animals (or a number); see mocap3d.pipeline.individuals

    [[filter2d]] ... [[filter3d]]   # FilterPipeline steps

    [angles]                        # anipose's [angles]
    l_knee = ["l_hip", "l_knee", "l_ankle"]

    [gait]                          # GaitConfig (mocap3d.analysis.gait); the table's presence runs the stage
    up = "z"

    [export]                        # ExportConfig
    formats = ["trc", "c3d"]   # of trc, c3d, nc, csv, h5, nwb
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..calibration.config import CalibrationConfig
from ..config import Config, coerce
from ..errors import MocapError, ProjectError
from ..filters import FilterPipeline
from ..io.matching import InputMatching
from ..io.settings import check_tables, did_you_mean, read_toml
from ..sync.offsets import SyncConfig
from ..triangulation.config import TriangulationConfig

if TYPE_CHECKING:
    from ..analysis.gait import GaitConfig

__all__ = [
    "ProjectError",
    "ProjectSettings",
    "NetworkTable",
    "ExportConfig",
    "ProjectConfig",
    "Session",
    "load_config",
    "find_sessions",
    "find_calibration",
    "FOLDERS",
    "CONFIG_NAME",
]

CONFIG_NAME = "config.toml"

#: Folder names of each stage's outputs, inside a session (anipose's names where it has one).
FOLDERS: dict[str, str] = {
    "videos": "videos-raw",
    "calibration": "calibration",
    "pose2d": "pose-2d",
    "pose2d_filtered": "pose-2d-filtered",
    "sync": "sync",
    "pose3d": "pose-3d",
    "pose3d_filtered": "pose-3d-filtered",
    "angles": "angles",
    "gait": "gait",
    "exports": "exports",
    "manifests": ".mocap3d",
}

_STAGE_FOLDERS = set(FOLDERS.values())
_EXPORT_FORMATS = ("trc", "c3d", "nc", "csv", "h5", "nwb")


@dataclass(frozen=True)
class ProjectSettings(Config):
    """The ``[project]`` table.

    Attributes
    ----------
    fps : frame rate of every recording (Hz); needed by 3D filters in Hz and TRC/C3D exports.
    units : length unit of the calibrations (recorded in the outputs).
    require_all_cameras : a session whose ``pose-2d`` lacks a calibrated camera
        fails (True), or is triangulated from the cameras it has (False).
    keypoint_preset : names of OpenPose JSON keypoints (see :func:`mocap3d.io.pose2d.load_track2d`).
    """

    fps: float | None = None
    units: str = "mm"
    require_all_cameras: bool = True
    keypoint_preset: str | None = None

    section: ClassVar[str] = "project"
    what: ClassVar[str] = "setting"
    error: ClassVar[type[MocapError]] = ProjectError

    def __post_init__(self) -> None:
        fps = self.fps
        if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= 1e6):
            raise ProjectError(f"[project] fps = {fps!r} is not a frame rate; write the recordings' frames per "
                               "second (e.g. fps = 60), or remove the line.")  # fmt: skip


@dataclass(frozen=True)
class ExportConfig(Config):
    """The ``[export]`` table: which files the 'export' stage writes from the final 3D poses.

    Attributes
    ----------
    formats : any of ``trc`` (OpenSim), ``c3d``, ``nc`` (``movement`` netCDF), ``csv`` (anipose), ``h5``.
    trc_yup : TRC in OpenSim's Y-up frame (as Pose2Sim writes it) from the Z-up world.
    """

    formats: tuple[str, ...] = ("trc",)
    trc_yup: bool = True

    section: ClassVar[str] = "export"
    what: ClassVar[str] = "setting"
    error: ClassVar[type[MocapError]] = ProjectError

    def __post_init__(self) -> None:
        formats = (self.formats,) if isinstance(self.formats, str) else tuple(self.formats)
        unknown = [f for f in formats if f not in _EXPORT_FORMATS]
        if unknown:
            raise ProjectError(f"[export] formats: unknown {unknown}; choose among {', '.join(_EXPORT_FORMATS)}.")
        object.__setattr__(self, "formats", formats)


#: The analyzer of the ``[network]`` table when it names none.
DEFAULT_ANALYZER = "mocap3d.nn:analyze"


@dataclass(frozen=True)
class NetworkTable(Config):
    """The ``[network]`` table: which 2D network the 'analyze' stage runs (``videos-raw/`` -> ``pose-2d/``).

    Attributes
    ----------
    analyzer : ``"package.module:function"``, called as
        ``function(videos, out_dir, **options)``; None (not written) is
        :data:`DEFAULT_ANALYZER`, mocap3d's own networks (which need ``model``).
    options : the table's other keys, in the order written: the analyzer's
        keyword arguments (``model``, ``device``...). They are the analyzer's
        to define, so they are checked against its signature when the stage
        loads it (:meth:`check_options`), not here.
    """

    analyzer: str | None = None
    project: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    section: ClassVar[str] = "network"
    what: ClassVar[str] = "setting"
    error: ClassVar[type[MocapError]] = ProjectError

    def __post_init__(self) -> None:
        module, _, name = (self.analyzer or DEFAULT_ANALYZER).partition(":")
        if not (module and name):
            raise ProjectError(f"[network] analyzer = {self.analyzer!r} does not name a function; write it as "
                               '"package.module:function" (e.g. "mocap3d.nn:analyze").')  # fmt: skip
        object.__setattr__(self, "options", tuple((str(k), v) for k, v in dict(self.options).items()))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> NetworkTable:
        """``analyzer`` through the one coercion; every other key is an option of the analyzer."""
        data = dict(data)
        typed = coerce(cls, {k: data.pop(k) for k in ("analyzer", "project") if k in data}, source, cls.error)
        try:
            return cls(analyzer=typed.get("analyzer"), project=typed.get("project"), options=tuple(data.items()))
        except ProjectError as exc:
            raise ProjectError(f"{source}: {exc}") from None

    @property
    def spec(self) -> str:
        """The analyzer's ``"package.module:function"``."""
        return self.analyzer or DEFAULT_ANALYZER

    def kwargs(self) -> dict[str, Any]:
        """The options, as the analyzer's keyword arguments."""
        return dict(self.options)

    def to_dict(self) -> dict[str, Any]:
        """The table as written (its manifest parameters): the options, and ``analyzer`` when given."""
        return {**self.kwargs(), **({"analyzer": self.analyzer} if self.analyzer is not None else {}),
                **({"project": self.project} if self.project is not None else {})}

    def check_options(self, analyzer: Any, where: str, options: Mapping[str, Any] | None = None) -> None:
        """A :class:`ProjectError` naming the ``[network]`` keys that ``analyzer`` does not take (or a missing one).

        ``options``: the keyword arguments it will be called with, when the stage completes the table's (the
        trained network of ``[network] project`` as ``model``); default: the table's."""
        import inspect

        try:
            signature = inspect.signature(analyzer)
        except (TypeError, ValueError):  # a builtin or extension function: nothing to check
            return
        try:
            signature.bind([], None, **(self.kwargs() if options is None else options))
        except TypeError as exc:
            takes = [p for p in list(signature.parameters)[2:]]
            raise ProjectError(f"{where}: the [network] table does not fit {self.spec} ({exc}); its options are "
                               f"{', '.join(takes) or 'none'}.") from None  # fmt: skip


@dataclass(frozen=True)
class ProjectConfig(Config):
    """Everything ``config.toml`` says, as the library's typed configs (defaults: each class's own)."""

    project: ProjectSettings = field(default_factory=ProjectSettings)
    board: str | None = None
    calibration_reference: str | None = None  # [calibration] reference
    calibration_pictures: bool = False  # [calibration] pictures
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    network: NetworkTable = field(default_factory=NetworkTable)
    sync: SyncConfig = field(default_factory=SyncConfig)
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    inputs: InputMatching = field(default_factory=InputMatching)  # cam_regex, individual: in [triangulation]
    filters: FilterPipeline = field(default_factory=FilterPipeline)
    angles: dict[str, list[str]] = field(default_factory=dict)
    gait: GaitConfig | None = None  # None: no [gait] table, no gait stage
    export: ExportConfig = field(default_factory=ExportConfig)

    error: ClassVar[type[MocapError]] = ProjectError

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = CONFIG_NAME) -> ProjectConfig:
        """Read every table of a parsed ``config.toml`` (each through its own config class)."""
        known = {"project", "calibration", "network", "sync", "triangulation", "filter2d", "filter3d", "angles",
                 "gait", "export"}  # fmt: skip
        check_tables(data, known - {"filter2d", "filter3d"}, source, arrays=("filter2d", "filter3d"), scalar_ok=(),
                     error=ProjectError)  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            name = unknown[0]
            raise ProjectError(f"{source}: unknown setting '{name}'{did_you_mean(name, known)} at the top level; "
                               f"settings go in the tables {', '.join(sorted(known))}.")  # fmt: skip
        calib = dict(data.get("calibration", {}))
        board = calib.pop("board", None)
        reference = calib.pop("reference", None)
        pictures = calib.pop("pictures", False)
        if reference is not None and not isinstance(reference, str):
            raise ProjectError(f"{source}: [calibration] reference must be the path of a calibration file.")
        if not isinstance(pictures, bool):
            raise ProjectError(f"{source}: [calibration] pictures must be true or false.")
        angles = dict(data.get("angles", {}))
        for name, parts in angles.items():
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise ProjectError(f"{source}: [angles] {name} must be a list of body part names.")
        return cls(
            project=ProjectSettings.from_dict(data.get("project", {}), f"{source}: [project]"),
            board=board,
            calibration_reference=reference,
            calibration_pictures=pictures,
            calibration=CalibrationConfig.from_dict(calib, source),
            network=NetworkTable.from_dict(data.get("network", {}), f"{source}: [network]"),
            sync=SyncConfig.from_dict(data.get("sync", {}), f"{source}: [sync]"),
            triangulation=TriangulationConfig.from_dict(dict(data.get("triangulation", {})), source),
            inputs=InputMatching.from_table(dict(data.get("triangulation", {})), source),
            filters=FilterPipeline.from_dict(data),
            angles=angles,
            gait=_gait(data, source),
            export=ExportConfig.from_dict(data.get("export", {}), f"{source}: [export]"),
        )

    def params(self, *parts: str) -> dict[str, Any]:
        """The settings that a stage's outputs depend on, as plain JSON values (for its manifest)."""
        out: dict[str, Any] = {}
        for part in parts:
            value = getattr(self, part)
            if isinstance(value, FilterPipeline):
                value = {"filter2d": [s.describe() for s in value.filter2d],
                         "filter3d": [s.describe() for s in value.filter3d]}  # fmt: skip
            elif isinstance(value, TriangulationConfig):  # with input matching, read from the same table
                value = {**value.to_dict(), **self.inputs.to_dict()}
            elif isinstance(value, CalibrationConfig | NetworkTable):
                value = value.to_dict()
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            out[part] = value
        return json.loads(json.dumps(out, sort_keys=True, default=list))


def _gait(data: Mapping[str, Any], source: str):
    if "gait" not in data:
        return None
    from ..analysis.gait import GaitConfig  # pandas: only for projects that ask for gait (fast `mocap3d --help`)

    return GaitConfig.from_dict(data["gait"], f"{source}: [gait]")


def params_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def load_config(root: str | Path) -> ProjectConfig:
    """Read ``root/config.toml`` (a project without one runs with every default)."""
    path = Path(root) / CONFIG_NAME
    if not Path(root).is_dir():
        raise ProjectError(f"project folder '{root}' does not exist; create one with `mocap3d new-project {root}`.")
    if not path.is_file():
        return ProjectConfig()
    data = read_toml(path, "project configuration", ProjectError)
    return ProjectConfig.from_dict(data, str(path))


@dataclass(frozen=True)
class Session:
    """One recording: a folder with ``videos-raw`` and/or ``pose-2d``.

    ``name`` is the folder's path relative to the project root (``group-a/session-01``);
    output files are named after the folder itself (``pose-3d/session-01.h5``).
    """

    root: Path
    path: Path

    @property
    def name(self) -> str:
        return self.path.relative_to(self.root).as_posix() if self.path != self.root else self.path.name

    @property
    def stem(self) -> str:
        return self.path.name

    def folder(self, key: str) -> Path:
        return self.path / FOLDERS[key]


def _is_session(folder: Path) -> bool:
    return (folder / FOLDERS["pose2d"]).is_dir() or (folder / FOLDERS["videos"]).is_dir()


def find_sessions(root: str | Path) -> list[Session]:
    """Every session under ``root``, in sorted path order (the project root itself may be one)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ProjectError(f"project folder '{root}' does not exist; create one with `mocap3d new-project {root}`.")
    found: list[Session] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        if _is_session(folder):
            found.append(Session(root, folder))
            continue  # sessions are not nested inside sessions
        for child in folder.iterdir():
            if child.is_dir() and not child.name.startswith(".") and child.name not in _STAGE_FOLDERS:
                stack.append(child)
    return sorted(found, key=lambda s: s.name)


def find_calibration(session: Session) -> Path | None:
    """The calibration a session uses: its own, else the nearest parent folder's (up to the project root)."""
    folder = session.path
    while True:
        for candidate in (folder / FOLDERS["calibration"] / "calibration.toml", folder / "calibration.toml"):
            if candidate.is_file():
                return candidate
        if folder == session.root or folder.parent == folder:
            return None
        folder = folder.parent
