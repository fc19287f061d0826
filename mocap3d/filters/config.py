"""Typed configurations of every temporal filter, with all defaults in one place.

A filter pipeline is a list of *steps*; each step is one of the frozen
dataclasses below. The numerical functions in :mod:`.filters2d` and
:mod:`.filters3d` take plain arguments; these classes only hold, validate and
describe them (``step.describe()`` is what lands in ``Poses3D.metadata``).

Pipelines are read from TOML, one array of tables per stage::

    [[filter2d]]
    type = "likelihood"
    threshold = 0.3

    [[filter2d]]
    type = "median"
    window = 7
    offset_threshold = 20.0   # px

    [[filter3d]]
    type = "butterworth"
    cutoff = 6.0              # Hz
    order = 4                 # Pose2Sim's convention: the zero-phase order

anipose's ``[filter]`` table (``enabled``, ``type = "medfilt" | "viterbi"``,
``medfilt``, ``offset_threshold``, ``score_threshold``, ``spline``, ``n_back``)
and ``[filter3d]`` table (``enabled``, ``offset_threshold`` in px of
reprojection error, ``medfilt``) are also understood, so an existing anipose
``config.toml`` can be passed as is.

Units: windows and gap lengths are in frames, frequencies in Hz, 2D distances
in pixels, 3D noise levels in the data's own units (mm or m).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..config import coerce
from ..errors import FilterError
from ..io.settings import key_hints

__all__ = [
    "Interpolation",
    "LikelihoodFilter",
    "MedianOffsetFilter",
    "ViterbiFilter",
    "HampelFilter",
    "MedianFilter",
    "ButterworthFilter",
    "SavgolFilter",
    "KalmanFilter",
    "ErrorFilter",
    "GapFill",
    "FilterStep",
    "FilterPipeline",
    "FILTERS_2D",
    "FILTERS_3D",
    "step_from_dict",
    "steps_from_list",
    "load_filter_config",
]

Interpolation = Literal["linear", "cubic", "pchip"]
_INTERPOLATIONS = ("linear", "cubic", "pchip")


def _check(ok: bool, step: str, message: str) -> None:
    if not ok:
        raise FilterError(f"filter '{step}': {message}")


def _check_window(step: str, window: int, field: str = "window") -> None:
    _check(window >= 3 and window % 2 == 1, step, f"`{field}` must be an odd number of frames >= 3, got {window}.")


def _check_gap(step: str, max_gap: int, method: str) -> None:
    _check(max_gap >= 0, step, f"`max_gap` must be >= 0 frames, got {max_gap}.")
    _check(method in _INTERPOLATIONS, step, f"`method` must be one of {', '.join(_INTERPOLATIONS)}, got '{method}'.")


class _Step:
    """Shared behaviour of every step config (a mixin for the frozen dataclasses below; their tables are
    read by :func:`step_from_dict` through the one coercion of every config, :func:`mocap3d.config.coerce`)."""

    name: ClassVar[str]

    def describe(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}`` for the output's metadata."""
        return {"name": self.name, "params": dataclasses.asdict(self)}  # type: ignore[call-overload]


# --------------------------------------------------------------------------- 2D


@dataclass(frozen=True)
class LikelihoodFilter(_Step):
    """Drop 2D detections whose score is below ``threshold`` (NaN, score 0)."""

    name: ClassVar[str] = "likelihood"
    threshold: float = 0.3

    def __post_init__(self) -> None:
        _check(self.threshold >= 0, self.name, f"`threshold` must be >= 0, got {self.threshold}.")


@dataclass(frozen=True)
class MedianOffsetFilter(_Step):
    """anipose's ``medfilt``: drop detections far from their median-filtered trajectory, then fill gaps.

    A detection is dropped when ``|x - med_x| + |y - med_y| >= offset_threshold``
    (pixels, anipose's L1 distance) where ``med`` is a running median over
    ``window`` frames, or when its score is below ``score_threshold``. Gaps of
    at most ``max_gap`` frames (those just made and those already there) are
    then filled with ``method`` (anipose's ``spline = true`` is ``"cubic"``).
    """

    name: ClassVar[str] = "median"
    window: int = 7
    offset_threshold: float = 20.0
    score_threshold: float = 0.0
    max_gap: int = 10
    method: Interpolation = "cubic"

    def __post_init__(self) -> None:
        _check_window(self.name, self.window)
        _check(self.offset_threshold > 0, self.name, f"`offset_threshold` must be > 0 px, got {self.offset_threshold}.")
        _check_gap(self.name, self.max_gap, self.method)


