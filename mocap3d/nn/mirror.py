"""Mirror views for the 2D networks: the layout and geometry live in :mod:`mocap3d.mirror` (re-exported here)."""

from ..mirror import (
    FLIPS,
    MirrorError,
    MirrorLayout,
    MirrorView,
    load_layout,
    split_video,
    view_camera,
    view_video_name,
)

__all__ = ["FLIPS", "MirrorError", "MirrorLayout", "MirrorView", "load_layout", "split_video", "view_camera",
           "view_video_name"]  # fmt: skip
