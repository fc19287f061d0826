"""The sample rig: a walking, human-like skeleton filmed by a few cameras, with ground truth.

Everything is generated from a seed, so the rig, the motion, the noisy 2D
detections and the true gait events are reproducible without committing data.
Units are millimetres, the world is Z-up with the floor at ``z = 0``, and the
walker moves along ``+x``.

The walk is built so that the ground truth is exact: each foot is planted
(stationary, on the floor) for the stance phase and swings forward along a
smooth arc otherwise; knees follow from two-link inverse kinematics, so thigh
and shank lengths are constant. ``SampleRig.events`` lists every foot strike
and toe-off frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .camera import CameraRig, rotation_to_rodrigues
from .poses import Poses2D, Poses3D

__all__ = ["KEYPOINTS", "EDGES", "SampleRig", "make_sample", "make_rig", "walk", "write_sample"]

KEYPOINTS: tuple[str, ...] = (
    "head", "neck", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_heel", "r_heel", "l_toe", "r_toe",
)  # fmt: skip

EDGES: tuple[tuple[str, str], ...] = (
    ("head", "neck"), ("neck", "l_shoulder"), ("neck", "r_shoulder"), ("l_shoulder", "l_elbow"),
    ("r_shoulder", "r_elbow"), ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"), ("neck", "pelvis"),
    ("pelvis", "l_hip"), ("pelvis", "r_hip"), ("l_hip", "l_knee"), ("r_hip", "r_knee"), ("l_knee", "l_ankle"),
    ("r_knee", "r_ankle"), ("l_ankle", "l_heel"), ("r_ankle", "r_heel"), ("l_heel", "l_toe"), ("r_heel", "r_toe"),
    ("l_ankle", "l_toe"), ("r_ankle", "r_toe"),
)  # fmt: skip

# Body dimensions (mm).
_THIGH, _SHANK, _UPPER_ARM, _FOREARM = 450.0, 440.0, 290.0, 260.0
_HIP_HALF_WIDTH, _SHOULDER_HALF_WIDTH, _TRUNK, _NECK_HEAD = 95.0, 180.0, 480.0, 200.0
_ANKLE_HEIGHT, _HEEL_BACK, _TOE_FORWARD = 85.0, 55.0, 150.0
_MARKER_HEIGHT = 15.0  # heel and toe keypoints sit this far above the floor when planted


@dataclass
class SampleRig:
    """A generated recording with its ground truth (see module docstring)."""

    rig: CameraRig
    truth: Poses3D
    poses2d: Poses2D
    edges: tuple[tuple[str, str], ...]
    contacts: dict[str, np.ndarray]
    events: list[dict]
    limbs: dict[tuple[str, str], float]
    fps: float
    outliers: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0, 0), bool))  # (V, F, K) bool


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])  # rows: camera axes in world -> world-to-camera rotation


def make_rig(
    n_cameras: int = 4,
    size: tuple[int, int] = (1280, 1024),
    distance: float = 5000.0,
    height: float = 1500.0,
    seed: int = 0,
) -> CameraRig:
    """Cameras on an arc around the walkway, aimed at its centre, with realistic lenses.

    Focal lengths ~1000-1150 px at 1280 px wide (about 60 degrees horizontal
    field of view; other sizes scale focal lengths and principal-point offsets,
    keeping the field of view), principal points a few pixels off centre,
    radial and tangential distortion of a typical machine-vision lens.
    """
    rng = np.random.default_rng(seed)
    scale = size[0] / 1280.0
    target = np.array([0.0, 0.0, 900.0])
    names, ks, dists, rvecs, tvecs = [], [], [], [], []
    # An arc in front of and behind the walkway (not along it), slightly jittered.
    angles = np.linspace(0, 2 * np.pi, n_cameras, endpoint=False) + np.pi / n_cameras
    for i, a in enumerate(angles):
        a = a + rng.uniform(-0.15, 0.15)
        center = np.array([0.9 * distance * np.cos(a), distance * np.sin(a), height + rng.uniform(-200, 300)])
        R = _look_at(center, target + rng.normal(0, 50, 3))
        f = rng.uniform(1000, 1150) * scale
        K = np.array([[f, 0, size[0] / 2 + scale * rng.uniform(-15, 15)], [0, f * rng.uniform(0.998, 1.002),
                      size[1] / 2 + scale * rng.uniform(-15, 15)], [0, 0, 1]])  # fmt: skip
        dist = [rng.uniform(-0.25, -0.12), rng.uniform(0.04, 0.12), rng.uniform(-1e-3, 1e-3),
                rng.uniform(-1e-3, 1e-3), rng.uniform(-0.02, 0.02)]  # fmt: skip
        names.append(f"cam{i + 1}")
        ks.append(K)
        dists.append(dist)
        rvecs.append(rotation_to_rodrigues(R))
        tvecs.append(-R @ center)
    return CameraRig(names=names, sizes=[size] * n_cameras, K=ks, dist=dists, rvec=rvecs, tvec=tvecs)


def _smoothstep(u: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(u, 0, 1))


def walk(
    n_frames: int = 300, fps: float = 60.0, speed: float = 1000.0, period: float = 1.1, stance: float = 0.6
) -> tuple[np.ndarray, dict[str, np.ndarray], list[dict]]:
    """The walker's 3D keypoints, foot contacts and gait events.

    Returns
    -------
    points : array (frames, len(KEYPOINTS), 3), mm
    contacts : dict foot keypoint -> bool (frames,)
    events : list of {"side", "event" ("strike" | "off"), "frame"}
    """
    t = np.arange(n_frames) / fps
    duration = n_frames / fps
    stride = speed * period
    x_start = -0.5 * speed * duration
    pelvis = np.stack(
        [x_start + speed * t, 10.0 * np.sin(2 * np.pi * t / period), 905.0 + 12.0 * np.cos(4 * np.pi * t / period)],
        -1,
    )
    out: dict[str, np.ndarray] = {"pelvis": pelvis}
    contacts: dict[str, np.ndarray] = {}
    events: list[dict] = []
    for side, sign, offset in (("l", 1.0, 0.0), ("r", -1.0, 0.5)):
        hip = pelvis + [0.0, sign * _HIP_HALF_WIDTH, -40.0]
        cycle = t / period + offset
        n = np.floor(cycle)
        phase = cycle - n
        # Foot plant n: hip passes over it at mid-stance.
        plant = x_start + stride * (n + stance / 2 - offset)
        swing = np.clip((phase - stance) / (1 - stance), 0, 1)
        ankle_x = plant + stride * _smoothstep(swing)
        lift = np.where(phase >= stance, 110.0 * np.sin(np.pi * swing), 0.0)
        ankle = np.stack([ankle_x, np.full_like(t, sign * (_HIP_HALF_WIDTH + 15.0)), _ANKLE_HEIGHT + lift], -1)
        # Foot pitch: toe down a little at the start of swing, up before strike.
        pitch = np.where(phase >= stance, 0.35 * np.sin(2 * np.pi * swing), 0.0)
        fwd = np.stack([np.cos(pitch), np.zeros_like(t), -np.sin(pitch)], -1)
        down = np.stack([np.sin(pitch), np.zeros_like(t), np.cos(pitch)], -1)
        drop = _ANKLE_HEIGHT - _MARKER_HEIGHT
        heel = ankle - _HEEL_BACK * fwd - drop * down
        toe = ankle + _TOE_FORWARD * fwd - drop * down
        # Two-link IK in the sagittal plane, knee in front of the hip-ankle line.
        d = ankle - hip
        dist = np.linalg.norm(d, axis=-1, keepdims=True)
        dist = np.minimum(dist, _THIGH + _SHANK - 1e-6)
        a = (_THIGH**2 - _SHANK**2 + dist**2) / (2 * dist)
        h = np.sqrt(np.maximum(_THIGH**2 - a**2, 0.0))
        unit = d / np.linalg.norm(d, axis=-1, keepdims=True)
        perp = np.cross(unit, [0.0, 1.0, 0.0])
        perp *= -np.sign(perp[:, :1])  # point forward (+x)
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        knee = hip + a * unit + h * perp
        out.update({f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
                    f"{side}_heel": heel, f"{side}_toe": toe})  # fmt: skip
        on_floor = phase < stance
        contacts[f"{side}_heel"] = on_floor
        contacts[f"{side}_toe"] = on_floor
        name = "left" if side == "l" else "right"
        change = np.flatnonzero(np.diff(on_floor.astype(int)))
        for i in change:
            events.append({"side": name, "event": "strike" if on_floor[i + 1] else "off", "frame": int(i + 1)})
    neck = pelvis + [20.0, 0.0, _TRUNK]
    out["neck"] = neck
    out["head"] = neck + [35.0, 0.0, _NECK_HEAD]
    for side, sign, offset in (("l", 1.0, 0.5), ("r", -1.0, 0.0)):  # arms swing against the legs
        shoulder = neck + [0.0, sign * _SHOULDER_HALF_WIDTH, -30.0]
        swing = 0.35 * np.sin(2 * np.pi * (t / period + offset))
        upper = np.stack([np.sin(swing), np.zeros_like(t), -np.cos(swing)], -1)
        bend = swing + 0.3
        fore = np.stack([np.sin(bend), np.zeros_like(t), -np.cos(bend)], -1)
        elbow = shoulder + _UPPER_ARM * upper
        out.update({f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": elbow + _FOREARM * fore})
    points = np.stack([out[k] for k in KEYPOINTS], axis=1)
    events.sort(key=lambda e: (e["frame"], e["side"]))
    return points, contacts, events


def make_sample(
    n_frames: int = 300,
    n_cameras: int = 4,
    seed: int = 0,
    noise_px: float = 1.5,
    outlier_fraction: float = 0.1,
    occlusion: bool = True,
    fps: float = 60.0,
    size: tuple[int, int] = (1280, 1024),
) -> SampleRig:
    """Generate the sample recording.

    Parameters
    ----------
    noise_px : standard deviation of the 2D detection noise (px).
    outlier_fraction : fraction of 2D points replaced by wrong points that
        keep a high score (0.8-1.0): the case that breaks plain DLT.
    occlusion : drop runs of 3-25 frames per camera and keypoint (about 6% of
        observations), as when a limb hides behind the body.
    size : (width, height) of every camera's images (px).
    """
    rng = np.random.default_rng(seed)
    rig = make_rig(n_cameras=n_cameras, size=(int(size[0]), int(size[1])), seed=seed)
    points, contacts, events = walk(n_frames=n_frames, fps=fps)
    f, k, _ = points.shape
    proj = rig.project(points)
    obs = proj + rng.normal(0.0, noise_px, proj.shape)
    scores = rng.uniform(0.6, 1.0, (n_cameras, f, k))
    outliers = rng.random((n_cameras, f, k)) < outlier_fraction
    # Wrong points: elsewhere on the body or in the image, confidently reported.
    jump = rng.normal(0.0, 120.0, (int(outliers.sum()), 2)) + rng.choice([-1, 1], (int(outliers.sum()), 2)) * 60.0
    obs[outliers] = obs[outliers] + jump
    scores[outliers] = rng.uniform(0.8, 1.0, int(outliers.sum()))
    hidden = np.zeros((n_cameras, f, k), bool)
    if occlusion:
        n_gaps = int(0.06 * n_cameras * f * k / 14)
        cams = rng.integers(0, n_cameras, n_gaps)
        kps = rng.integers(0, k, n_gaps)
        starts = rng.integers(0, f, n_gaps)
        lengths = rng.integers(3, 26, n_gaps)
        for c, kp, s, n in zip(cams, kps, starts, lengths, strict=True):  # a few hundred gaps: setup, not a hot path
            hidden[c, s : s + n, kp] = True
    hidden |= ~rig.in_image(obs) | (rig.depths(points) <= 0)
    obs[hidden] = np.nan
    scores[hidden] = 0.0
    outliers &= ~hidden
    kp_index = {name: i for i, name in enumerate(KEYPOINTS)}
    limbs = {(a, b): float(np.linalg.norm(points[0, kp_index[a]] - points[0, kp_index[b]]))
             for a, b in EDGES if not (a == "pelvis" or b == "pelvis" or "neck" in (a, b))}  # fmt: skip
    truth = Poses3D(
        keypoints=KEYPOINTS, points=points, fps=fps, metadata={"source": "mocap3d.sample", "seed": seed, "units": "mm"}
    )
    poses2d = Poses2D(views=rig.names, keypoints=KEYPOINTS, points=obs, scores=scores, fps=fps)
    return SampleRig(rig=rig, truth=truth, poses2d=poses2d, edges=EDGES, contacts=contacts, events=events,
                     limbs=limbs, fps=fps, outliers=outliers)  # fmt: skip


def write_sample(sample: SampleRig, out_dir: str | Path, fmt: str = "dlc") -> dict[str, Any]:
    """Write the sample as a user would have it: calibration, one 2D file per camera, truth.

    Parameters
    ----------
    fmt : {"dlc", "sleap", "openpose"}
        Format of the 2D files: DeepLabCut ``.h5`` (``pose-2d/<cam>.h5``),
        SLEAP analysis ``.h5`` or OpenPose JSON folders (``pose-2d/<cam>_json``).

    Returns
    -------
    dict with keys ``calibration``, ``pose2d`` (list of paths, in camera
    order), ``truth`` (HDF5 Poses3D) and ``events`` (JSON).
    """
    import json

    from .io.atomic import atomic_write_text
    from .io.calibration import save_calibration
    from .io.pose2d import save_dlc, save_openpose_folder, save_sleap_analysis
    from .io.pose3d import save_h5
    from .poses import Track2D

    out = Path(out_dir)
    pose_dir = out / "pose-2d"
    pose_dir.mkdir(parents=True, exist_ok=True)
    calib = save_calibration(sample.rig, out / "calibration.toml", {"source": "mocap3d sample rig (true values)"},
                             units="mm")
    files = []
    for v, cam in enumerate(sample.rig.names):
        track = Track2D(
            points=sample.poses2d.points[v][:, None], scores=sample.poses2d.scores[v][:, None],
            keypoints=sample.poses2d.keypoints, source=cam,
        )
        if fmt == "dlc":
            files.append(save_dlc(track, pose_dir / f"{cam}.h5"))
        elif fmt == "sleap":
            files.append(save_sleap_analysis(track, pose_dir / f"{cam}.analysis.h5"))
        elif fmt == "openpose":
            files.append(save_openpose_folder(track, pose_dir / f"{cam}_json", prefix=cam))
        else:
            raise ValueError(f"unknown 2D format {fmt!r}")
    truth = save_h5(sample.truth, out / "ground_truth.h5", calibration=sample.rig)
    events = atomic_write_text(
        out / "ground_truth_events.json",
        json.dumps({"fps": sample.fps, "events": sample.events,
                    "limbs": {f"{a}-{b}": v for (a, b), v in sample.limbs.items()}}, indent=1),  # fmt: skip
    )
    return {"calibration": calib, "pose2d": files, "truth": truth, "events": events}
