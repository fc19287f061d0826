"""A project folder of generated sample sessions (``mocap3d new-project``), for trying and testing ``mocap3d run``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ..io.atomic import atomic_write_text
from .config import CONFIG_NAME, ProjectError

__all__ = ["SAMPLE_CONFIG", "make_sample_project"]

log = logging.getLogger(__name__)

#: The config.toml of a new project: the sample rig's frame rate and units, the
#: robust triangulation, a 2D median filter, a 3D Butterworth filter, knee angles and a TRC export.
SAMPLE_CONFIG = """\
# mocap3d project configuration (see `mocap3d run --help`).

[project]
fps = 60.0                  # frame rate of the recordings (Hz)
units = "mm"                # length unit of the calibrations
require_all_cameras = true  # a session missing a camera's 2D file fails with that reason

[sync]
method = "none"             # none | epipolar | keypoints | flash (cameras without a shared trigger)

[triangulation]
method = "robust"
reproj_threshold = 15.0     # px

[[filter2d]]
type = "median"
window = 7
offset_threshold = 20.0     # px

[[filter3d]]
type = "butterworth"
cutoff = 6.0                # Hz
order = 4

[angles]
l_knee = ["l_hip", "l_knee", "l_ankle"]
r_knee = ["r_hip", "r_knee", "r_ankle"]
l_hip = ["pelvis", "l_hip", "l_knee"]
r_hip = ["pelvis", "r_hip", "r_knee"]

[export]
formats = ["trc"]
"""


def make_sample_project(
    root: str | Path,
    n_sessions: int = 8,
    n_frames: int = 300,
    seed: int = 0,
    groups: int = 2,
    offsets: Mapping[str, int] | None = None,
    config_text: str = SAMPLE_CONFIG,
) -> list[Path]:
    """Write a project of ``n_sessions`` sample recordings (seeds ``seed``, ``seed + 1``, ...).

    Sessions are spread over ``groups`` folders (``day1/walk01``, ``day2/walk02``, ...;
    ``groups=0`` puts them at the top level). Each session has its own
    ``calibration.toml`` (every seed is a different rig), ``pose-2d/cam*.h5``
    (DeepLabCut format) and the ground truth (``ground_truth.h5``, events JSON).
    ``offsets`` (camera -> frames) shifts cameras in time as unsynchronised
    cameras would be (see :mod:`mocap3d.pipeline.sync` for the sign): each 2D
    file is then a different window of a longer recording. Returns the session folders.
    """
    from ..sample import make_sample, write_sample

    root = Path(root)
    if (root / CONFIG_NAME).exists():
        raise ProjectError(f"{root / CONFIG_NAME} already exists; choose a new folder for the sample project.")
    if n_sessions < 1 or n_frames < 30:
        raise ProjectError("a sample project needs at least one session of at least 30 frames.")
    root.mkdir(parents=True, exist_ok=True)
    folders = []
    for i in range(n_sessions):
        group = f"day{i % groups + 1}" if groups > 0 else ""
        folder = root / group / f"walk{i + 1:02d}"
        shifts = dict(offsets or {})
        margin = max([0, *(abs(v) for v in shifts.values())])
        sample = make_sample(n_frames=n_frames + 2 * margin, seed=seed + i)
        if margin:
            sample = _shift_sample(sample, shifts, margin, n_frames)
        write_sample(sample, folder)
        folders.append(folder)
    atomic_write_text(root / CONFIG_NAME, config_text)
    log.info("wrote a sample project of %d sessions in %s", n_sessions, root)
    return folders


def _shift_sample(sample, offsets: Mapping[str, int], margin: int, n_frames: int):
    """Crop each camera's 2D stream to start ``offsets[cam]`` frames after the reference's (the truth follows it)."""
    import dataclasses

    import numpy as np

    from ..poses import Poses2D, Poses3D

    unknown = [c for c in offsets if c not in sample.rig.names]
    if unknown:
        raise ProjectError(f"offsets name cameras {unknown} that the sample rig lacks ({', '.join(sample.rig.names)}).")
    starts = np.array([margin + int(offsets.get(c, 0)) for c in sample.rig.names])
    idx = starts[:, None] + np.arange(n_frames)[None]
    views = np.arange(len(starts))[:, None]
    p = sample.poses2d
    poses2d = Poses2D(views=p.views, keypoints=p.keypoints, points=p.points[views, idx], scores=p.scores[views, idx],
                      fps=p.fps)  # fmt: skip
    t = sample.truth
    truth = Poses3D(keypoints=t.keypoints, points=t.points[margin : margin + n_frames], fps=t.fps,
                    metadata={**t.metadata, "frame_offset": margin})  # fmt: skip
    return dataclasses.replace(sample, poses2d=poses2d, truth=truth)
