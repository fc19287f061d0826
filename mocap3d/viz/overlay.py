"""Reprojection overlays: 2D detections and reprojected 3D points on each camera's images.

For one camera and frame, :func:`draw_overlay` draws on the video frame (or
a blank frame of the camera's size)

* the **2D detections** as rings in each body part's colour, joined by the
  skeleton in thin coloured lines,
* the **reprojected 3D points** (through the full lens model) as white dots
  with a dark outline, joined by the skeleton in white,
* a red line from each detection to its reprojection where they differ by
  more than ``error_px``, so a camera or body part that went wrong stands out;

either on one image (``layout="overlay"``) or on two images side by side
(``layout="side_by_side"``: detections left, reprojections right).
:func:`write_overlay_video` does this for every frame of a camera's video.
:func:`reprojection_errors` gives the pixel distances (views, frames,
keypoints) and :func:`plot_reprojection_summary` a PNG of them per camera and
body part, and over time.

Colours are the viewer's (:func:`mocap3d.viewer.keypoint_colors`). Images are
OpenCV BGR uint8 arrays (height, width, 3).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..camera import CameraRig
from ..errors import MocapError
from ..io.atomic import atomic_path, save_figure
from ..poses import Poses2D, Poses3D

__all__ = [
    "OverlayConfig",
    "draw_overlay",
    "camera_overlay",
    "write_overlay_video",
    "reprojection_errors",
    "error_table",
    "plot_reprojection_summary",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OverlayConfig:
    """How overlays look (sizes in pixels)."""

    layout: str = "overlay"  # "overlay" or "side_by_side"
    radius: int = 6  # detection rings and reprojection dots
    thickness: int = 2
    error_px: float = 10.0  # draw the detection->reprojection line above this error
    score_threshold: float = 0.0  # detections with a lower score are not drawn
    blank_gray: int = 40  # background level when there is no video frame
    label: bool = True  # camera name and frame number in the corner
    crop_margin: int | None = None  # crop to the drawn points plus this margin (px); None: the whole frame
    cmap: str = "tab20"


def _colors_bgr(keypoints: Sequence[str], cmap: str) -> list[tuple[int, int, int]]:
    from ..viewer.scene import keypoint_colors

    rgb = (keypoint_colors(keypoints, cmap) * 255).round().astype(int)
    return [(int(c[2]), int(c[1]), int(c[0])) for c in rgb]


def _edge_index(keypoints: Sequence[str], edges: Sequence[tuple[str, str]] | None) -> np.ndarray:
    from ..viewer.scene import default_edges

    edges = default_edges(keypoints) if edges is None else edges
    index = {k: i for i, k in enumerate(keypoints)}
    bad = [e for e in edges if e[0] not in index or e[1] not in index]
    if bad:
        raise MocapError(f"overlay: skeleton segments {bad} name body parts that are not in the poses.")
    return np.array([(index[a], index[b]) for a, b in edges], dtype=np.int64).reshape(-1, 2)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _inside(p: np.ndarray, shape: tuple[int, ...]) -> bool:
    # OpenCV clips drawing, but coordinates far outside overflow its fixed-point maths
    return bool(np.isfinite(p).all() and -1e4 < p[0] < shape[1] + 1e4 and -1e4 < p[1] < shape[0] + 1e4)


def _draw_detections(img, det, ok, edges, colors, cfg) -> None:
    import cv2

    for a, b in edges:
        if ok[a] and ok[b] and _inside(det[a], img.shape) and _inside(det[b], img.shape):
            cv2.line(img, _pt(det[a]), _pt(det[b]), colors[b], 1, cv2.LINE_AA)
    for k in np.flatnonzero(ok):
        if _inside(det[k], img.shape):
            cv2.circle(img, _pt(det[k]), cfg.radius, colors[k], cfg.thickness, cv2.LINE_AA)


def _draw_reprojections(img, rep, ok, edges, cfg) -> None:
    import cv2

    for a, b in edges:
        if ok[a] and ok[b] and _inside(rep[a], img.shape) and _inside(rep[b], img.shape):
            cv2.line(img, _pt(rep[a]), _pt(rep[b]), (255, 255, 255), 1, cv2.LINE_AA)
    r = max(cfg.radius // 2, 2)
    for k in np.flatnonzero(ok):
        if _inside(rep[k], img.shape):
            cv2.circle(img, _pt(rep[k]), r + 1, (20, 20, 20), -1, cv2.LINE_AA)
            cv2.circle(img, _pt(rep[k]), r, (255, 255, 255), -1, cv2.LINE_AA)


def draw_overlay(
    image: np.ndarray | None,
    detections: np.ndarray,
    scores: np.ndarray,
    reprojections: np.ndarray,
    keypoints: Sequence[str],
    edges: Sequence[tuple[str, str]] | None = None,
    config: OverlayConfig | None = None,
    size: tuple[int, int] | None = None,
    label: str = "",
) -> np.ndarray:
    """Draw one camera's detections and reprojections for one frame.

    Parameters
    ----------
    image : BGR uint8 (H, W, 3) or None for a blank frame of ``size`` = (width, height).
    detections : (K, 2) pixels, NaN where missing.
    scores : (K,) detection scores (0 where missing).
    reprojections : (K, 2) pixels of the 3D points in this camera, NaN where not triangulated.

    Returns
    -------
    BGR uint8 image: (H, W, 3), or (H, 2W, 3) for ``layout="side_by_side"``
    (smaller when ``crop_margin`` is set).
    The input image is not modified.
    """
    import cv2

    cfg = config or OverlayConfig()
    if cfg.layout not in ("overlay", "side_by_side"):
        raise MocapError(f"overlay: layout '{cfg.layout}' is not 'overlay' or 'side_by_side'.")
    if image is None:
        if size is None:
            raise MocapError("overlay: give a video frame or the image size (width, height).")
        image = np.full((int(size[1]), int(size[0]), 3), cfg.blank_gray, np.uint8)
    base = np.ascontiguousarray(image, dtype=np.uint8).copy()
    det = np.asarray(detections, dtype=np.float64)
    rep = np.asarray(reprojections, dtype=np.float64)
    det_ok = np.isfinite(det).all(-1) & (np.asarray(scores) > cfg.score_threshold)
    rep_ok = np.isfinite(rep).all(-1)
    edge_idx = _edge_index(keypoints, edges)
    colors = _colors_bgr(keypoints, cfg.cmap)
    if cfg.layout == "overlay":
        out = base
        both = det_ok & rep_ok
        err = np.linalg.norm(det - rep, axis=-1)
        for k in np.flatnonzero(both & (err > cfg.error_px)):
            if _inside(det[k], out.shape) and _inside(rep[k], out.shape):
                cv2.line(out, _pt(det[k]), _pt(rep[k]), (0, 0, 255), 1, cv2.LINE_AA)
        _draw_detections(out, det, det_ok, edge_idx, colors, cfg)
        _draw_reprojections(out, rep, rep_ok, edge_idx, cfg)
        panels = [out]
    else:
        left, right = base, base.copy()
        _draw_detections(left, det, det_ok, edge_idx, colors, cfg)
        _draw_reprojections(right, rep, rep_ok, edge_idx, cfg)
        panels = [left, right]
    if cfg.crop_margin is not None:
        pts = np.concatenate([det[det_ok], rep[rep_ok]])
        h, w = base.shape[:2]
        pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
        if len(pts):
            m = cfg.crop_margin
            x0, y0 = (np.floor(pts.min(0)) - m).astype(int).clip(0)
            x1, y1 = (np.ceil(pts.max(0)) + m + 1).astype(int)
            panels = [p[y0: min(y1, h), x0: min(x1, w)].copy() for p in panels]
    if cfg.label:
        texts = [f"{label} detections + reprojections"] if len(panels) == 1 else [f"{label} 2D detections",
                                                                                 f"{label} reprojected 3D"]
        for img, text in zip(panels, texts, strict=True):
            (tw, th), base_line = cv2.getTextSize(text.strip(), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
            cv2.rectangle(img, (4, 4), (12 + tw, 12 + th + base_line), (0, 0, 0), -1)
            cv2.putText(img, text.strip(), (8, 8 + th), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate(panels, axis=1)


def _check_match(poses2d: Poses2D, poses3d: Poses3D, rig: CameraRig) -> tuple[np.ndarray, np.ndarray]:
    """Indices mapping poses3d keypoints onto poses2d's and poses2d views onto the rig's."""
    missing = [k for k in poses3d.keypoints if k not in poses2d.keypoints]
    if missing:
        raise MocapError(f"overlay: 3D body parts {missing} are not in the 2D poses.")
    if poses2d.n_frames != poses3d.n_frames:
        raise MocapError(
            f"overlay: the 2D poses have {poses2d.n_frames} frames and the 3D poses {poses3d.n_frames}; "
            "they must come from the same recording."
        )
    kidx = np.array([poses2d.keypoints.index(k) for k in poses3d.keypoints])
    vidx = np.array([rig.index(v) for v in poses2d.views])
    return kidx, vidx


def reprojection_errors(poses2d: Poses2D, poses3d: Poses3D, rig: CameraRig) -> np.ndarray:
    """Pixel distance between each 2D detection and its reprojected 3D point.

    Returns
    -------
    array (views, frames, keypoints) in the order of ``poses2d.views`` and
    ``poses3d.keypoints``; NaN where the detection or the 3D point is missing.
    """
    kidx, vidx = _check_match(poses2d, poses3d, rig)
    proj = rig.select([rig.names[i] for i in vidx]).project(poses3d.points)  # (V, F, K, 2)
    det = poses2d.points[:, :, kidx]
    return np.linalg.norm(det - proj, axis=-1)


def error_table(errors: np.ndarray, views: Sequence[str], keypoints: Sequence[str]) -> pd.DataFrame:
    """Median reprojection error (px) per camera (rows) and body part (columns), plus ``all``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells stay NaN
        med = np.nanmedian(errors, axis=1)  # (V, K)
        per_cam = np.nanmedian(errors.reshape(errors.shape[0], -1), axis=1)
    table = pd.DataFrame(med, index=list(views), columns=list(keypoints))
    table["all"] = per_cam
    table.index.name = "camera"
    return table


