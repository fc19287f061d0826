"""Reprojection overlays: 2D detections and reprojected 3D points on each camera's images.

For one camera and frame, :func:`draw_overlay` draws on the video frame (or
a blank frame of the camera's size)

* the **2D detections** as rings in each body part's colour, joined by the
  skeleton in thin coloured lines,
* the **reprojected 3D points** (through the full lens model) as white dots
  with a dark outline, joined by the skeleton in white,
* a line from each detection to its reprojection, coloured by their distance
  (green, yellow at ``error_px / 2``, red from ``error_px`` on), so a camera
  or body part that went wrong stands out, and a key to these marks;

either on one image (``layout="overlay"``) or on two images side by side
(``layout="side_by_side"``: detections left, reprojections right).
:func:`write_overlay_video` does this for every frame of a camera's video
(H.264, optionally cropped to the subject).
:func:`reprojection_errors` gives the pixel distances (views, frames,
keypoints) and :func:`plot_reprojection_summary` a PNG of them per camera and
body part (90th percentile and the fraction above a threshold, which a median
would hide), and over time.

Colours are the viewer's (:func:`mocap3d.viewer.keypoint_colors`). Images are
OpenCV BGR uint8 arrays (height, width, 3).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    error_px: float = 10.0  # detection->reprojection lines: green at 0, yellow at half this error, red from it on
    score_threshold: float = 0.0  # detections with a lower score are not drawn
    blank_gray: int = 40  # background level when there is no video frame
    label: bool = True  # camera name and frame number in the corner
    crop_margin: int | None = None  # crop to the drawn points plus this margin (px); None: the whole frame
    cmap: str = "tab20"
    legend: bool = True  # what the rings, dots and lines mean, in the lower left corner


def error_color_bgr(err: float, error_px: float) -> tuple[int, int, int]:
    """Green (0 px) through yellow (``error_px / 2``) to red (``error_px`` and more), BGR."""
    u = float(np.clip(err / max(error_px, 1e-9), 0.0, 1.0))
    if u < 0.5:
        return 0, 200, int(round(510 * u))
    return 0, int(round(200 * (2 - 2 * u))), 255


def _draw_legend(img: np.ndarray, cfg: OverlayConfig) -> None:
    """A small key in the lower left corner: ring = 2D detection, dot = reprojected 3D point, line colours."""
    import cv2

    font, fs = cv2.FONT_HERSHEY_SIMPLEX, 0.42
    rows = ["2D detection (colour: body part)", "reprojected 3D point",
            f"detection-reprojection: 0 / {cfg.error_px / 2:g} / >= {cfg.error_px:g} px"]  # fmt: skip
    th = 16
    w = 52 + max(cv2.getTextSize(r, font, fs, 1)[0][0] for r in rows)
    h = th * len(rows) + 8
    y0 = img.shape[0] - h - 4
    if y0 < 0 or w + 4 > img.shape[1]:
        return  # too small a picture for a key
    sub = img[y0 : y0 + h, 4 : 4 + w]
    sub[:] = (0.35 * sub).astype(np.uint8)
    for i, text in enumerate(rows):
        y = y0 + 6 + th * i + th // 2
        if i == 0:
            cv2.circle(img, (22, y), 5, (255, 200, 0), 2, cv2.LINE_AA)
        elif i == 1:
            cv2.circle(img, (22, y), 4, (255, 255, 255), -1, cv2.LINE_AA)
        else:
            for j, e in enumerate((0.0, cfg.error_px / 2, cfg.error_px)):
                cv2.line(img, (10 + 10 * j, y), (18 + 10 * j, y), error_color_bgr(e, cfg.error_px), 3)
        cv2.putText(img, text, (46, y + 5), font, fs, (255, 255, 255), 1, cv2.LINE_AA)


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
        for k in np.flatnonzero(both):
            if _inside(det[k], out.shape) and _inside(rep[k], out.shape):
                cv2.line(out, _pt(det[k]), _pt(rep[k]), error_color_bgr(float(err[k]), cfg.error_px), 2,
                         cv2.LINE_AA)
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
    if cfg.legend and cfg.layout == "overlay":
        _draw_legend(panels[0], cfg)
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
    """Write an H.264 MP4 (yuv420p, fast start: browsers play it) of a camera's overlays, over ``video``'s frames
    or blank frames, atomically. With ``crop_margin`` every frame is cropped to the same box: the one that holds
    the subject over the whole clip."""
    import cv2
    from tqdm import tqdm

    from ..io.video import h264_writer

    out = Path(out)
    frames = list(range(poses3d.n_frames) if frames is None else frames)
    rate = float(fps or poses3d.fps or poses2d.fps or 30.0)
    cap = None
    if video is not None:
        cap = cv2.VideoCapture(str(video))
        if not cap.isOpened():
            raise MocapError(f"overlay: cannot open video '{video}' (missing file or unsupported codec).")
    cfg = config or OverlayConfig()
    box = None
    if cfg.crop_margin is not None:  # one box for the clip: the video's size must not change
        kidx, _ = _check_match(poses2d, poses3d, rig)
        v = poses2d.views.index(camera) if camera in poses2d.views else None
        inside = [f for f in frames if 0 <= f < poses3d.n_frames]  # others are refused below, frame by frame
        pts = [rig.select([camera]).project(poses3d.points[inside])[0].reshape(-1, 2)]
        if v is not None:
            pts.append(poses2d.points[v][inside][:, kidx].reshape(-1, 2))
        xy = np.concatenate(pts)
        w, h = (int(x) for x in rig.select([camera]).sizes[0])
        xy = xy[np.isfinite(xy).all(1) & (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)]
        if len(xy):
            m = cfg.crop_margin
            x0, y0 = (np.floor(np.percentile(xy, 0.5, axis=0)) - m).astype(int).clip(0)
            x1, y1 = np.minimum((np.ceil(np.percentile(xy, 99.5, axis=0)) + m).astype(int), (w, h))
            x1, y1 = x0 + (x1 - x0) // 2 * 2, y0 + (y1 - y0) // 2 * 2  # even sizes for yuv420p
            box = (x0, y0, x1, y1)
        cfg = replace(cfg, crop_margin=None)
    write = None
    try:
        with contextlib.ExitStack() as stack:
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
                img = camera_overlay(poses2d, poses3d, rig, camera, f, image=image, edges=edges, config=cfg)
                if box is not None and cfg.layout == "overlay":
                    img = img[box[1]: box[3], box[0]: box[2]]
                if img.shape[0] % 2 or img.shape[1] % 2:
                    img = img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]
                if write is None:
                    h, w = img.shape[:2]
                    write = stack.enter_context(h264_writer(out, (w, h), rate))
                write(np.ascontiguousarray(img[..., ::-1]))
    finally:
        if cap is not None:
            cap.release()
    return out


def plot_reprojection_summary(
    errors: np.ndarray, views: Sequence[str], keypoints: Sequence[str], path: str | Path,
    fps: float | None = None, max_error: float | None = None, threshold: float = 10.0,
) -> Path:
    """PNG: per camera and body part, the 90th-percentile reprojection error and the fraction of detections
    farther than ``threshold`` px from their reprojection; and that fraction per camera over time.

    A median hides a 10 % share of wrong detections; the p90 and the fraction above the threshold show it.
    Cells without any data (a body part never detected by a camera, or never triangulated) are grey.

    errors : (views, frames, keypoints) pixels, as from :func:`reprojection_errors`.
    max_error : top of the p90 colour scale (px); default ``2 * threshold``.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    v, f, k = errors.shape
    finite = np.isfinite(errors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p90 = np.nanpercentile(errors, 90, axis=1)  # (V, K), NaN without data
        n = finite.sum(axis=1)
        over = np.where(n > 0, (np.nan_to_num(errors, nan=0.0) > threshold).sum(axis=1) / np.maximum(n, 1), np.nan)
        per_cam = np.nanpercentile(errors.reshape(v, -1), 90, axis=1)
        over_cam = (np.nan_to_num(errors, nan=0.0) > threshold).sum(axis=(1, 2)) / np.maximum(finite.sum((1, 2)), 1)
    vmax = float(max_error) if max_error is not None else 2.0 * threshold
    t = np.arange(f) / fps if fps else np.arange(f)
    fig, axes = plt.subplots(3, 1, figsize=(10, 10), gridspec_kw={"height_ratios": [max(v, 2), max(v, 2), 2.4]})
    grey = "0.8"
    for ax, data, cmap, top, title, label in (
        (axes[0], p90, "magma", vmax, "90th percentile of the reprojection error (px) per camera and body part",
         "p90 (px)"),
        (axes[1], 100 * over, "Reds", 100 * max(float(np.nanmax(over)) if np.isfinite(over).any() else 0.0, 0.1),
         f"share of detections more than {threshold:g} px from their reprojection (%)", "%"),
    ):  # fmt: skip
        cm = plt.get_cmap(cmap).with_extremes(bad=grey)
        im = ax.imshow(np.ma.masked_invalid(data), aspect="auto", cmap=cm, vmin=0, vmax=top, interpolation="nearest")
        ax.set_xticks(range(k), list(keypoints), rotation=60, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.03, label=label)
        ax.legend(handles=[Patch(color=grey, label="no data")], loc="upper right", bbox_to_anchor=(1.0, 1.22),
                  fontsize=7, frameon=False)
    axes[0].set_yticks(range(v), [f"{name} (p90 {per_cam[i]:.1f})" for i, name in enumerate(views)], fontsize=8)
    axes[1].set_yticks(range(v), [f"{name} ({100 * over_cam[i]:.1f} %)" for i, name in enumerate(views)],
                       fontsize=8)
    ax = axes[2]
    win = min(max(int(round((fps or 30) / 4)), 1), f)  # a quarter second (at most the recording)
    kernel = np.ones(win)
    for i, name in enumerate(views):
        bad = np.convolve((np.nan_to_num(errors[i], nan=0.0) > threshold).sum(1).astype(float), kernel, "same")
        cnt = np.convolve(finite[i].sum(1).astype(float), kernel, "same")
        with np.errstate(invalid="ignore", divide="ignore"):
            ax.plot(t, 100 * bad / cnt, lw=0.9, label=name)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"% over {threshold:g} px")
    ax.set_xlabel("time (s)" if fps else "frame (0-based)")
    ax.set_title(f"share of detections over {threshold:g} px per camera, over time (running over {win} frames; "
                 "gaps: no data)", fontsize=9)
    ax.legend(fontsize=7, ncol=min(v, 6))
    ax.grid(alpha=0.3)
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