@dataclass(frozen=True)
class ViterbiFilter(_Step):
    """Pick the most plausible path among the last ``n_back`` frames' detections and the current one.

    Candidates at frame ``t`` are the detections of frames ``t, t-1, ...,
    t-n_back`` (score at least ``score_threshold``) and a "not seen" state.
    A candidate ``a`` frames old has log-emission ``log(score) + a*log(age_decay)``,
    the "not seen" state ``log(missing_score)``; moving by ``d`` pixels between
    frames costs ``0.5*(d/sigma)^2`` and losing the track ``-log(missing_score)``.
    ``sigma = 0`` estimates it per trajectory as 3x the median frame-to-frame
    displacement (at least 1 px).
    """

    name: ClassVar[str] = "viterbi"
    n_back: int = 4
    score_threshold: float = 0.1
    sigma: float = 0.0
    age_decay: float = 0.5
    missing_score: float = 1e-3

    def __post_init__(self) -> None:
        _check(0 <= self.n_back <= 100, self.name, f"`n_back` must be 0 to 100 frames, got {self.n_back}.")
        _check(self.sigma >= 0, self.name, f"`sigma` must be >= 0 px (0 = estimate), got {self.sigma}.")
        _check(0 < self.age_decay <= 1, self.name, f"`age_decay` must be in (0, 1], got {self.age_decay}.")
        _check(0 < self.missing_score < 1, self.name, f"`missing_score` must be in (0, 1), got {self.missing_score}.")


# --------------------------------------------------------------------------- 3D


@dataclass(frozen=True)
class HampelFilter(_Step):
    """Hampel outlier removal: a point further than ``n_sigmas`` robust standard deviations
    (1.4826 x MAD over ``window`` frames) from the running median, in any coordinate, is an outlier;
    it is replaced by the running median (``replace = "median"``) or removed (``"nan"``)."""

    name: ClassVar[str] = "hampel"
    window: int = 7
    n_sigmas: float = 3.0
    replace: Literal["median", "nan"] = "median"

    def __post_init__(self) -> None:
        _check_window(self.name, self.window)
        _check(self.n_sigmas > 0, self.name, f"`n_sigmas` must be > 0, got {self.n_sigmas}.")
        _check(
            self.replace in ("median", "nan"), self.name, f"`replace` must be 'median' or 'nan', got '{self.replace}'."
        )


@dataclass(frozen=True)
class MedianFilter(_Step):
    """Running median over ``window`` frames, ignoring NaN; missing points stay missing."""

    name: ClassVar[str] = "median"
    window: int = 5

    def __post_init__(self) -> None:
        _check_window(self.name, self.window)


@dataclass(frozen=True)
class ButterworthFilter(_Step):
    """Zero-phase low-pass Butterworth, Pose2Sim's convention.

    ``order`` is the order of the forward-backward result, as in Pose2Sim's
    config: ``scipy.signal.butter(order // 2, cutoff / (fps / 2))`` applied with
    ``filtfilt``. ``cutoff`` is in Hz; the frame rate comes from the data (or
    ``fps`` given to :func:`~mocap3d.filters.apply_filters_3d`). Gaps of at most
    ``max_gap`` frames are filled with ``method`` first (and stay filled);
    longer gaps split the trajectory into segments filtered on their own.
    """

    name: ClassVar[str] = "butterworth"
    cutoff: float = 6.0
    order: int = 4
    max_gap: int = 10
    method: Interpolation = "cubic"

    def __post_init__(self) -> None:
        _check(self.cutoff > 0, self.name, f"`cutoff` must be > 0 Hz, got {self.cutoff}.")
        _check(
            self.order >= 2 and self.order % 2 == 0,
            self.name,
            f"`order` must be an even number >= 2 (the zero-phase order, Pose2Sim's convention), got {self.order}.",
        )
        _check_gap(self.name, self.max_gap, self.method)


@dataclass(frozen=True)
class SavgolFilter(_Step):
    """Savitzky-Golay smoothing (polynomial of ``polyorder`` over ``window`` frames), per segment,
    after filling gaps of at most ``max_gap`` frames like :class:`ButterworthFilter`."""

    name: ClassVar[str] = "savgol"
    window: int = 9
    polyorder: int = 3
    max_gap: int = 10
    method: Interpolation = "cubic"

    def __post_init__(self) -> None:
        _check_window(self.name, self.window)
        _check(
            0 <= self.polyorder < self.window,
            self.name,
            f"`polyorder` must be >= 0 and < window ({self.window}), got {self.polyorder}.",
        )
        _check_gap(self.name, self.max_gap, self.method)


