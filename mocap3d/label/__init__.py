"""Labelling tool: a local web app for DeepLabCut label files, multi-view aware (``mocap3d label``).

* :mod:`.session` — the project's label files, frames and edits (revisions, atomic saves).
* :mod:`.geometry` — epipolar curves under lens distortion, triangulated proposals, disagreement.
* :mod:`.server` — the standard-library HTTP server and its JSON API; the page is in ``static/``.
* :mod:`.sample` — a small project of the sample walker with known answers.
"""

from .geometry import GeometryConfig, epipolar_curves, propose
from .server import make_server, start_in_thread
from .session import LabelConflict, LabelSession, LabelToolConfig

__all__ = [
    "GeometryConfig",
    "LabelConflict",
    "LabelSession",
    "LabelToolConfig",
    "epipolar_curves",
    "make_server",
    "propose",
    "start_in_thread",
]
