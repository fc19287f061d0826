"""Several individuals to 3D: association and tracking (:mod:`mocap3d.multi`), then each individual triangulated.

:func:`triangulate_individuals` is the library entry point (detections in,
``{individual: Poses3D}`` out); :func:`check_identities` is the guard the
single-individual path runs, so that files holding several unassociated
individuals are not triangulated into a blend.
"""

from __future__ import annotations

import logging

import numpy as np

from ..camera import CameraRig
from ..errors import MocapError, TriangulationError
from ..multi.association import AssociationConfig, Associator
from ..multi.detections import Detections
from ..multi.tracking import TrackingConfig, TrackingResult, track_individuals
from ..poses import Poses2D, Poses3D, Track2D
from .config import TriangulationConfig
from .core import triangulate

__all__ = ["triangulate_individuals", "check_identities", "summary_lines", "IdentityError"]

log = logging.getLogger(__name__)


class IdentityError(MocapError):
    """The 2D files hold several individuals whose labels do not agree between cameras."""


def triangulate_individuals(
    detections: Detections,
    rig: CameraRig,
    config: TriangulationConfig | None = None,
    association: AssociationConfig | None = None,
    tracking: TrackingConfig | None = None,
) -> tuple[dict[str, Poses3D], TrackingResult]:
    """Associate, track and triangulate every individual.

    Each individual's 2D (the detections the association gave it, per camera
    and frame) is triangulated with ``config`` exactly as a single individual
    would be (``dlt``, ``robust`` or ``optim``). Individuals with no point that
    two cameras agree on are left out (logged).

    Returns
    -------
    poses : dict individual name -> Poses3D, in the tracker's order
    result : the :class:`TrackingResult` (assignments, uncertain frames, time per frame)
    """
    config = config or TriangulationConfig()
    if association is None:
        association = AssociationConfig(score_threshold=config.score_threshold)
    result = track_individuals(detections, rig, association, tracking)
    out: dict[str, Poses3D] = {}
    for t, name in enumerate(result.names):
        pts, scs = detections.gather(result.assignment[t])
        p2d = Poses2D(views=detections.views, keypoints=detections.keypoints, points=pts, scores=scs,
                      fps=detections.fps, sources=detections.sources)  # fmt: skip
        try:
            poses = triangulate(p2d, rig, config)
        except TriangulationError as exc:
            log.warning("%s: not triangulated (%s)", name, exc)
            continue
        poses.metadata["individual"] = name
        poses.metadata["association"] = {
            "uncertain_frames": sorted({u["frame"] for u in result.uncertain if u["individual"] == name}),
            "ms_per_frame": 1e3 * result.seconds_per_frame,
        }
        out[name] = poses
    return out, result


def check_identities(
    tracks: dict[str, Track2D], rig: CameraRig, keypoints=None, max_frames: int = 60, min_agreement: float = 0.8
) -> None:
    """Raise :class:`IdentityError` when files with several individuals per camera disagree on who is who.

    On up to ``max_frames`` frames where two or more cameras hold two or more
    detections, the association groups the detections geometrically; the
    files' own labels are trusted when at least ``min_agreement`` of those
    groups carry one label in all their cameras (Pose2Sim's ``pose-associated``
    folders, identity-consistent multi-animal DeepLabCut/SLEAP files pass;
    raw OpenPose JSON, whose ``people`` order is arbitrary, does not).
    """
    if not any(t.points.shape[1] > 1 for t in tracks.values()):
        return
    det = Detections.from_tracks(tracks, keypoints=keypoints)
    counts = det.counts()
    multi = np.flatnonzero((counts >= 2).sum(0) >= 2)
    if not multi.size:
        return
    frames = multi[np.linspace(0, multi.size - 1, min(max_frames, multi.size)).astype(int)]
    assoc = Associator(rig.select(det.views))
    x, w = assoc.normalize(det.points[:, frames], det.scores[:, frames])
    agree = total = 0
    for i in range(frames.size):
        res = assoc.frame(x[:, i], w[:, i])
        for cluster in res.clusters:
            names = {det.labels[v][n] for v, n in enumerate(cluster) if n >= 0}
            total += 1
            agree += len(names) == 1
    if total and agree / total < min_agreement:
        most = int(counts.max())
        raise IdentityError(
            f"the 2D files hold up to {most} individuals per camera whose labels do not agree between cameras "
            f"(only {agree} of {total} cross-camera matches carry one label), so one --individual would mix them; "
            "pass --individuals all (or the number of individuals) to associate them across cameras."
        )


def summary_lines(poses: dict[str, Poses3D], result: TrackingResult, written) -> list[str]:
    """The CLI's report of a multi-individual run."""
    lines = []
    for name, p in poses.items():
        ok = np.isfinite(p.points).all(-1)
        med = float(np.nanmedian(p.error[ok])) if ok.any() else float("nan")
        lines.append(f"{name}: triangulated {ok.mean():.1%} of {p.n_frames} frames x {len(p.keypoints)} body parts, "
                     f"median reprojection error {med:.2f} px")  # fmt: skip
    frames = result.uncertain_frames()
    wall, cpu = 1e3 * result.seconds_per_frame, 1e3 * result.cpu_seconds_per_frame
    lines.append(f"association: {wall:.2f} ms per frame ({cpu:.2f} ms CPU); identity uncertain in "
                 f"{frames.size} frames{': ' + _ranges(frames) if frames.size else ''}")  # fmt: skip
    lines.append("wrote " + ", ".join(str(w) for w in written))
    return lines


def _ranges(frames: np.ndarray, most: int = 8) -> str:
    """``0-3, 7, 10-12`` (at most ``most`` runs, then "...")."""
    runs = []
    start = prev = int(frames[0])
    for fr in map(int, frames[1:]):
        if fr != prev + 1:
            runs.append((start, prev))
            start = fr
        prev = fr
    runs.append((start, prev))
    text = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:most])
    return text + (", ..." if len(runs) > most else "")
