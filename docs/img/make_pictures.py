"""Regenerate the README pictures of the viewer, an overlay frame and the gait plots.

Run from the repository root (headless is fine)::

    VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow python docs/img/make_pictures.py

It triangulates the sample rig (4 cameras, 1.5 px noise, 10% outliers,
occlusions), then writes ``viewer.png``, ``overlay.png``,
``reprojection_errors.png`` and ``gait.png`` next to this file.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import cv2  # noqa: E402

from mocap3d.analysis.gait import analyze_gait, plot_gait  # noqa: E402
from mocap3d.sample import make_sample  # noqa: E402
from mocap3d.triangulation import TriangulationConfig, triangulate  # noqa: E402
from mocap3d.viewer import ViewerConfig, render_png  # noqa: E402
from mocap3d.viz.overlay import OverlayConfig, camera_overlay, plot_reprojection_summary, reprojection_errors  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    s = make_sample(n_frames=300, seed=0)
    poses = triangulate(s.poses2d, s.rig, TriangulationConfig())
    render_png(poses, HERE / "viewer.png", frame=150, rig=s.rig, edges=s.edges,
               config=ViewerConfig(window_size=(800, 450), trail_frames=40))
    img = camera_overlay(s.poses2d, poses, s.rig, "cam2", 150, edges=s.edges,
                         config=OverlayConfig(layout="side_by_side", crop_margin=40))
    cv2.imwrite(str(HERE / "overlay.png"), img)
    err = reprojection_errors(s.poses2d, poses, s.rig)
    plot_reprojection_summary(err, s.poses2d.views, poses.keypoints, HERE / "reprojection_errors.png", fps=s.fps)
    plot_gait(analyze_gait(poses), HERE / "gait.png")


if __name__ == "__main__":
    main()
