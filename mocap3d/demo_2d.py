"""``mocap3d demo --from-2d``: the sample rig from generated 2D files to 3D, checked against its truth."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import MocapError
from .io.atomic import atomic_path, save_figure
from .sample import make_sample, write_sample
from .triangulation import TriangulationConfig
from .triangulation.triangulate_stage import triangulate_files

__all__ = ["run_demo_2d", "load_sample_parameters"]

log = logging.getLogger(__name__)


def load_sample_parameters(path: str | Path | None) -> dict:
    """The ``[sample]`` table of a sample-rig TOML file (empty: the built-in defaults)."""
    if path is None:
        return {}
    from .io.settings import read_toml

    data = read_toml(Path(path), "sample rig file", MocapError)
    params = data.get("sample", {})
    if not isinstance(params, dict):
        raise MocapError(f"{path}: [sample] must be a table ([sample] on its own line, then key = value lines).")
    params = dict(params)
    known = {"n_frames", "n_cameras", "seed", "noise_px", "outlier_fraction", "occlusion", "fps", "size"}
    unknown = set(params) - known
    if unknown:
        raise MocapError(f"{path}: unknown [sample] keys {sorted(unknown)}; known: {sorted(known)}.")
    if "size" in params:
        params["size"] = tuple(int(v) for v in params["size"])
    return params


def _error_plot(path: Path, keypoints, errors: dict[str, np.ndarray]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=110)
    width = 0.8 / len(errors)
    x = np.arange(len(keypoints))
    for i, (name, err) in enumerate(errors.items()):
        med = np.nanmedian(err, axis=0)
        p90 = np.nanpercentile(err, 90, axis=0)
        ax.bar(x + i * width, med, width, label=f"{name} median")
        ax.errorbar(x + i * width, med, yerr=[np.zeros_like(med), p90 - med], fmt="none", ecolor="k", lw=0.8)
    ax.set_xticks(x + width * (len(errors) - 1) / 2, keypoints, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("3D error vs truth (mm)\nbar: median, line: 90th pct")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Sample rig: triangulation error per body part")
    fig.tight_layout()
    save_figure(fig, path, format="png")
    return path


def _skeleton_picture(path: Path, poses, sample) -> Path:
    """The reconstruction at mid-recording, rendered offscreen with the cameras and trails."""
    import os

    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from .viewer import ViewerConfig, render_png

    render_png(poses, path, frame=poses.n_frames // 2, rig=sample.rig, edges=sample.edges,
               config=ViewerConfig(window_size=(800, 450), trail_frames=40))  # fmt: skip
    return path


def run_demo_2d(out: str | Path, rig_file: str | Path | None = None, fmt: str = "dlc") -> list[str]:
    """Write the sample rig to ``out``, triangulate it with DLT and the robust mode, report errors.

    Returns the report lines (also written to ``out/report.txt``).
    """
    out = Path(out)
    params = load_sample_parameters(rig_file)
    sample = make_sample(**params)
    files = write_sample(sample, out, fmt=fmt)
    lines = [
        f"sample rig: {sample.rig.n_cameras} cameras, {sample.truth.n_frames} frames, "
        f"{len(sample.truth.keypoints)} body parts -> {out}",
    ]
    errors = {}
    for method in ("dlt", "robust"):
        config = TriangulationConfig(method=method)
        target = out / f"pose3d_{method}.csv"
        poses, summary = triangulate_files(
            files["calibration"], files["pose2d"], target, config, units="mm", fps=sample.fps
        )
        err = np.linalg.norm(poses.points - sample.truth.points, axis=-1)
        errors[method] = err
        lines.append(
            f"{method:>6}: {summary.triangulated:.1%} triangulated, 3D error median {np.nanmedian(err):.2f} mm, "
            f"90th pct {np.nanpercentile(err, 90):.2f} mm, max {np.nanmax(err):.0f} mm -> {target.name}"
        )
    poses, _ = triangulate_files(files["calibration"], files["pose2d"], out / "pose3d.h5", units="mm", fps=sample.fps)
    triangulate_files(files["calibration"], files["pose2d"], out / "pose3d.trc", fps=sample.fps, units="mm")
    plot = _error_plot(out / "triangulation_error.png", sample.truth.keypoints, errors)
    picture = _skeleton_picture(out / "skeleton.png", poses, sample)
    lines.append(
        f"also wrote pose3d.h5 (with calibration), pose3d.trc (OpenSim, Y-up), {plot.name} and {picture.name}; "
        f"look at it in 3D with: mocap3d view {out / 'pose3d.h5'} -c {files['calibration']}"
    )
    with atomic_path(out / "report.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return lines
