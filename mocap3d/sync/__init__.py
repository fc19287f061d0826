"""Camera synchronisation: frame offsets between cameras without a shared trigger.

:mod:`.offsets` estimates, applies, saves and loads them; :mod:`.sync_stage` is the
``sync`` stage (``mocap3d sync`` and the project pipeline both call its ``run``).
"""

from .offsets import (
    METHODS,
    SyncConfig,
    SyncResult,
    apply_offsets,
    epipolar_offsets,
    estimate_offsets,
    flash_offsets,
    keypoint_offsets,
    load_offsets,
    save_offsets,
)

__all__ = ["METHODS", "SyncConfig", "SyncResult", "apply_offsets", "epipolar_offsets", "estimate_offsets",
           "flash_offsets", "keypoint_offsets", "load_offsets", "save_offsets"]
