"""Several walkers in one scene, filmed by the sample rig's cameras, with ground truth: the multi-animal test bed.

Each individual is the sample walker (:func:`mocap3d.sample.walk`) bent onto a
circle around the arena's centre: individuals walk on concentric circles of
different radii, in opposite directions and at different speeds, so they pass
each other again and again, a few body widths apart, and hide each other
in some cameras. No rendering: 2D detections are the true projections
(the cameras' lens model) plus noise, and, as a multi-animal 2D network
gives them:

* per camera, the detections come in an order that is **not** the
  individuals' identity: the file's labels are swapped at random moments, on
  their own in every camera (tracklet swaps) — or shuffled every frame;
* whole detections are missing (``missing_rate``), and an individual hidden
  behind another one in a camera (their 2D boxes overlap by more than
  ``occlusion_iou``) is not detected there;
* keypoints are occluded in short runs and some are confident outliers, as in
  the single-animal sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import CameraRig
from ..poses import Poses2D, Poses3D
from ..sample import KEYPOINTS, make_rig, walk

__all__ = ["Herd", "make_herd", "herd_paths", "write_herd_session"]


@dataclass
class Herd:
    """A generated multi-individual recording (see module docstring)."""

    rig: CameraRig
    truth: dict[str, Poses3D]  # individual -> its true 3D
    points: np.ndarray  # (V, F, N, K, 2) detections as the cameras' files hold them
    scores: np.ndarray  # (V, F, N, K)
    identity: np.ndarray  # (V, F, N) true individual index of each detection slot (-1: empty)
    true2d: dict[str, Poses2D]  # individual -> its own noisy 2D (perfectly associated: the single-animal case)
    keypoints: tuple[str, ...]
    fps: float

    @property
    def names(self) -> list[str]:
        return list(self.truth)


def herd_paths(n_individuals: int, n_frames: int, fps: float = 60.0, seed: int = 0) -> np.ndarray:
    """True 3D keypoints (I, F, K, 3) of walkers on concentric circles (mm, Z-up)."""
    rng = np.random.default_rng(seed)
    radii = np.linspace(1200.0, 2000.0, n_individuals) if n_individuals > 1 else np.array([1500.0])
    out = []
    for i in range(n_individuals):
        speed = rng.uniform(700.0, 1100.0)
        pts, _, _ = walk(n_frames=n_frames, fps=fps, speed=speed, period=rng.uniform(1.0, 1.2))
        direction = 1.0 if i % 2 == 0 else -1.0
        s = pts[..., 0] - pts[0, KEYPOINTS.index("pelvis"), 0]  # distance walked
        lateral = pts[..., 1]  # + is the walker's left
        r = radii[i]
        theta = rng.uniform(0, 2 * np.pi) + direction * s / r
        # counter-clockwise (direction +1): left is inwards; clockwise: left is outwards
        rho = r - direction * lateral
        out.append(np.stack([rho * np.cos(theta), rho * np.sin(theta), pts[..., 2]], -1))
    return np.stack(out)


def _boxes(p: np.ndarray) -> np.ndarray:
    """2D boxes (..., 4) of skeletons (..., K, 2): x0, y0, x1, y1 (NaN where nothing is seen)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.concatenate([np.nanmin(p, axis=-2), np.nanmax(p, axis=-2)], -1)


def _iou_over_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area = lambda q: (q[..., 2] - q[..., 0]) * (q[..., 3] - q[..., 1])  # noqa: E731
    with np.errstate(all="ignore"):
        return np.nan_to_num(w * h / np.minimum(area(a), area(b)))


