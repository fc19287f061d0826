"""Triangulation of multi-view 2D keypoints into 3D.

``triangulate(poses2d, rig, config)`` is the entry point; the numerical
building blocks (batched weighted DLT, robust subset selection) are pure
functions in :mod:`.dlt` and :mod:`.robust`.
"""

from .config import PRESETS, TriangulationConfig
from .core import triangulate
from .dlt import reproject, triangulate_dlt
from .robust import triangulate_robust

__all__ = ["triangulate", "TriangulationConfig", "PRESETS", "triangulate_dlt", "triangulate_robust", "reproject"]
