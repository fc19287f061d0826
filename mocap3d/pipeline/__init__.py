"""Projects of many sessions: layout and config, resumable stages, Dask runs, camera synchronisation.

``mocap3d run PROJECT`` takes every session of a project folder (see
:mod:`.config` for the layout and ``config.toml``) through the stages of
:mod:`.stages`, skipping what is complete, on a Dask cluster (:mod:`.runner`).
:mod:`mocap3d.sync` estimates and applies frame offsets between cameras (:mod:`.sync` is its old name).
"""

from ..sync.offsets import SyncConfig, SyncResult, apply_offsets, epipolar_offsets, flash_offsets, keypoint_offsets
from .config import ProjectConfig, ProjectError, Session, find_calibration, find_sessions, load_config
from .runner import ProjectReport, SessionResult, run_project, run_session
from .stages import STAGE_ORDER, STAGES, StageOutcome, register_stage, run_stage

__all__ = [
    "ProjectConfig", "ProjectError", "Session", "find_calibration", "find_sessions", "load_config",
    "ProjectReport", "SessionResult", "run_project", "run_session",
    "STAGE_ORDER", "STAGES", "StageOutcome", "register_stage", "run_stage",
    "SyncConfig", "SyncResult", "apply_offsets", "epipolar_offsets", "flash_offsets", "keypoint_offsets",
]  # fmt: skip
