"""A still of a 3D reconstruction that a reader can measure: the whole rig, then the subject framed, with scales.

:func:`plot_skeleton_views` draws one frame in two orthographic views:

* from above: every camera's view pyramid (from the calibration), the floor
  path of the subject's body parts over the recording, the subject at the
  frame, and a scale bar, so the rig and where the subject walked are seen at once;
* from the side (looking along the floor's second axis), framed on the subject:
  the skeleton at the frame, the trails of the last ``trail`` frames (broken
  where a point is missing), the floor line and a scale bar.

Orthographic views keep lengths true on the page, so the scale bars hold everywhere in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..camera import CameraRig
from ..io.atomic import save_figure
from ..poses import Poses3D

__all__ = ["plot_skeleton_views"]


def _nice(length: float) -> float:
    exp = 10 ** np.floor(np.log10(max(length, 1e-12)))
    return float(max(m * exp for m in (1, 2, 5, 10) if m * exp <= max(length, exp)))


def _scale_bar(ax, x0: float, y0: float, length: float, units: str) -> None:
    ax.plot([x0, x0 + length], [y0, y0], color="k", lw=3, solid_capstyle="butt")
    ax.text(x0 + length / 2, y0, f"{length:g} {units}\n", ha="center", va="bottom", fontsize=8)


def plot_skeleton_views(poses: Poses3D, path: str | Path, frame: int, rig: CameraRig | None = None,
                        edges: Sequence[tuple[str, str]] = (), units: str = "mm", trail: int = 30,
                        truth: Poses3D | None = None) -> Path:
    """PNG of ``poses`` at ``frame`` (0-based) from above (rig and path) and from the side (the subject).

    ``truth``: a reference drawn in grey under the reconstruction (the demo's ground truth).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..calibration.report import view_pyramid
    from ..viewer.scene import keypoint_colors

    pts = np.asarray(poses.points, float)
    idx = {k: i for i, k in enumerate(poses.keypoints)}
    pairs = [(idx[a], idx[b]) for a, b in edges if a in idx and b in idx]
    colours = keypoint_colors(poses.keypoints, "tab20")
    now = pts[frame]
    fig, (top, side) = plt.subplots(1, 2, figsize=(13, 5.6), dpi=100, gridspec_kw={"width_ratios": [1, 1.15]})

    # ---- from above: the rig and the subject's path
    finite = pts[np.isfinite(pts).all(-1)]
    extent = [finite[:, :2]] if finite.size else []
    if rig is not None:
        span = np.ptp(np.vstack([rig.centers()[:, :2], *extent]), axis=0).max() if extent else 1.0
        for i, name in enumerate(rig.names):
            pyr = view_pyramid(rig, i, 0.18 * span)
            for a, b in ((0, 1), (0, 2), (0, 3), (0, 4), (1, 2), (2, 3), (3, 4), (4, 1)):
                top.plot(*pyr[[a, b], :2].T, color="0.35", lw=0.8)
            top.text(*pyr[0, :2], f" {name}", fontsize=8, color="0.2")
            extent.append(pyr[:, :2])
    centre = np.nanmean(pts, axis=1)  # (frames, 3): the subject's centre over time
    top.plot(centre[:, 0], centre[:, 1], color="tab:blue", lw=1, label="path of the body's centre")
    for a, b in pairs:
        top.plot(now[[a, b], 0], now[[a, b], 1], color="k", lw=1.2)
    top.set_aspect("equal")
    if extent:
        allxy = np.vstack(extent)
        lo, hi = np.nanmin(allxy, 0), np.nanmax(allxy, 0)
        pad = 0.08 * np.max(hi - lo)
        top.set_xlim(lo[0] - pad, hi[0] + pad)
        top.set_ylim(lo[1] - pad, hi[1] + pad)
        bar = _nice(0.25 * np.max(hi - lo))
        _scale_bar(top, (lo[0] + hi[0] - bar) / 2, lo[1] - 0.5 * pad, bar, units)
    top.set_title("from above: every camera (view pyramids) and the subject's path", fontsize=9)
    top.set_xlabel(f"x ({units})")
    top.set_ylabel(f"y ({units})")
    top.legend(fontsize=7, loc="upper right")

    # ---- from the side, framed on the subject
    seg = pts[max(frame - trail, 0): frame + 1]
    if truth is not None:
        ref = np.asarray(truth.points, float)[frame]
        for n, (a, b) in enumerate(pairs):
            side.plot(ref[[a, b], 0], ref[[a, b], 2], color="0.6", lw=5, alpha=0.5, solid_capstyle="round",
                      label="truth" if n == 0 else None)
    for k in range(pts.shape[1]):
        side.plot(seg[:, k, 0], seg[:, k, 2], color=colours[k], lw=1, alpha=0.7)  # NaN breaks the line
    for a, b in pairs:
        side.plot(now[[a, b], 0], now[[a, b], 2], color="k", lw=1.5)
    ok = np.isfinite(now).all(-1)
    side.scatter(now[ok, 0], now[ok, 2], c=colours[ok], s=28, edgecolors="k", linewidths=0.5, zorder=3)
    box = np.vstack([now[ok], seg[np.isfinite(seg).all(-1)]]) if ok.any() else finite
    if box.size:
        lo, hi = box.min(0), box.max(0)
        size = float(max(hi[0] - lo[0], hi[2] - min(lo[2], 0.0), 1e-9))
        pad = 0.12 * size
        side.set_xlim(lo[0] - pad, lo[0] + size + pad)
        side.set_ylim(min(lo[2], 0.0) - pad, min(lo[2], 0.0) + size + pad)
        side.axhline(0.0, color="0.5", lw=1)
        bar = _nice(0.3 * size)
        _scale_bar(side, lo[0] + size + pad - bar - 0.3 * pad, min(lo[2], 0.0) - 0.6 * pad, bar, units)
    side.set_aspect("equal")
    t = f", {frame / poses.fps:.2f} s" if poses.fps else ""
    side.set_title(f"from the side, frame {frame} (0-{poses.n_frames - 1}){t}: the subject with its last "
                   f"{trail} frames (gaps break the trails)", fontsize=9)
    side.set_xlabel(f"x ({units})")
    side.set_ylabel(f"z, up ({units})")
    if truth is not None:
        side.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, format="png")
    return path
