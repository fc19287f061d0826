"""mocap3d: markerless 3D motion capture from several cameras.

Importing the package is cheap (the command line's start-up depends on it):
``CameraRig`` and ``MocapError`` are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["CameraRig", "MocapError", "__version__"]

if TYPE_CHECKING:
    from .camera import CameraRig
    from .errors import MocapError


def __getattr__(name: str) -> Any:
    if name == "CameraRig":
        from .camera import CameraRig

        return CameraRig
    if name == "MocapError":
        from .errors import MocapError

        return MocapError
    raise AttributeError(f"module 'mocap3d' has no attribute {name!r}")
