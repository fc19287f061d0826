"""Mirror views: one camera frame holding several views (the direct one and one or more mirrors).

Each view is a rectangle of the frame, optionally flipped (a mirror's image
is reversed; flipping it back makes it look like an ordinary camera's, so
calibration, training and analysis treat it as a camera of its own). The
mapping is exact in pixel-centre coordinates::

    view x = (x - x0)                  or  (width - 1) - (x - x0)   when flipped horizontally
    view y = (y - y0)                  or  (height - 1) - (y - y0)  when flipped vertically

and :meth:`MirrorLayout.to_frame` is its inverse. A layout lives in a TOML::

    [[view]]
    name = "direct"
    box = [0, 0, 640, 480]        # x0, y0, width, height (pixels)
    [[view]]
    name = "mirror"
    box = [640, 0, 320, 480]
    flip = "horizontal"           # none | horizontal | vertical | both
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import toml

from ..poses import Track2D
from .config import NetworkError

FLIPS = ("none", "horizontal", "vertical", "both")


@dataclass(frozen=True)
class MirrorView:
    name: str
    x0: int
    y0: int
    width: int
    height: int
    flip: str = "none"

    def __post_init__(self) -> None:
        if self.flip not in FLIPS:
            raise NetworkError(f"view '{self.name}': flip must be one of {FLIPS}, not '{self.flip}'.")
        if self.width <= 0 or self.height <= 0 or self.x0 < 0 or self.y0 < 0:
            raise NetworkError(f"view '{self.name}': box [{self.x0}, {self.y0}, {self.width}, {self.height}] "
                               "must have x0, y0 >= 0 and a positive size.")

    @property
    def flip_x(self) -> bool:
        return self.flip in ("horizontal", "both")

    @property
    def flip_y(self) -> bool:
        return self.flip in ("vertical", "both")

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """This view of ``frame (..., H, W, C)`` (a copy, flipped as set); leading batch axes allowed."""
        h, w = frame.shape[-3:-1]
        if self.x0 + self.width > w or self.y0 + self.height > h:
            raise NetworkError(f"view '{self.name}' reaches outside the {w}x{h} frame.")
        out = frame[..., self.y0:self.y0 + self.height, self.x0:self.x0 + self.width, :]
        if self.flip_x:
            out = out[..., :, ::-1, :]
        if self.flip_y:
            out = out[..., ::-1, :, :]
        return np.ascontiguousarray(out)

    def to_view(self, points: np.ndarray) -> np.ndarray:
        """Frame pixels ``(..., 2)`` -> view pixels (NaN stays NaN; points outside the box are not masked)."""
        p = np.asarray(points, dtype=np.float64) - [self.x0, self.y0]
        if self.flip_x:
            p[..., 0] = (self.width - 1) - p[..., 0]
        if self.flip_y:
            p[..., 1] = (self.height - 1) - p[..., 1]
        return p

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """View pixels ``(..., 2)`` -> frame pixels (the inverse of :meth:`to_view`)."""
        p = np.array(points, dtype=np.float64)
        if self.flip_x:
            p[..., 0] = (self.width - 1) - p[..., 0]
        if self.flip_y:
            p[..., 1] = (self.height - 1) - p[..., 1]
        return p + [self.x0, self.y0]

    def inside(self, points: np.ndarray) -> np.ndarray:
        """``(...)`` bool: frame points within this view's box."""
        p = np.asarray(points, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return ((p[..., 0] >= self.x0 - 0.5) & (p[..., 0] < self.x0 + self.width - 0.5)
                    & (p[..., 1] >= self.y0 - 0.5) & (p[..., 1] < self.y0 + self.height - 0.5))


@dataclass(frozen=True)
class MirrorLayout:
    views: tuple[MirrorView, ...]

    def __post_init__(self) -> None:
        names = [v.name for v in self.views]
        if not names or len(set(names)) != len(names):
            raise NetworkError(f"a mirror layout needs views with distinct names, got {names}.")

    def __getitem__(self, name: str) -> MirrorView:
        for v in self.views:
            if v.name == name:
                return v
        raise NetworkError(f"no view '{name}' in the layout; views: {[v.name for v in self.views]}.")

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.views]

    def split(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        """Each view's image of ``frame (..., H, W, C)``."""
        return {v.name: v.crop(frame) for v in self.views}

    def track_to_frame(self, tracks: dict[str, Track2D]) -> dict[str, Track2D]:
        """Per-view tracks (view pixels) -> the same tracks in frame pixels (for drawing on the original video)."""
        return {name: Track2D(self[name].to_frame(t.points), t.scores, t.keypoints, t.individuals, t.source)
                for name, t in tracks.items()}

    def split_track(self, track: Track2D) -> dict[str, Track2D]:
        """Frame-pixel labels/detections -> per-view tracks in view pixels (points outside a view dropped)."""
        out = {}
        for v in self.views:
            pts = v.to_view(track.points)
            keep = v.inside(track.points)
            pts[~keep] = np.nan
            out[v.name] = Track2D(pts, np.where(keep, track.scores, 0.0), track.keypoints, track.individuals,
                                  f"{track.source}[{v.name}]")
        return out

    def to_toml(self) -> str:
        return toml.dumps({"view": [{"name": v.name, "box": [v.x0, v.y0, v.width, v.height], "flip": v.flip}
                                    for v in self.views]})


def load_layout(path: str | Path) -> MirrorLayout:
    """A :class:`MirrorLayout` from a TOML with ``[[view]]`` tables (see module docstring)."""
    path = Path(path)
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, toml.TomlDecodeError) as exc:
        raise NetworkError(f"cannot read mirror layout {path}: {exc}") from exc
    views = []
    for i, v in enumerate(data.get("view", [])):
        box = v.get("box")
        if not isinstance(box, list) or len(box) != 4 or "name" not in v:
            raise NetworkError(f"{path}: view {i + 1} needs name and box = [x0, y0, width, height].")
        views.append(MirrorView(str(v["name"]), *(int(b) for b in box), flip=str(v.get("flip", "none"))))
    return MirrorLayout(tuple(views))
