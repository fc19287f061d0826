"""3D viewer: the skeleton over time, cameras and floor, on screen or offscreen (PNG/MP4)."""

from .scene import (
    SkeletonScene,
    ViewerConfig,
    default_edges,
    individual_colors,
    keypoint_colors,
    render_movie,
    render_png,
)

__all__ = ["SkeletonScene", "ViewerConfig", "default_edges", "keypoint_colors", "individual_colors", "render_png",
           "render_movie"]