def camera_overlay(
    poses2d: Poses2D, poses3d: Poses3D, rig: CameraRig, camera: str, frame: int,
    image: np.ndarray | None = None, edges: Sequence[tuple[str, str]] | None = None,
    config: OverlayConfig | None = None,
) -> np.ndarray:
    """Overlay of one camera and frame (blank background when ``image`` is None)."""
    kidx, _ = _check_match(poses2d, poses3d, rig)
    if camera not in poses2d.views:
        raise MocapError(f"overlay: camera '{camera}' has no 2D poses (views: {', '.join(poses2d.views)}).")
    if not 0 <= frame < poses3d.n_frames:
        raise MocapError(f"overlay: frame {frame} is outside the recording (0..{poses3d.n_frames - 1}).")
    v = poses2d.views.index(camera)
    cam = rig.select([camera])
    rep = cam.project(poses3d.points[frame])[0]
    return draw_overlay(
        image, poses2d.points[v, frame, kidx], poses2d.scores[v, frame, kidx], rep, poses3d.keypoints, edges,
        config, size=(int(cam.sizes[0, 0]), int(cam.sizes[0, 1])), label=f"{camera} frame {frame}",
    )


def write_overlay_video(
    poses2d: Poses2D, poses3d: Poses3D, rig: CameraRig, camera: str, out: str | Path,
    video: str | Path | None = None, frames: Sequence[int] | None = None,
    edges: Sequence[tuple[str, str]] | None = None, config: OverlayConfig | None = None, fps: float | None = None,
) -> Path:
    """Write an MP4 of a camera's overlays (over ``video``'s frames, or blank frames), atomically."""
    import cv2
    from tqdm import tqdm

    out = Path(out)
    frames = list(range(poses3d.n_frames) if frames is None else frames)
    rate = float(fps or poses3d.fps or poses2d.fps or 30.0)
    cap = None
    if video is not None:
        cap = cv2.VideoCapture(str(video))
        if not cap.isOpened():
            raise MocapError(f"overlay: cannot open video '{video}' (missing file or unsupported codec).")
    writer = None
    try:
        with atomic_path(out) as tmp:
            next_frame = 0
            for f in tqdm(frames, desc=f"overlay {camera}", unit="frame", disable=None):
                image = None
                if cap is not None:
                    if f != next_frame:
                        cap.set(cv2.CAP_PROP_POS_FRAMES, f)
                    ok, image = cap.read()
                    next_frame = f + 1
                    if not ok:
                        raise MocapError(f"overlay: video '{video}' ends before frame {f}.")
                img = camera_overlay(poses2d, poses3d, rig, camera, f, image=image, edges=edges, config=config)
                if writer is None:
                    h, w = img.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), rate, (w, h))
                    if not writer.isOpened():
                        raise MocapError(f"overlay: cannot write the movie '{out}' (is the folder writable?).")
                writer.write(img)
            if writer is not None:
                writer.release()
                writer = None
    finally:
        if writer is not None:
            writer.release()
        if cap is not None:
            cap.release()
    return out


