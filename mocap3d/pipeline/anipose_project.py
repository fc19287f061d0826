"""Run an anipose project folder as it is: its ``config.toml``, its nesting, its trials, its outputs.

anipose (1.1.24) lays a project out as::

    project/
      config.toml                      # anipose's: nesting, [pipeline], [triangulation], [filter], [angles] ...
      session1/                        # nesting = 1: every folder one level down is a session
        calibration/calibration.toml   # a session's calibration: the first calibration/ folder found from
                                       # the session up through `nesting` parents (calibration videos and
                                       # results share the folder name by default)
        videos-raw/trial1-camA.avi ...
        pose-2d/trial1-camA.h5 ...     # DeepLabCut .h5, one per camera and trial; `cam_regex` names the
        pose-2d-filtered/ ...          # camera, the file name without it names the trial
        pose-3d/trial1.csv ...         # written here: one anipose CSV per trial
        angles/trial1.csv ...          # written here from [angles]

``mocap3d run`` (:func:`mocap3d.pipeline.runner.run_project`) reads such a project with anipose's defaults for
every key the file leaves out, finds sessions and calibrations as anipose
does, groups each session's 2D files into trials by ``cam_regex`` (cameras in
string-sorted order, as anipose and aniposelib order them) and writes
anipose's outputs under anipose's names:

``triangulate``
    ``pose-3d/<trial>.csv``. With ``ransac = false`` and ``optim = false``
    (anipose's default) the numbers are anipose's own to float64 rounding
    (aniposelib's DLT, :mod:`mocap3d.triangulation.dlt`); with ``ransac`` or
    ``optim`` mocap3d's ``robust`` or ``optim`` solver runs instead (documented
    differences: both are mocap3d's methods, not aniposelib's). ``axes`` and
    ``reference_point`` align the result with anipose's convention
    (:mod:`mocap3d.analysis.alignment`). Offsets of cropped cameras
    (``[cameras.<name>] offset``) are added to the 2D points, as anipose does.
``angles``
    ``angles/<trial>.csv`` from ``[angles]`` (anipose's ``compute-angles``).

As anipose, a trial whose output exists is not computed again (``force``
recomputes it); a session that fails is reported and does not stop the
others. ``[filter] enabled = true`` reads ``pose-2d-filtered/`` (made by
``anipose filter``); mocap3d does not run anipose's 2D filter itself.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MocapError, PoseFileError, describe_os_error
from .config import CONFIG_NAME, ProjectError

if TYPE_CHECKING:
    from ..poses import Poses3D
    from ..triangulation.config import TriangulationConfig
    from .stages import StageOutcome

__all__ = [
    "ANIPOSE_DEFAULTS",
    "ANIPOSE_STAGES",
    "AniposeTrial",
    "is_anipose_config",
    "read_anipose_config",
    "anipose_sessions",
    "find_anipose_calibration",
    "session_trials",
    "anipose_triangulation_config",
    "triangulate_trial",
    "anipose_stages",
    "AniposeSessionResult",
    "run_anipose_session",
]

log = logging.getLogger(__name__)

#: anipose 1.1.24's DEFAULT_CONFIG (anipose/anipose.py): what a project's config.toml leaves out.
ANIPOSE_DEFAULTS: dict[str, Any] = {
    "video_extension": "avi",
    "converted_video_speed": 1,
    "calibration": {"animal_calibration": False, "calibration_init": None, "fisheye": False},
    "manual_verification": {"manually_verify": False},
    "triangulation": {
        "ransac": False, "optim": False, "scale_smooth": 2, "scale_length": 2, "scale_length_weak": 1,
        "reproj_error_threshold": 5, "score_threshold": 0.8, "n_deriv_smooth": 3, "constraints": [],
        "constraints_weak": [], "optim_chunking": False, "optim_chunking_size": 1000,
    },
    "pipeline": {
        "videos_raw": "videos-raw", "videos_raw_mp4": "videos-raw-mp4", "pose_2d": "pose-2d",
        "pose_2d_filter": "pose-2d-filtered", "pose_2d_projected": "pose-2d-proj", "pose_3d": "pose-3d",
        "pose_3d_filter": "pose-3d-filtered", "videos_labeled_2d": "videos-labeled",
        "videos_labeled_2d_filter": "videos-labeled-filtered", "calibration_videos": "calibration",
        "calibration_results": "calibration", "videos_labeled_3d": "videos-3d",
        "videos_labeled_3d_filter": "videos-3d-filtered", "angles": "angles", "summaries": "summaries",
        "videos_combined": "videos-combined", "videos_compare": "videos-compare",
        "videos_2d_projected": "videos-2d-proj",
    },
    "filter": {
        "enabled": False, "type": "medfilt", "medfilt": 13, "offset_threshold": 25, "score_threshold": 0.05,
        "spline": True, "n_back": 5, "multiprocessing": False,
    },
    "filter3d": {"enabled": False, "medfilt": 17, "offset_threshold": 15},
}  # fmt: skip

#: The stages an anipose project runs, in order (anipose's ``triangulate`` and ``compute-angles``).
ANIPOSE_STAGES = ("triangulate", "angles")

# keys only anipose writes at the top level of its config.toml (mocap3d's own config has tables only)
_TOP_LEVEL = {"nesting", "video_extension", "model_folder", "path", "converted_video_speed"}


def is_anipose_config(data: Mapping[str, Any]) -> bool:
    """Whether a parsed ``config.toml`` is anipose's (rather than mocap3d's own)."""
    if _TOP_LEVEL & set(data) or isinstance(data.get("project"), str):
        return True
    if isinstance(data.get("pipeline"), Mapping) or isinstance(data.get("filter"), Mapping):
        return True
    if isinstance(data.get("filter3d"), Mapping) and "enabled" in data["filter3d"]:
        return True
    tri = data.get("triangulation")
    return isinstance(tri, Mapping) and bool({"ransac", "optim", "triangulate", "cam_align"} & set(tri))


def read_anipose_config(root: str | Path) -> dict[str, Any] | None:
    """``root/config.toml`` with anipose's defaults filled in, if it is anipose's; else None."""
    from ..io.settings import read_toml

    path = Path(root) / CONFIG_NAME
    if not path.is_file():
        return None
    data = read_toml(path, "project configuration", ProjectError)
    if not is_anipose_config(data):
        return None
    config = dict(data)
    for key, value in ANIPOSE_DEFAULTS.items():  # anipose's load_config: one level of nested defaults
        if key not in config:
            config[key] = copy.deepcopy(value)
        elif isinstance(value, dict):
            if not isinstance(config[key], Mapping):
                raise ProjectError(f"{path}: [{key}] must be a table ([{key}] on its own line, then key = value "
                                   f"lines), not {type(config[key]).__name__} {config[key]!r:.40}.")  # fmt: skip
            config[key] = {**value, **config[key]}
    nesting = config.get("nesting", 1)
    if isinstance(nesting, bool) or not isinstance(nesting, int) or nesting < -1:
        raise ProjectError(f"{path}: nesting = {nesting!r}; write how many folder levels lie between the project "
                           "and a session (0: the project folder is the session; -1: every level).")  # fmt: skip
    config["nesting"] = nesting
    regex = config["triangulation"].get("cam_regex")
    if not isinstance(regex, str) or not regex:
        raise ProjectError(f"{path}: [triangulation] has no cam_regex; anipose needs it to tell the camera from "
                           "the trial in a file name, e.g. cam_regex = '-cam([A-Z])$'.")  # fmt: skip
    try:
        groups = re.compile(regex).groups
    except re.error as exc:
        raise ProjectError(f"{path}: [triangulation] cam_regex '{regex}' is not a regular expression ({exc}); "
                           "fix the pattern.") from None  # fmt: skip
    if groups < 1:
        raise ProjectError(f"{path}: [triangulation] cam_regex '{regex}' has no group; put the camera name in "
                           "parentheses, e.g. '-cam([A-Z])$'.")  # fmt: skip
    config["_source"] = str(path)
    config["_root"] = str(Path(root).resolve())
    return config


def _folders(path: Path) -> list[Path]:
    return sorted((p for p in path.iterdir() if p.is_dir()), key=lambda p: p.name)


def anipose_sessions(config: Mapping[str, Any]) -> list[Path]:
    """The session folders, as anipose's ``process_all`` visits them (sorted by path here)."""
    root = Path(config["_root"])
    nesting = config["nesting"]
    if nesting == 0:
        return [root]
    out: list[Path] = []
    stack = [(p, 1) for p in _folders(root)]
    while stack:
        path, level = stack.pop()
        if nesting < 0 or level == nesting:
            out.append(path)
        if nesting < 0 or level < nesting:
            stack.extend((p, level + 1) for p in _folders(path))
    return sorted(out)


