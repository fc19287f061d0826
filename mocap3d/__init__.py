"""mocap3d: markerless 3D motion capture from several cameras."""

from .camera import CameraRig
from .errors import MocapError

__version__ = "0.1.0"
__all__ = ["CameraRig", "MocapError", "__version__"]
