"""Temporal filters of 2D detections (before triangulation) and 3D trajectories (after).

Each filter is a pure array function (``filters2d``, ``filters3d``); a pipeline
is a list of typed step configs (``config``), run by :func:`apply_filters_2d`
on :class:`~mocap3d.poses.Poses2D`/:class:`~mocap3d.poses.Track2D` and by
:func:`apply_filters_3d` on :class:`~mocap3d.poses.Poses3D`.
"""

from .config import (
    ButterworthFilter,
    ErrorFilter,
    FilterPipeline,
    FilterStep,
    GapFill,
    HampelFilter,
    KalmanFilter,
    LikelihoodFilter,
    MedianFilter,
    MedianOffsetFilter,
    SavgolFilter,
    ViterbiFilter,
    load_filter_config,
    step_from_dict,
    steps_from_list,
)
from .filters2d import apply_filters_2d, fill_gaps_2d, likelihood_cutoff, median_offset, viterbi
from .filters3d import apply_filters_3d, butterworth, fill_gaps, hampel, kalman_smooth, median_filter, savgol

__all__ = [
    "ButterworthFilter",
    "ErrorFilter",
    "FilterPipeline",
    "FilterStep",
    "GapFill",
    "HampelFilter",
    "KalmanFilter",
    "LikelihoodFilter",
    "MedianFilter",
    "MedianOffsetFilter",
    "SavgolFilter",
    "ViterbiFilter",
    "load_filter_config",
    "step_from_dict",
    "steps_from_list",
    "apply_filters_2d",
    "fill_gaps_2d",
    "likelihood_cutoff",
    "median_offset",
    "viterbi",
    "apply_filters_3d",
    "butterworth",
    "fill_gaps",
    "hampel",
    "kalman_smooth",
    "median_filter",
    "savgol",
]
