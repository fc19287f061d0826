"""Alias of :mod:`mocap3d.sync.offsets` (synchronisation has its own room now, ``mocap3d/sync/``)."""

from ..sync.offsets import *  # noqa: F403
from ..sync.offsets import __all__ as __all__  # noqa: F401