@dataclass(frozen=True)
class KalmanFilter(_Step):
    """Kalman filter + Rauch-Tung-Striebel smoother, each coordinate on its own.

    ``model`` is ``"velocity"`` (constant velocity, white acceleration) or
    ``"acceleration"`` (constant acceleration, white jerk). ``process_noise`` is
    the square root of that white noise's spectral density, ``measurement_noise``
    the standard deviation of a measured position. The smoothed positions
    depend only on their ratio (a bandwidth, in s^-1.5 or s^-2.5), not on the
    data's units: the Kalman gains never see the data. The defaults (ratio 6000
    s^-2.5) suit human motion at 30-120 fps: on the sample walker at 60 fps they
    halve the DLT's median error, like a 6 Hz Butterworth. Missing points are
    skipped by the update; gaps of at most ``max_gap`` frames keep the
    smoother's prediction, longer ones stay NaN.
    """

    name: ClassVar[str] = "kalman"
    model: Literal["velocity", "acceleration"] = "acceleration"
    process_noise: float = 30000.0
    measurement_noise: float = 5.0
    max_gap: int = 10

    def __post_init__(self) -> None:
        _check(
            self.model in ("velocity", "acceleration"),
            self.name,
            f"`model` must be 'velocity' or 'acceleration', got '{self.model}'.",
        )
        _check(self.process_noise > 0, self.name, f"`process_noise` must be > 0, got {self.process_noise}.")
        _check(self.measurement_noise > 0, self.name, f"`measurement_noise` must be > 0, got {self.measurement_noise}.")
        _check(self.max_gap >= 0, self.name, f"`max_gap` must be >= 0 frames, got {self.max_gap}.")


@dataclass(frozen=True)
class ErrorFilter(_Step):
    """Drop 3D points whose mean reprojection error exceeds ``threshold`` pixels (anipose's
    ``[filter3d] offset_threshold``). Points without a recorded error (TRC input) are kept."""

    name: ClassVar[str] = "error"
    threshold: float = 10.0

    def __post_init__(self) -> None:
        _check(self.threshold > 0, self.name, f"`threshold` must be > 0 px, got {self.threshold}.")


@dataclass(frozen=True)
class GapFill(_Step):
    """Fill interior gaps of at most ``max_gap`` frames by ``method`` interpolation; longer gaps
    and missing values at either end stay NaN."""

    name: ClassVar[str] = "fill"
    max_gap: int = 10
    method: Interpolation = "cubic"

    def __post_init__(self) -> None:
        _check_gap(self.name, self.max_gap, self.method)


FilterStep = (
    LikelihoodFilter
    | MedianOffsetFilter
    | ViterbiFilter
    | HampelFilter
    | MedianFilter
    | ButterworthFilter
    | SavgolFilter
    | KalmanFilter
    | ErrorFilter
    | GapFill
)

FILTERS_2D: dict[str, type] = {c.name: c for c in (LikelihoodFilter, MedianOffsetFilter, ViterbiFilter, GapFill)}
FILTERS_3D: dict[str, type] = {
    c.name: c
    for c in (ErrorFilter, HampelFilter, MedianFilter, ButterworthFilter, SavgolFilter, KalmanFilter, GapFill)
}
_ALIASES = {"medfilt": "median", "butter": "butterworth", "savitzky_golay": "savgol", "interpolate": "fill"}


def step_from_dict(spec: Mapping[str, Any], stage: Literal["2d", "3d"]) -> FilterStep:
    """One step from ``{"type": name, **params}`` (``name`` is accepted for ``type``).

    Raises
    ------
    FilterError
        For an unknown filter or parameter (the message lists the valid ones)
        or an impossible value.
    """
    registry = FILTERS_2D if stage == "2d" else FILTERS_3D
    spec = dict(spec)
    kind = spec.pop("type", None) or spec.pop("name", None)
    if kind is None:
        raise FilterError(f"a {stage} filter step has no `type`; use one of: {', '.join(registry)}.")
    kind = _ALIASES.get(str(kind).lower(), str(kind).lower())
    if kind not in registry:
        raise FilterError(f"unknown {stage} filter '{kind}'{key_hints([kind], registry)}; use one of: "
                          f"{', '.join(registry)}.")  # fmt: skip
    cls = registry[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(spec) - set(fields))
    if unknown:
        raise FilterError(
            f"filter '{kind}': unknown parameter(s) {', '.join(unknown)}{key_hints(unknown, fields)}; valid ones are "
            f"{', '.join(fields)}."
        )
    # the one coercion of every config (mocap3d.config.coerce); choices are checked by the step with its words
    choices = tuple(name for name, hint in typing.get_type_hints(cls).items() if typing.get_origin(hint) is Literal)
    return cls(**coerce(cls, spec, f"filter '{kind}'", FilterError, skip=choices))