def find_anipose_calibration(config: Mapping[str, Any], session: Path) -> Path | None:
    """anipose's ``find_calibration_folder``: the first folder from ``session`` up through ``nesting``
    parents that holds a calibration-videos folder; its ``calibration.toml`` in the results folder."""
    videos, results = config["pipeline"]["calibration_videos"], config["pipeline"]["calibration_results"]
    level, cur = max(config["nesting"], 0), session
    while level >= 0:
        if (cur / videos).is_dir():
            return cur / results / "calibration.toml"
        cur, level = cur.parent, level - 1
    return None


@dataclass(frozen=True)
class AniposeTrial:
    """One recording of a session: its name and one 2D file per camera (cameras in string order)."""

    name: str
    files: dict[str, Path]


def _natural_key(text: str) -> list:
    return [int(c) if c.isdigit() else c for c in re.split(r"(\d+)", text)]


def session_trials(config: Mapping[str, Any], session: Path) -> list[AniposeTrial]:
    """The trials of a session's 2D folder (``pose-2d``, or ``pose-2d-filtered`` when [filter] is enabled).

    As anipose: a file's camera is ``cam_regex``'s first group in its name (without the suffix), the
    trial is the name with the match removed; files whose name does not match are ignored.
    """
    key = "pose_2d_filter" if config["filter"].get("enabled") else "pose_2d"
    folder = session / config["pipeline"][key]
    regex = re.compile(config["triangulation"]["cam_regex"])
    trials: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.glob("*.h5")) if folder.is_dir() else []:
        stem = path.stem
        match = regex.search(stem)
        if not match:
            continue
        trial = regex.sub("", stem).strip()
        cam = match.groups()[0].strip()
        if cam in trials.setdefault(trial, {}):
            raise PoseFileError(f"{folder}: two files of trial '{trial}' name camera '{cam}' "
                                f"({trials[trial][cam].name}, {path.name}); keep one.")  # fmt: skip
        trials[trial][cam] = path
    return [AniposeTrial(name, dict(sorted(trials[name].items()))) for name in sorted(trials, key=_natural_key)]


