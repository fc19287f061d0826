"""User-facing errors.

Everything raised as :class:`MocapError` is a problem with the user's input or
environment, worded so that the message alone says what is wrong and how to
fix it. The CLI turns these into a one-paragraph message and a non-zero exit
code; anything else escaping to the CLI is a bug in mocap3d.
"""

from __future__ import annotations


class MocapError(Exception):
    """Bad input or configuration, explained for the user."""


class CalibrationError(MocapError):
    """A calibration file or rig with missing or impossible values."""


class PoseFileError(MocapError):
    """A 2D or 3D pose file that cannot be read or does not match the rig."""


class TriangulationError(MocapError):
    """Inputs that cannot be triangulated (e.g. nothing above the score threshold)."""


class FilterError(MocapError):
    """A filter configuration with unknown names or impossible values."""


class LabelFileError(MocapError):
    """A DeepLabCut label file (CollectedData) that cannot be read, written or merged as asked."""
