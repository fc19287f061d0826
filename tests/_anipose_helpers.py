"""A small anipose project made from synthetic rigs, shared by the anipose compatibility tests."""

from __future__ import annotations

from pathlib import Path

from mocap3d.io.calibration import save_calibration
from mocap3d.io.pose2d import save_dlc
from mocap3d.poses import Track2D
from mocap3d.sample import make_sample

CONFIG = """project = "demo"
model_folder = "/nowhere/dlc-model"
nesting = 1
video_extension = "mp4"

[calibration]
board_type = "charuco"
board_size = [10, 7]

[filter]
enabled = false

[triangulation]
triangulate = true
cam_regex = '-cam([A-Z])$'
cam_align = "B"
ransac = false
optim = false
score_threshold = 0.7
{extra}
[angles]
l_knee = ["l_hip", "l_knee", "l_ankle"]
r_elbow = ["axis", "r_shoulder", "r_elbow", "r_wrist"]
"""

ALIGN = """axes = [["x", "r_hip", "l_hip"], ["z", "pelvis", "neck"]]
reference_point = "pelvis"
"""

TRIALS = ("walk-1", "walk-2", "walk-10")


def make_anipose_project(root: Path, sessions=("session1", "session2"), trials=TRIALS, frames: int = 12,
                         align: bool = False) -> Path:  # fmt: skip
    """anipose's layout: config.toml, <session>/calibration/calibration.toml, <session>/pose-2d/<trial>-cam<X>.h5."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(CONFIG.format(extra=ALIGN if align else ""))
    for s_i, session in enumerate(sessions):
        folder = root / session
        (folder / "calibration").mkdir(parents=True, exist_ok=True)
        (folder / "pose-2d").mkdir(parents=True, exist_ok=True)
        # one recording per session, cut into trials (all seen by the session's calibrated rig)
        sample = make_sample(n_frames=frames * len(trials), n_cameras=3, seed=1 + s_i, outlier_fraction=0.05)
        save_calibration(sample.rig.replace(names=("A", "B", "C")), folder / "calibration" / "calibration.toml")
        for t_i, trial in enumerate(trials):
            cut = slice(t_i * frames, (t_i + 1) * frames)
            for v, cam in enumerate("ABC"):
                track = Track2D(points=sample.poses2d.points[v, cut, None], scores=sample.poses2d.scores[v, cut, None],
                                keypoints=sample.poses2d.keypoints, source=cam)  # fmt: skip
                save_dlc(track, folder / "pose-2d" / f"{trial}-cam{cam}.h5")
    return root