def anipose_triangulation_config(config: Mapping[str, Any]) -> TriangulationConfig:
    """The :class:`~mocap3d.triangulation.config.TriangulationConfig` of an anipose config's [triangulation]."""
    from ..triangulation.config import TriangulationConfig, from_anipose

    table = {k: v for k, v in config["triangulation"].items() if k != "cam_regex"}
    if not table.get("optim_chunking"):  # anipose reads the chunk size only with optim_chunking = true
        table.pop("optim_chunking_size", None)
    return TriangulationConfig.from_dict(from_anipose(table, config.get("_source", "anipose config")),
                                         config.get("_source", "anipose config"))  # fmt: skip


def _load_trial(config: Mapping[str, Any], trial: AniposeTrial):
    """The trial's 2D poses as anipose reads them: cameras string-sorted, frames cut to the shortest file,
    each camera's crop offset (``[cameras.<name>] offset``) added."""
    from ..io.pose2d import load_track2d
    from ..poses import Poses2D, Track2D

    tracks = {cam: load_track2d(path) for cam, path in trial.files.items()}
    n = min(t.n_frames for t in tracks.values())
    cameras = config.get("cameras", {})
    out = {}
    for cam, t in tracks.items():
        points = t.points[:n].copy()
        offset = cameras.get(cam, {}).get("offset") if isinstance(cameras, Mapping) else None
        if offset is not None:
            points[..., 0] += float(offset[0])
            points[..., 1] += float(offset[1])
        out[cam] = Track2D(points=points, scores=t.scores[:n], keypoints=t.keypoints, individuals=t.individuals,
                           source=t.source)  # fmt: skip
    return Poses2D.from_tracks(out)


def triangulate_trial(config: Mapping[str, Any], calibration: Path, trial: AniposeTrial) -> Poses3D:
    """One trial's 3D poses as anipose's ``triangulate`` makes them (aligned when axes/reference_point are set)."""
    from ..io.calibration import load_calibration
    from ..triangulation import triangulate

    rig = load_calibration(calibration)
    missing = [c for c in trial.files if c not in rig.names]
    if missing:
        raise ProjectError(f"trial {trial.name}: camera(s) {', '.join(missing)} are not in {calibration} "
                           f"(it has {', '.join(rig.names)}); check cam_regex or the calibration.")  # fmt: skip
    if len(trial.files) < 2:
        raise ProjectError(f"trial {trial.name}: only camera {', '.join(trial.files)} has a 2D file; "
                           "triangulation needs two or more.")  # fmt: skip
    poses2d = _load_trial(config, trial)
    poses3d = triangulate(poses2d, rig, anipose_triangulation_config(config))
    tri = config["triangulation"]
    if "reference_point" in tri and "axes" in tri:
        from ..analysis.alignment import AlignmentConfig, align_poses

        poses3d = align_poses(poses3d, AlignmentConfig.from_anipose(tri, convention="anipose"))
    poses3d.metadata["inputs"] = {c: str(p) for c, p in trial.files.items()}
    poses3d.metadata["calibration"] = str(calibration)
    return poses3d


