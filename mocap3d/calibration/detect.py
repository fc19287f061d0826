"""Board detection in every camera's calibration video (or image folder).

:func:`detect_videos` samples frames smartly, detects the board in all cameras
in parallel, and returns :class:`Detections`: corner pixels stacked as
``(cameras, frames, corners, 2)`` with NaN where a corner was not found.

Sampling happens in two passes so that a short sweep of the board is not missed
while most frames are skipped:

1. every ``step``-th frame is examined in every camera;
2. around every frame where any camera saw the board, the frames within
   ``step`` of it are examined too (every ``refine_step``-th), in every camera.

The same frames are therefore examined in every camera, so simultaneous views
line up by frame index (synchronised videos are assumed, as in anipose).

Results are cached on disk (``cache=``): the cache is keyed by each input's
path, size and modification time, by the board and by the sampling settings,
so a re-run (or a changed solver setting) reads the cache instead of detecting
again, and any change to the inputs invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import toml
from tqdm.auto import tqdm

from ..errors import CalibrationError
from ..io.atomic import atomic_path
from .boards import Board, CharucoBoard, Checkerboard, _board_from_table, board_to_toml

__all__ = ["Detections", "SamplingConfig", "detect_videos", "detect_images", "IMAGE_EXTENSIONS"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class SamplingConfig:
    """Which frames to examine, and what counts as a usable detection.

    Attributes
    ----------
    step : int
        First pass: examine every ``step``-th frame (1 = every frame).
    refine_step : int
        Second pass: around each frame where the board was seen, examine every
        ``refine_step``-th frame within ``step`` frames.
    densify : {"hits", "edges", "none"}
        Where the second pass looks: around every first-pass hit (``"hits"``,
        every frame near the board is examined), only where a run of hits
        starts or ends (``"edges"``: short sweeps are still caught whole, but
        a board seen all along a long video costs only one frame in ``step``),
        or nowhere.
    min_corners : int
        A view with fewer detected corners is discarded (4 are needed for a
        board pose; ChArUco detections of 1-3 corners are also the least
        reliable). Views whose corners all lie on one line are discarded too.
    min_views : int
        Each camera must see the board in at least this many examined frames,
        else :func:`detect_videos` raises a CalibrationError ("too few frames").
    """

    step: int = 5
    refine_step: int = 1
    densify: str = "hits"
    min_corners: int = 4
    min_views: int = 3

    def __post_init__(self) -> None:
        if self.densify not in ("hits", "edges", "none"):
            raise CalibrationError(
                f"sampling: `densify` = {self.densify!r}; use \"hits\", \"edges\" or \"none\"."
            )
        for name in ("step", "refine_step", "min_corners", "min_views"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CalibrationError(f"sampling: `{name}` = {value!r} must be a whole number >= 1.")


@dataclass
class Detections:
    """Board corners detected in several synchronised cameras.

    Attributes
    ----------
    cameras : tuple of str (C,)
        Camera names, in the caller's order.
    image_sizes : int array (C, 2)
        ``[width, height]`` of each camera's images (px).
    frames : int array (F,)
        Video frame indices (or image positions in a folder, in natural sort
        order) that were examined in every camera, increasing.
    corners : float64 array (C, F, N, 2)
        Corner pixels (OpenCV pixel-centre convention) for the board's ``N``
        corners in id order; NaN where that corner was not detected (or the
        camera's video ended before that frame).
    board : CharucoBoard | Checkerboard
    """

    cameras: tuple[str, ...]
    image_sizes: np.ndarray
    frames: np.ndarray
    corners: np.ndarray
    board: Board

    def __post_init__(self) -> None:
        self.cameras = tuple(str(c) for c in self.cameras)
        self.image_sizes = np.asarray(self.image_sizes, dtype=np.int64).reshape(len(self.cameras), 2)
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        self.corners = np.asarray(self.corners, dtype=np.float64)
        expected = (len(self.cameras), self.frames.size, self.board.n_corners, 2)
        if self.corners.shape != expected:
            raise CalibrationError(f"detections: corners have shape {self.corners.shape}, expected {expected}.")

    # --------------------------------------------------------------- summaries
    @property
    def n_cameras(self) -> int:
        return len(self.cameras)

    @property
    def detected(self) -> np.ndarray:
        """Which corners were found (C, F, N) bool."""
        return np.isfinite(self.corners).all(-1)

    def views_per_camera(self) -> np.ndarray:
        """Number of frames in which each camera saw at least one corner (C,)."""
        return self.detected.any(-1).sum(-1)

    def select(self, cameras: Sequence[str]) -> Detections:
        """The detections of the named cameras, in the given order."""
        idx = []
        for name in cameras:
            if name not in self.cameras:
                raise CalibrationError(f"camera '{name}' has no detections (cameras: {', '.join(self.cameras)}).")
            idx.append(self.cameras.index(name))
        return Detections(tuple(cameras), self.image_sizes[idx], self.frames, self.corners[idx], self.board)

    # ------------------------------------------------------------------- files
    def save(self, path: str | Path, key: str = "") -> Path:
        """Write an ``.npz`` file (atomic). ``key`` is the cache key it answers."""
        path = Path(path)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(
                tmp,
                version=np.int64(_CACHE_VERSION),
                cameras=np.array(self.cameras, dtype=str),
                image_sizes=self.image_sizes,
                frames=self.frames,
                corners=self.corners,
                board=np.array(toml.dumps(board_to_toml(self.board))),
                key=np.array(key),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Detections:
        """Read a file written by :meth:`save`."""
        return _load_with_key(path)[0]


def _load_with_key(path: str | Path) -> tuple[Detections, str]:
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            board = _board_from_table(toml.loads(str(data["board"]))["board"], f"detections '{path}'")
            det = Detections(
                cameras=tuple(str(c) for c in data["cameras"]),
                image_sizes=data["image_sizes"],
                frames=data["frames"],
                corners=data["corners"],
                board=board,
            )
            return det, str(data["key"])
    except (OSError, KeyError, ValueError) as exc:
        raise CalibrationError(f"detections file '{path}' cannot be read ({exc}); delete it to detect again.") from None


# --------------------------------------------------------------------------- inputs
def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class _Source:
    """One camera's frames: a video file or a folder of images."""

    images: list[Path] | None

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = Path(path)
        pattern = not self.path.exists() and any(ch in str(path) for ch in "*?[")
        if self.path.is_dir() or pattern:
            candidates = self.path.parent.glob(self.path.name) if pattern else self.path.iterdir()
            self.images = sorted((p for p in candidates if p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)
            if not self.images:
                raise CalibrationError(
                    f"camera '{name}': '{self.path}' matches no images ({', '.join(IMAGE_EXTENSIONS)})."
                )
            first = cv2.imread(str(self.images[0]), cv2.IMREAD_GRAYSCALE)
            if first is None:
                raise CalibrationError(f"camera '{name}': image '{self.images[0]}' cannot be read.")
            self.size = (first.shape[1], first.shape[0])
            self.n_frames = len(self.images)
        elif self.path.is_file():
            self.images = None
            cap = cv2.VideoCapture(str(self.path))
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
            if ok and n <= 0:  # some containers do not store a frame count: count by decoding
                n = 1
                while cap.grab():
                    n += 1
            cap.release()
            if not ok or frame is None:
                raise CalibrationError(
                    f"camera '{name}': video '{self.path}' cannot be read (not a video, corrupt, or a codec OpenCV's "
                    "FFmpeg lacks). Re-encode it, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`, or pass a folder of images."
                )
            self.size = (frame.shape[1], frame.shape[0])
            self.n_frames = max(n, 1)
        else:
            raise CalibrationError(f"camera '{name}': '{self.path}' does not exist (expected a video or image folder).")

    def fingerprint(self) -> list:
        files = self.images if self.images is not None else [self.path]
        return [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]

    def frames(self, wanted: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, grey image)`` for the wanted (increasing) frame indices that exist."""
        if self.images is not None:
            for idx in wanted:
                if idx < len(self.images):
                    img = cv2.imread(str(self.images[idx]), cv2.IMREAD_GRAYSCALE)
                    if img is None:
                        raise CalibrationError(f"camera '{self.name}': image '{self.images[idx]}' cannot be read.")
                    if (img.shape[1], img.shape[0]) != self.size:
                        raise CalibrationError(
                            f"camera '{self.name}': image '{self.images[idx]}' is {img.shape[1]}x{img.shape[0]}, "
                            f"the first one is {self.size[0]}x{self.size[1]}; one folder must hold one camera's images."
                        )
                    yield int(idx), img
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            pos = 0
            for idx in wanted:
                # grab() without retrieve() skips the colour conversion of unwanted frames;
                # seeking is avoided because it is inexact for many codecs
                while pos < idx:
                    if not cap.grab():
                        return
                    pos += 1
                ok, frame = cap.read()
                if not ok:
                    return
                pos += 1
                yield int(idx), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        finally:
            cap.release()


def _collinear(points: np.ndarray) -> bool:
    """Whether board points (n, 2) lie on one line: such a view fixes no board pose."""
    spread = np.linalg.svd(points - points.mean(0), compute_uv=False)
    return bool(spread[-1] <= 1e-9 * max(spread[0], 1e-300))


def _detect_source(source: _Source, board: Board, wanted: np.ndarray, min_corners: int, bar, lock) -> dict:
    found = {}
    # image folders hold few, chosen images: a slower, more thorough checkerboard search pays off there
    thorough = source.images is not None and board.kind == "checkerboard"
    obj = board.object_points()[:, :2]
    for idx, grey in source.frames(wanted):
        ids, corners = board.detect(grey, thorough=thorough)
        if ids.size >= min_corners and not _collinear(obj[ids]):
            found[idx] = (ids, corners)
        with lock:
            bar.update(1)
    return found


def _run_pass(sources, board, wanted_per_cam, config, workers, progress, desc) -> list[dict]:
    total = int(sum(len(w) for w in wanted_per_cam))
    lock = threading.Lock()
    with tqdm(total=total, desc=desc, unit="frame", disable=not progress or total == 0) as bar:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            jobs = [
                pool.submit(_detect_source, src, board, wanted, config.min_corners, bar, lock)
                for src, wanted in zip(sources, wanted_per_cam, strict=True)
            ]
            return [job.result() for job in jobs]


def _never_detected_message(name: str, path: Path, board: Board, n_examined: int) -> str:
    if isinstance(board, CharucoBoard):
        causes = (
            f"the ArUco dictionary (board says {board.dictionary}), an inverted print (white markers on black: set "
            f"inverted = true, now {str(board.inverted).lower()}), the number of squares (board says "
            f"{board.squares_x}x{board.squares_y} squares, not inner corners), a marker length that does not fit "
            "the square, the legacy pattern of boards made with OpenCV < 4.6 (legacy = true), or a board too small, "
            "blurred or out of view"
        )
    else:
        causes = (
            f"the number of INNER corners (board says {board.corners_x}x{board.corners_y}; a board of 10x7 squares "
            "has 9x6 inner corners), a board partly out of view (every corner must be visible), glare, or blur"
        )
    return (
        f"the board was never detected in camera '{name}' ({path}, {n_examined} frames examined). Usual causes: "
        f"{causes}. Check with `mocap3d board` that the definition prints the board you filmed."
    )


def _dense_frames(hits: np.ndarray, step: int, config: SamplingConfig, n_frames: int) -> np.ndarray:
    """Frames to examine in the second pass, around first-pass hits (increasing, unique)."""
    if hits.size == 0:
        return np.zeros(0, np.int64)
    before = np.arange(-step + 1, 0, config.refine_step)
    after = np.arange(1, step, config.refine_step)
    if config.densify == "edges":
        # only where a run of hits starts or ends: the frames between two hits are not examined
        hit_set = set(hits.tolist())
        starts = np.array([h for h in hits if h - step not in hit_set], dtype=np.int64)
        ends = np.array([h for h in hits if h + step not in hit_set], dtype=np.int64)
        parts = [(starts[:, None] + before).ravel(), (ends[:, None] + after).ravel()]
    else:
        parts = [(hits[:, None] + before).ravel(), (hits[:, None] + after).ravel()]
    dense = np.unique(np.concatenate(parts))
    return dense[(dense >= 0) & (dense < n_frames)]


def _fingerprint_key(board: Board, sources: list[_Source], config: SamplingConfig) -> str:
    payload = {
        "version": _CACHE_VERSION,
        "board": board_to_toml(board),
        "sampling": asdict(config),
        "inputs": [[s.name, s.fingerprint()] for s in sources],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def detect_videos(
    board: Board,
    videos: dict[str, str | Path],
    *,
    sample: SamplingConfig | None = None,
    workers: int = 2,
    cache: str | Path | None = None,
    progress: bool = True,
) -> Detections:
    """Detect the board in every camera's synchronised video or image folder.

    Parameters
    ----------
    board : CharucoBoard | Checkerboard
    videos : dict camera name -> path
        A video file, a folder of images, or a glob pattern of images such as
        ``stereo/left*.jpg`` (one camera per entry; the dict's order is the
        cameras' order; images are taken in natural sort order). Frame ``k`` of every input is taken to be
        the same instant.
    sample : SamplingConfig
        Frame sampling (defaults: every 5th frame, then every frame near a
        detection; image folders are always examined whole).
    workers : int
        Cameras processed at once (threads: OpenCV releases the GIL).
    cache : path to an ``.npz`` file, optional
        Reused when its key (inputs' paths, sizes and modification times, board,
        sampling) matches; written otherwise.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    Detections

    Raises
    ------
    CalibrationError
        An input that cannot be read (named), a camera that never sees the
        board (with the usual causes), or one that sees it in fewer than
        ``sample.min_views`` frames.
    """
    config = sample or SamplingConfig()
    if not videos:
        raise CalibrationError("no calibration videos given; pass one video or image folder per camera.")
    sources = [_Source(name, Path(path)) for name, path in videos.items()]
    if isinstance(board, Checkerboard) and board.symmetric and len(sources) > 1:
        log.warning(
            "a %dx%d checkerboard looks the same after a half turn, so its corner order can differ between cameras; "
            "use a ChArUco board or a checkerboard with an odd corners_x + corners_y (e.g. 9x6) for several cameras",
            board.corners_x, board.corners_y,
        )
    key = _fingerprint_key(board, sources, config)
    if cache is not None and Path(cache).is_file():
        try:
            cached, cached_key = _load_with_key(cache)
        except CalibrationError as exc:
            log.warning("ignoring unreadable detection cache: %s", exc)
        else:
            if cached_key == key:
                log.info("board detections read from cache %s", cache)
                return cached
            log.info("detection cache %s is stale (inputs, board or sampling changed); detecting again", cache)

    lengths = np.array([s.n_frames for s in sources])
    if len(set(lengths.tolist())) > 1:
        log.warning(
            "calibration inputs differ in length (%s frames); frames are matched by index, so the inputs must start "
            "together", ", ".join(f"{s.name}: {s.n_frames}" for s in sources),
        )
    n_frames = int(lengths.max())
    is_folder = [s.images is not None for s in sources]
    step = 1 if all(is_folder) else config.step
    coarse = np.arange(0, n_frames, step)
    results = _run_pass(sources, board, [coarse] * len(sources), config, workers, progress, "board detection")

    if step > 1 and config.densify != "none":
        hits = np.array(sorted(set().union(*[r.keys() for r in results])), dtype=np.int64)
        extra = np.setdiff1d(_dense_frames(hits, step, config, n_frames), coarse)
        more = _run_pass(
            sources, board, [extra] * len(sources), config, workers, progress, "board detection (near hits)"
        )
        for res, add in zip(results, more, strict=True):
            res.update(add)
        frames = np.union1d(coarse, extra)
    else:
        frames = coarse

    corners = np.full((len(sources), frames.size, board.n_corners, 2), np.nan)
    position = {int(f): i for i, f in enumerate(frames)}
    for c, res in enumerate(results):
        for idx, (ids, pts) in res.items():
            corners[c, position[idx], ids] = pts
    det = Detections(
        cameras=tuple(s.name for s in sources),
        image_sizes=np.array([s.size for s in sources]),
        frames=frames,
        corners=corners,
        board=board,
    )
    views = det.views_per_camera()
    for c, src in enumerate(sources):
        if views[c] == 0:
            raise CalibrationError(_never_detected_message(src.name, src.path, board, int(frames.size)))
    few = [f"'{s.name}' ({views[c]})" for c, s in enumerate(sources) if views[c] < config.min_views]
    if few:
        raise CalibrationError(
            f"too few frames with the board in camera {', '.join(few)}; at least {config.min_views} are needed. "
            "Record longer, moving the board slowly through the whole image of that camera at several tilts, "
            "or lower the sampling step so that short sweeps are not skipped."
        )
    log.info("board seen in %s frames per camera", dict(zip(det.cameras, views.tolist(), strict=True)))
    if cache is not None:
        det.save(cache, key=key)
    return det


def detect_images(board: Board, folders: dict[str, str | Path], **kwargs) -> Detections:
    """:func:`detect_videos` for image folders (every image is examined)."""
    return detect_videos(board, folders, **kwargs)