def steps_from_list(specs: Sequence[Mapping[str, Any]], stage: Literal["2d", "3d"]) -> list[FilterStep]:
    return [step_from_dict(s, stage) for s in specs]


def _anipose_filter(section: Mapping[str, Any]) -> list[FilterStep]:
    """anipose's ``[filter]`` section as steps (its own defaults where a key is absent)."""
    if not section.get("enabled", True):
        return []
    kind = str(section.get("type", "medfilt")).lower()
    threshold = float(section.get("score_threshold", 0.2))
    if kind == "medfilt":
        return [
            MedianOffsetFilter(
                window=int(section.get("medfilt", 13)),
                offset_threshold=float(section.get("offset_threshold", 25)),
                score_threshold=threshold,
                max_gap=int(section.get("max_gap", 10)),
                method="cubic" if section.get("spline", True) else "linear",
            )
        ]
    if kind == "viterbi":
        return [ViterbiFilter(n_back=int(section.get("n_back", 4)), score_threshold=threshold)]
    raise FilterError(
        f"anipose filter type '{kind}' is not supported; use 'medfilt' or 'viterbi', or write [[filter2d]] steps."
    )


def _anipose_filter3d(section: Mapping[str, Any]) -> list[FilterStep]:
    """anipose's ``[filter3d]`` table: drop points above a reprojection error, interpolate, median filter.

    anipose interpolates every interior gap (linearly) before its median filter; here that is a
    :class:`GapFill` without a length limit.
    """
    if not section.get("enabled", True):
        return []
    return [
        ErrorFilter(threshold=float(section.get("offset_threshold", 10))),
        GapFill(max_gap=_UNLIMITED_GAP, method="linear"),
        MedianFilter(window=int(section.get("medfilt", 15))),
    ]


_UNLIMITED_GAP = 2**31 - 1


@dataclass(frozen=True)
class FilterPipeline:
    """The 2D steps (before triangulation) and 3D steps (after), in order."""

    filter2d: tuple[FilterStep, ...] = ()
    filter3d: tuple[FilterStep, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FilterPipeline:
        """From parsed TOML: ``[[filter2d]]``/``[[filter3d]]`` arrays of steps, or an anipose
        ``config.toml``'s ``[filter]`` and ``[filter3d]`` tables."""
        f2 = data.get("filter2d", [])
        f3 = data.get("filter3d", [])
        if isinstance(f2, Mapping):
            raise FilterError("`[filter2d]` must be an array of tables (`[[filter2d]]`, one per step).")
        if isinstance(f3, Mapping):
            if "type" in f3:  # one step written as a table: [[filter3d]] was meant
                raise FilterError(
                    "`[filter3d]` must be an array of tables (`[[filter3d]]`, one per step), e.g.\n"
                    '[[filter3d]]\ntype = "butterworth"\ncutoff = 6.0'
                )
            steps3 = _anipose_filter3d(f3)
        else:
            steps3 = steps_from_list(f3, "3d")
        steps2 = steps_from_list(f2, "2d")
        if not steps2 and isinstance(data.get("filter"), Mapping):
            steps2 = _anipose_filter(data["filter"])
        return cls(tuple(steps2), tuple(steps3))


def load_filter_config(path: str | Path) -> FilterPipeline:
    """Read a filter pipeline from a TOML file (see the module docstring for the layout)."""
    from ..io.settings import CONFIG_ARRAYS, CONFIG_TABLES, check_tables, read_toml

    path = Path(path)
    data = read_toml(path, "filter config", FilterError)
    check_tables(data, CONFIG_TABLES, str(path), arrays=CONFIG_ARRAYS, error=FilterError)
    pipeline = FilterPipeline.from_dict(data)
    if not pipeline.filter2d and not pipeline.filter3d:
        raise FilterError(
            f"filter config '{path}' has no [[filter2d]] or [[filter3d]] steps (nor an anipose [filter] section)."
        )
    return pipeline