@dataclass
class AniposeSessionResult:
    """One session's outcome (the runner turns it into its :class:`~mocap3d.pipeline.runner.SessionResult`)."""

    session: str
    stages: list[StageOutcome]
    error: str = ""
    seconds: float = 0.0


def anipose_stages(config: Mapping[str, Any], stages: Sequence[str] | None) -> tuple[str, ...]:
    """The stages to run, in order (default :data:`ANIPOSE_STAGES`); others are one sentence."""
    unknown = [s for s in stages or () if s not in ANIPOSE_STAGES]
    if unknown:
        raise ProjectError(f"stage(s) {', '.join(unknown)} do not apply to an anipose project "
                           f"({config['_source']}); it runs {', '.join(ANIPOSE_STAGES)}.")  # fmt: skip
    return tuple(s for s in ANIPOSE_STAGES if not stages or s in stages)


def run_anipose_session(
    config: Mapping[str, Any], session: Path, stages: Sequence[str], force: bool = False
) -> AniposeSessionResult:
    """Run ``stages`` over every trial of one session; failures are returned as its reason, never raised."""
    from ..analysis.angles import compute_angles, save_angles_csv
    from ..io.pose3d import load_anipose_csv, save_anipose_csv
    from .stages import StageOutcome

    root = Path(config["_root"])
    name = session.relative_to(root).as_posix() if session != root else session.name
    result = AniposeSessionResult(name, [])
    start = time.time()
    pipe = config["pipeline"]
    stage = stages[0] if stages else "triangulate"
    try:
        trials = session_trials(config, session)
        if not trials:
            key = "pose_2d_filter" if config["filter"].get("enabled") else "pose_2d"
            note = f"no 2D file matching cam_regex in {pipe[key]}/"
            if config["filter"].get("enabled") and (session / pipe["pose_2d"]).is_dir():
                note += " ([filter] enabled = true: run `anipose filter` first, or set enabled = false)"
            result.stages = [StageOutcome(s, "not needed", note=note) for s in stages]
            return result
        for stage in stages:
            t0 = time.time()
            written: list[Path] = []
            if stage == "triangulate":
                calibration = find_anipose_calibration(config, session)
                if calibration is None or not calibration.is_file():
                    raise ProjectError(
                        f"no calibration: anipose looks for {pipe['calibration_videos']}/ in the session and its "
                        f"parents up to the nesting level, then {pipe['calibration_results']}/calibration.toml "
                        "inside it; run calibration first or put the file there."
                    )
                for trial in trials:
                    out = session / pipe["pose_3d"] / f"{trial.name}.csv"
                    if out.exists() and not force:
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    written.append(save_anipose_csv(triangulate_trial(config, calibration, trial), out))
            elif stage == "angles":
                specs = config.get("angles") or {}
                if not specs:
                    result.stages.append(StageOutcome(stage, "not needed", note="no [angles] in config.toml"))
                    continue
                for trial in trials:
                    src = session / pipe["pose_3d"] / f"{trial.name}.csv"
                    out = session / pipe["angles"] / f"{trial.name}.csv"
                    if not src.is_file() or (out.exists() and not force):
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    written.append(save_angles_csv(compute_angles(load_anipose_csv(src), specs), out))
            else:
                result.stages.append(StageOutcome(stage, "not needed",
                                                  note="anipose projects run triangulate and angles"))  # fmt: skip
                continue
            status = "done" if written else "skipped"
            result.stages.append(StageOutcome(stage, status, outputs=written, seconds=time.time() - t0,
                                              note=f"{len(written)} of {len(trials)} trials"))  # fmt: skip
    except MocapError as exc:
        result.error = f"{stage}: {exc}"
    except OSError as exc:
        result.error = f"{stage}: {describe_os_error(exc)}"
    except Exception as exc:  # one session's crash must not stop the others
        log.debug("session %s", name, exc_info=True)
        result.error = f"{stage}: unexpected {type(exc).__name__}: {exc}"
    if result.error:
        result.stages.append(StageOutcome(stage, "failed", note=result.error))
    result.seconds = time.time() - start
    return result
