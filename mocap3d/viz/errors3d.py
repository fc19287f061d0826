"""3D error against a reference, per body part, as distributions (not bars of medians).

:func:`plot_error_per_keypoint` draws, for each body part, a box (quartiles,
whiskers at the 5th and 95th percentiles) with every point beyond the whiskers
as a dot, so that a few wrong frames are seen as the streak they are; under
each body part the share of frames that have a 3D position ("% triangulated")
and the number of outliers (error above ``outlier``) are printed. Several
results (e.g. before and after filtering) sit side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..io.atomic import save_figure

__all__ = ["plot_error_per_keypoint", "error_summary"]


def error_summary(err: np.ndarray, outlier: float) -> dict[str, np.ndarray]:
    """Per body part of ``err`` (frames, keypoints): median, p90, p99, share triangulated, outlier count."""
    import warnings

    finite = np.isfinite(err)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanpercentile(err, [50, 90, 99], axis=0)
    return {"median": q[0], "p90": q[1], "p99": q[2], "triangulated": finite.mean(0),
            "outliers": (np.nan_to_num(err, nan=0.0) > outlier).sum(0)}


def plot_error_per_keypoint(errors: Mapping[str, np.ndarray], keypoints: Sequence[str], path: str | Path,
                            outlier: float = 15.0, units: str = "mm", title: str = "") -> Path:
    """PNG of ``errors`` (name -> (frames, keypoints) distances, NaN where missing) per body part.

    ``outlier``: the error above which a point counts as an outlier (a dashed line and the counts under the
    axis).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    k = len(keypoints)
    n = max(len(errors), 1)
    fig, ax = plt.subplots(figsize=(max(9.0, 0.36 * k * n + 2), 5.2), dpi=100)
    width = 0.8 / n
    colours = plt.get_cmap("tab10")
    rng = np.random.default_rng(0)
    lo = np.inf
    for i, (name, err) in enumerate(errors.items()):
        err = np.asarray(err, float)
        pos = np.arange(k) + (i - (n - 1) / 2) * width
        data = [col[np.isfinite(col)] for col in err.T]
        keep = [d if d.size else np.array([np.nan]) for d in data]
        bp = ax.boxplot(keep, positions=pos, widths=width * 0.8, whis=(5, 95), showfliers=False,
                        patch_artist=True, manage_ticks=False)  # fmt: skip
        for box in bp["boxes"]:
            box.set(facecolor=colours(i), alpha=0.45, edgecolor=colours(i))
        for med in bp["medians"]:
            med.set(color="k", lw=1.2)
        for j, d in enumerate(data):
            if not d.size:
                continue
            lo = min(lo, float(np.percentile(d, 1)))
            hi = np.percentile(d, 95)
            far = d[d > hi]
            ax.scatter(pos[j] + rng.uniform(-0.25, 0.25, far.size) * width, far, s=3, color=colours(i), alpha=0.6,
                       lw=0)
        s = error_summary(err, outlier)
        ax.plot([], [], "s", color=colours(i), alpha=0.6,
                label=f"{name}: median {np.nanmedian(err):.2f} {units}, p99 "
                      f"{np.nanpercentile(err, 99) if np.isfinite(err).any() else np.nan:.1f} {units}, "
                      f"{np.isfinite(err).mean():.1%} triangulated, {int(s['outliers'].sum())} outliers")  # fmt: skip
        for j in range(k):
            ax.annotate(f"{100 * s['triangulated'][j]:.0f}%\n{int(s['outliers'][j])}", (pos[j], 0),
                        xycoords=("data", "axes fraction"), xytext=(0, -4), textcoords="offset points",
                        ha="center", va="top", fontsize=6, color=colours(i))  # fmt: skip
    ax.axhline(outlier, color="tab:red", ls="--", lw=0.8, label=f"outlier threshold {outlier:g} {units}")
    ax.set_yscale("log")
    if np.isfinite(lo):
        ax.set_ylim(bottom=max(lo * 0.7, 1e-3))
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels(list(keypoints), rotation=60, ha="right", fontsize=8)
    ax.tick_params(axis="x", pad=26)
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_ylabel(f"3D error ({units}), log scale\nbox: quartiles, whiskers: 5-95 %, dots: beyond")
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "3D error per body part (numbers under each: % of frames triangulated / outliers)",
                 fontsize=10)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, format="png")
    return path
