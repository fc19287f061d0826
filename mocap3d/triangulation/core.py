"""From aligned multi-view 2D poses to :class:`~mocap3d.poses.Poses3D`: the dispatcher.

Frame-by-frame methods (``dlt``, ``robust``) are :mod:`.frames`; the
spatiotemporal one (``optim``, started from ``robust``) is :mod:`.optim`.
Both depend only on lower modules, never on this one.
"""

from __future__ import annotations

from ..camera import CameraRig
from ..poses import Poses2D, Poses3D
from .config import TriangulationConfig
from .frames import triangulate_frames

__all__ = ["triangulate"]


def triangulate(poses2d: Poses2D, rig: CameraRig, config: TriangulationConfig | None = None) -> Poses3D:
    """Triangulate every frame and keypoint of ``poses2d``.

    Parameters
    ----------
    poses2d : Poses2D
        Views named like the rig's cameras; (views, frames, keypoints, 2) px.
    rig : CameraRig
        Calibration; cameras are matched by name (order does not matter).
    config : TriangulationConfig
        Method and thresholds (default: robust, score >= 0.3, 15 px, 2 cameras).

    Returns
    -------
    Poses3D
        Points in the calibration's units and frame; per point the mean
        reprojection error (px, in the distorted image when ``undistort``),
        number and identity of cameras used, and the smallest score of those cameras.

    Raises
    ------
    TriangulationError
        When fewer than two views are given, or no point has enough views
        above the score threshold.
    """
    config = config or TriangulationConfig()
    if config.method == "optim":
        from .optim import triangulate_optim  # scipy's banded solvers: loaded only for this method

        return triangulate_optim(poses2d, rig, config)
    return triangulate_frames(poses2d, rig, config)