def make_herd(
    n_individuals: int = 2,
    n_frames: int = 600,
    n_cameras: int = 4,
    seed: int = 0,
    noise_px: float = 1.5,
    outlier_fraction: float = 0.03,
    missing_rate: float = 0.05,
    occlusion_iou: float = 0.6,
    swap_rate: float = 0.01,
    shuffle: bool = False,
    fps: float = 60.0,
    size: tuple[int, int] = (1280, 1024),
) -> Herd:
    """Generate the scene.

    Parameters
    ----------
    missing_rate : probability that a camera misses an individual in a frame (whole detection).
    occlusion_iou : an individual whose 2D box is covered by this fraction by a nearer individual's box
        is not detected in that camera.
    swap_rate : per camera and frame, probability that two detection labels are exchanged from then on.
    shuffle : order the detections at random in every frame instead (no labels at all).
    """
    rng = np.random.default_rng(seed)
    rig = make_rig(n_cameras=n_cameras, size=size, seed=seed, distance=7000.0, height=2200.0)
    truth3d = herd_paths(n_individuals, n_frames, fps, seed)  # (I, F, K, 3)
    i_n, f, k, _ = truth3d.shape
    v = n_cameras
    proj = rig.project(truth3d)  # (V, I, F, K, 2)
    proj = proj.transpose(0, 2, 1, 3, 4)  # (V, F, I, K, 2)
    obs = proj + rng.normal(0.0, noise_px, proj.shape)
    scores = rng.uniform(0.6, 1.0, (v, f, i_n, k))
    outliers = rng.random((v, f, i_n, k)) < outlier_fraction
    n_out = int(outliers.sum())
    obs[outliers] += rng.normal(0.0, 120.0, (n_out, 2)) + rng.choice([-1, 1], (n_out, 2)) * 60.0
    scores[outliers] = rng.uniform(0.8, 1.0, n_out)
    hidden = np.zeros((v, f, i_n, k), bool)
    n_gaps = int(0.04 * v * f * i_n * k / 14)
    for c, ii, kp, s, length in zip(rng.integers(0, v, n_gaps), rng.integers(0, i_n, n_gaps),
                                    rng.integers(0, k, n_gaps), rng.integers(0, f, n_gaps),
                                    rng.integers(3, 26, n_gaps), strict=True):  # fmt: skip
        hidden[c, s : s + length, ii, kp] = True
    depth = rig.depths(truth3d).transpose(0, 2, 1, 3)  # (V, F, I, K)
    hidden |= ~rig.in_image(proj) | (depth <= 0)
    # whole detections: missed at random, or hidden behind a nearer individual
    missed = rng.random((v, f, i_n)) < missing_rate
    boxes = _boxes(proj)  # (V, F, I, 4)
    mean_depth = depth.mean(-1)
    for a in range(i_n):
        for b in range(i_n):
            if a != b:
                behind = (mean_depth[..., a] > mean_depth[..., b]) & (
                    _iou_over_smaller(boxes[..., a, :], boxes[..., b, :]) > occlusion_iou
                )
                missed[..., a] |= behind
    hidden |= missed[..., None]
    obs[hidden] = np.nan
    scores[hidden] = 0.0
    names = [f"individual_{i}" for i in range(i_n)]
    true2d = {
        names[i]: Poses2D(views=rig.names, keypoints=KEYPOINTS, points=obs[:, :, i], scores=scores[:, :, i], fps=fps)
        for i in range(i_n)
    }
    # the order in each camera's file: labels swapped at random moments (per camera), or shuffled every frame
    order = np.tile(np.arange(i_n), (v, f, 1))
    if shuffle:
        order = rng.permuted(order, axis=-1)
    elif i_n > 1:
        for c in range(v):
            perm = np.arange(i_n)
            swaps = np.asarray(rng.random(f)) < swap_rate
            for fi in range(f):
                if swaps[fi]:
                    a, b = rng.choice(i_n, 2, replace=False)
                    perm[[a, b]] = perm[[b, a]]
                order[c, fi] = perm
    vi, fi_ = np.meshgrid(np.arange(v), np.arange(f), indexing="ij")
    points = obs[vi[..., None], fi_[..., None], order]
    slot_scores = scores[vi[..., None], fi_[..., None], order]
    identity = np.where((slot_scores > 0).any(-1), order, -1)
    truth = {
        names[i]: Poses3D(keypoints=KEYPOINTS, points=truth3d[i], fps=fps, metadata={"units": "mm", "seed": seed})
        for i in range(i_n)
    }
    return Herd(rig=rig, truth=truth, points=points, scores=slot_scores, identity=identity, true2d=true2d,
                keypoints=KEYPOINTS, fps=fps)  # fmt: skip


def write_herd_session(herd: Herd, folder, labels: tuple[str, ...] | None = None) -> dict:
    """Write a herd as a project session holds it: ``calibration.toml``, ``pose-2d/<camera>.h5`` and the truth.

    The 2D files are multi-animal DeepLabCut files whose individuals are the
    detection slots (labels ``labels``, default ``animal0, animal1...``, not
    the true identities: they are swapped as the herd's are); the truth is
    ``ground_truth.h5`` in the several-individual layout
    (:func:`mocap3d.io.individuals.load_individuals`). Returns the paths.
    """
    from pathlib import Path

    from ..io.calibration import save_calibration
    from ..io.individuals import save_individuals
    from ..io.pose2d import save_dlc
    from ..poses import Track2D

    folder = Path(folder)
    (folder / "pose-2d").mkdir(parents=True, exist_ok=True)
    n = herd.points.shape[2]
    labels = labels or tuple(f"animal{i}" for i in range(n))
    calib = save_calibration(herd.rig, folder / "calibration.toml", {"source": "mocap3d synthetic herd (true values)"},
                             units="mm")  # fmt: skip
    files = []
    for v, cam in enumerate(herd.rig.names):
        track = Track2D(points=herd.points[v], scores=herd.scores[v], keypoints=herd.keypoints, individuals=labels,
                        source=cam)  # fmt: skip
        files.append(save_dlc(track, folder / "pose-2d" / f"{cam}.h5"))
    [truth] = save_individuals(herd.truth, folder / "ground_truth.h5", fps=herd.fps, units="mm")
    return {"calibration": calib, "pose2d": files, "truth": truth}
