"""Mirror views: one camera frame holding several views (the direct one and one or more mirrors).

Each view is a rectangle of the frame, optionally flipped (a mirror's image
is reversed; flipping it back makes it look like an ordinary camera's, so
calibration, training and analysis treat it as a camera of its own). The
mapping is exact in pixel-centre coordinates::

    view x = (x - x0)                  or  (width - 1) - (x - x0)   when flipped horizontally
    view y = (y - y0)                  or  (height - 1) - (y - y0)  when flipped vertically

and :meth:`MirrorLayout.to_frame` is its inverse. :func:`view_camera` gives the
calibrated camera that a view is, geometrically: a mirror view of camera
``C`` through the plane ``n . X = d``, flipped back, is exactly a pinhole camera
at ``C``'s reflection, so the views of one frame triangulate like separate cameras.
A layout lives in a TOML::

    [[view]]
    name = "direct"
    box = [0, 0, 640, 480]        # x0, y0, width, height (pixels)
    [[view]]
    name = "mirror"
    box = [640, 0, 320, 480]
    flip = "horizontal"           # none | horizontal | vertical | both
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import toml

from .camera import CameraRig, rodrigues, rotation_to_rodrigues
from .errors import MocapError
from .poses import Track2D


class MirrorError(MocapError):
    """A mirror layout (views, boxes, flips) that cannot be used."""

log = logging.getLogger(__name__)

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
            raise MirrorError(f"view '{self.name}': flip must be one of {FLIPS}, not '{self.flip}'.")
        if self.width <= 0 or self.height <= 0 or self.x0 < 0 or self.y0 < 0:
            raise MirrorError(f"view '{self.name}': box [{self.x0}, {self.y0}, {self.width}, {self.height}] "
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
            raise MirrorError(f"view '{self.name}' reaches outside the {w}x{h} frame.")
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
            raise MirrorError(f"a mirror layout needs views with distinct names, got {names}.")

    def __getitem__(self, name: str) -> MirrorView:
        for v in self.views:
            if v.name == name:
                return v
        raise MirrorError(f"no view '{name}' in the layout; views: {[v.name for v in self.views]}.")

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
        raise MirrorError(f"cannot read mirror layout {path}: {exc}") from exc
    views = []
    for i, v in enumerate(data.get("view", [])):
        box = v.get("box")
        if not isinstance(box, list) or len(box) != 4 or "name" not in v:
            raise MirrorError(f"{path}: view {i + 1} needs name and box = [x0, y0, width, height].")
        x0, y0, w, h = (int(b) for b in box)
        views.append(MirrorView(str(v["name"]), x0, y0, w, h, flip=str(v.get("flip", "none"))))
    return MirrorLayout(tuple(views))


def view_camera(rig: CameraRig, camera: str, view: MirrorView, mirror: tuple[np.ndarray, float] | None = None,
                name: str | None = None) -> CameraRig:
    """The one-camera rig that ``view`` of ``camera``'s frame is.

    A mirror (unit normal ``n``, offset ``d``: the plane ``n . X = d`` in
    world coordinates) reflects the world: ``X -> H X + 2 d n`` with ``H = I -
    2 n n^T``. The camera sees the reflected scene; the view's crop moves the
    principal point and its flip ``F`` (``diag(-1, 1, 1)`` for horizontal)
    mirrors the image back, so the view is a pinhole camera with rotation ``F R
    H``, translation ``F (2 d R n + t)``, the same focal lengths, principal
    point moved into (and flipped within) the box, and the tangential
    distortion term of the flipped axis negated (radial terms are symmetric).
    A reflected view needs exactly one flip (horizontal or vertical); a direct
    view none or both. Zero skew is assumed.
    """
    i = rig.index(camera)
    H = np.eye(3)
    offset = np.zeros(3)
    if mirror is not None:
        n = np.asarray(mirror[0], dtype=np.float64)
        n = n / np.linalg.norm(n)
        H = H - 2.0 * np.outer(n, n)
        offset = 2.0 * float(mirror[1]) * n
    F = np.diag([-1.0 if view.flip_x else 1.0, -1.0 if view.flip_y else 1.0, 1.0])
    if np.linalg.det(F) * np.linalg.det(H) < 0:
        what = "a mirror view needs exactly one flip" if mirror is not None else "a direct view needs none or both"
        raise MirrorError(f"view '{view.name}' with flip '{view.flip}': {what} (horizontal or vertical) to be an "
                           "ordinary camera image.")
    R = rodrigues(rig.rvec[i])
    R_view = F @ R @ H
    t_view = F @ (R @ offset + rig.tvec[i])
    K = rig.K[i].copy()
    K[0, 2] = (view.width - 1 + view.x0 - K[0, 2]) if view.flip_x else K[0, 2] - view.x0
    K[1, 2] = (view.height - 1 + view.y0 - K[1, 2]) if view.flip_y else K[1, 2] - view.y0
    dist = rig.dist[i].copy()
    if not rig.fisheye[i]:
        if view.flip_y:
            dist[2] = -dist[2]  # p1 multiplies odd powers of y
        if view.flip_x:
            dist[3] = -dist[3]  # p2 multiplies odd powers of x
    return CameraRig([name or f"{camera}-{view.name}"], [[view.width, view.height]], K[None], dist[None],
                     rotation_to_rodrigues(R_view)[None], t_view[None], rig.fisheye[i:i + 1])


def view_video_name(camera: str, view: str, suffix: str = ".mp4") -> str:
    """File name of one view of a camera's video: ``cam-<camera>-<view><suffix>``.

    ``mocap3d calibrate`` names that camera ``<camera>-<view>`` (it strips
    ``cam-``), and ``mocap3d triangulate`` matches ``cam-<camera>-<view>_<scorer>.h5``
    from ``mocap3d analyze`` to it, so the views of one frame become cameras of their own.
    """
    return f"cam-{camera}-{view}{suffix}"


_VIEW_CODECS = {"FFV1": ".mkv", "mp4v": ".mp4", "MJPG": ".avi"}


def split_video(video: str | Path, layout: MirrorLayout, out_dir: str | Path, camera: str | None = None,
                codec: str = "FFV1", overwrite: bool = False, progress: bool = True) -> dict[str, Path]:
    """Write each view of a multi-view video as a video of its own (cropped, flipped back).

    Parameters
    ----------
    video : a video OpenCV can read (every frame is split)
    layout : the views (boxes must lie inside the frame)
    out_dir : receives :func:`view_video_name` per view
    camera : camera name (default: from the file name, ``cam-box.mp4`` -> ``box``)
    codec : ``FFV1`` (lossless ``.mkv``, the default: splitting adds no compression loss to the recording's),
        ``mp4v`` (``.mp4``, much smaller) or ``MJPG`` (``.avi``)
    overwrite : redo views whose file exists (otherwise an existing set is returned as it is)

    Returns
    -------
    dict view name -> path, in the layout's order.
    """
    import cv2
    from tqdm.auto import tqdm

    from .io.atomic import atomic_path
    from .io.matching import camera_name_from_path

    video = Path(video)
    if codec not in _VIEW_CODECS:
        raise MirrorError(f"split: codec '{codec}' is not one of {sorted(_VIEW_CODECS)}.")
    if not video.is_file():
        raise MirrorError(f"split: video '{video}' not found.")
    camera = camera or camera_name_from_path(video)
    out_dir = Path(out_dir)
    paths = {v.name: out_dir / view_video_name(camera, v.name, _VIEW_CODECS[codec]) for v in layout.views}
    if not overwrite and all(p.is_file() for p in paths.values()):
        log.info("views of %s exist in %s; skipped", video, out_dir)
        return paths
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise MirrorError(f"split: cannot open '{video}'; is it a video file OpenCV can decode (mp4, avi, mkv)?")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
    n = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    for v in layout.views:
        if v.x0 + v.width > w or v.y0 + v.height > h:
            cap.release()
            raise MirrorError(
                f"split: view '{v.name}' box [{v.x0}, {v.y0}, {v.width}, {v.height}] reaches outside the {w}x{h} "
                f"frame of '{video}'; fix the box in the layout (x0 + width <= {w}, y0 + height <= {h}).")
    out_dir.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter.fourcc(*codec)
    with contextlib.ExitStack() as stack:
        stack.callback(cap.release)
        writers = {}
        for v in layout.views:
            tmp = stack.enter_context(atomic_path(paths[v.name]))
            writer = cv2.VideoWriter(str(tmp), fourcc, fps, (v.width, v.height), True)
            if not writer.isOpened():
                raise MirrorError(f"split: OpenCV cannot write {codec} video to '{paths[v.name]}'.")
            stack.callback(writer.release)
            writers[v.name] = writer
        with tqdm(total=n or None, desc=f"splitting {video.name}", unit="frame", disable=not progress) as bar:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                for v in layout.views:
                    writers[v.name].write(v.crop(frame))
                bar.update(1)
    log.info("split %s into %d views in %s", video, len(paths), out_dir)
    return paths