def plot_reprojection_summary(
    errors: np.ndarray, views: Sequence[str], keypoints: Sequence[str], path: str | Path,
    fps: float | None = None, max_error: float | None = None,
) -> Path:
    """PNG: median error per camera and body part (heat map), and each camera's error over time.

    errors : (views, frames, keypoints) pixels, as from :func:`reprojection_errors`.
    max_error : top of the colour scale (px); default five times the median error.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    table = error_table(errors, views, keypoints)
    v, f, k = errors.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_frame = np.nanmedian(errors, axis=2)  # (V, F)
        per_part_time = np.nanmedian(errors, axis=0)  # (F, K)
    if max_error is not None:
        vmax = float(max_error)
    else:
        # a few times the typical error: differences between cameras show, outliers saturate
        vmax = max(5.0 * float(np.nanmedian(errors)), 1.0) if np.isfinite(errors).any() else 1.0
    t = np.arange(f) / fps if fps else np.arange(f)
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), gridspec_kw={"height_ratios": [max(v, 2), 2.2, max(k, 4) / 2]})
    ax = axes[0]
    im = ax.imshow(table[list(keypoints)].to_numpy(), aspect="auto", cmap="magma", vmin=0, vmax=vmax)
    ax.set_yticks(range(v), [f"{n} ({table.loc[n, 'all']:.1f})" for n in views], fontsize=8)
    ax.set_xticks(range(k), list(keypoints), rotation=60, ha="right", fontsize=7)
    ax.set_title("median reprojection error (px) per camera and body part", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax = axes[1]
    for i, name in enumerate(views):
        ax.plot(t, per_frame[i], lw=0.9, label=name)
    ax.set_ylabel("median error (px)")
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_ylim(0, vmax * 1.5)
    ax.legend(fontsize=7, ncol=min(v, 6))
    ax = axes[2]
    im = ax.imshow(per_part_time.T, aspect="auto", cmap="magma", vmin=0, vmax=vmax, interpolation="nearest",
                   extent=(t[0], t[-1] if f > 1 else 1, k - 0.5, -0.5))
    ax.set_yticks(range(k), list(keypoints), fontsize=6)
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_title("median over cameras, per body part over time", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=80)
    return path


def write_overlay_image(poses2d: Poses2D, poses3d: Poses3D, rig: CameraRig, camera: str, out: str | Path,
                        frame: int = 0, video: str | Path | None = None,
                        config: OverlayConfig | None = None) -> Path:  # fmt: skip
    """One frame's overlay as an image file (``.png``/``.jpg``), on that frame of ``video`` when given."""
    import cv2

    image = None
    if video is not None:
        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = cap.read()
        cap.release()
        if not ok:
            raise MocapError(f"cannot read frame {frame} of '{video}'.")
    img = camera_overlay(poses2d, poses3d, rig, camera, frame, image=image, config=config)
    out = Path(out)
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), img):
            raise MocapError(f"cannot write '{out}'; use a .png or .jpg name in a writable folder.")
    return out


def write_reprojection_summary(poses2d: Poses2D, poses3d: Poses3D, rig: CameraRig, path: str | Path) -> pd.DataFrame:
    """The reprojection-error plot at ``path`` and its table beside it (``.csv``); returns the table."""
    path = Path(path)
    err = reprojection_errors(poses2d, poses3d, rig)
    plot_reprojection_summary(err, poses2d.views, poses3d.keypoints, path, fps=poses3d.fps)
    table = error_table(err, poses2d.views, poses3d.keypoints)
    with atomic_path(path.with_suffix(".csv")) as tmp:
        table.to_csv(tmp)
    return table
