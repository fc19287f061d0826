"""Frames to label: uniform or k-means selection per video, written as PNGs plus an index.

``extract_frames(video, folder, n, method)`` writes
``<folder>/img<frame number>.png``, zero-padded to the digits of the frame
count (DeepLabCut's naming, so the label tools and DeepLabCut itself find
them) and ``<folder>/frames.csv``
(``image,frame,time_s``). k-means clusters downsampled grey frames and keeps
the frame nearest each cluster centre, so that rare postures are labelled as
well as common ones (DeepLabCut's ``kmeans`` method). Already extracted
frames are kept; a re-run adds only what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.cluster.vq import kmeans2

from ..io.atomic import atomic_path, atomic_write_text
from .config import NetworkError
from .videos import read_batches, video_info

log = logging.getLogger(__name__)


@dataclass
class FrameSelection:
    video: Path
    frames: np.ndarray  # chosen frame numbers, sorted
    images: list[Path]
    index: Path


def uniform_frames(n_total: int, n: int, start: float = 0.0, stop: float = 1.0) -> np.ndarray:
    """``n`` evenly spaced frame numbers within the ``[start, stop)`` fraction of the video."""
    lo, hi = int(start * n_total), max(int(start * n_total) + 1, int(stop * n_total))
    n = min(n, hi - lo)
    return np.unique(np.linspace(lo, hi - 1, n).round().astype(int))


def kmeans_frames(thumbnails: np.ndarray, frame_numbers: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The frame nearest each of ``n`` k-means centres of ``thumbnails (frames, pixels)``."""
    n = min(n, len(thumbnails))
    x = thumbnails.astype(np.float64)
    x -= x.mean(0)
    centres, labels = kmeans2(x, n, minit="++", seed=np.random.default_rng(seed))
    d = ((x[:, None, :] - centres[None]) ** 2).sum(-1)  # (frames, clusters)
    d[np.arange(len(x)), :] += np.where(labels[:, None] == np.arange(n)[None], 0.0, np.inf)
    picked = [int(np.argmin(d[:, c])) for c in range(n) if np.isfinite(d[:, c]).any()]
    return np.unique(frame_numbers[picked])


def _thumbnails(video: Path, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey ``size``-wide thumbnails of every ``step``-th frame: ``(frames, pixels)`` and their numbers."""
    thumbs, numbers = [], []
    i = 0
    for batch in read_batches(video, 64):
        for frame in batch:
            if i % step == 0:
                h, w = frame.shape[:2]
                grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
                small = cv2.resize(grey, (size, max(1, round(h * size / w))), interpolation=cv2.INTER_AREA)
                thumbs.append(small.ravel())
                numbers.append(i)
            i += 1
    return np.array(thumbs), np.array(numbers)


def read_frames(video: str | Path, numbers: np.ndarray) -> dict[int, np.ndarray]:
    """RGB frames by number (sequential decoding: exact on every codec)."""
    wanted = set(int(n) for n in numbers)
    out: dict[int, np.ndarray] = {}
    i = 0
    last = max(wanted) if wanted else -1
    for batch in read_batches(video, 32, last + 1):
        for frame in batch:
            if i in wanted:
                out[i] = frame
            i += 1
    return out


def extract_frames(video: str | Path, folder: str | Path, n: int = 20, method: str = "kmeans", seed: int = 0,
                   start: float = 0.0, stop: float = 1.0, step: int | None = None, thumb: int = 32) -> FrameSelection:
    """Choose ``n`` frames of ``video`` and write them as PNGs + ``frames.csv`` into ``folder``.

    ``method``: ``"uniform"`` or ``"kmeans"`` (on ``thumb``-pixel-wide grey
    thumbnails of every ``step``-th frame, default: enough for ~1000 candidates).
    """
    video, folder = Path(video), Path(folder)
    _, _, n_total, fps = video_info(video)
    if method not in ("uniform", "kmeans"):
        raise NetworkError(f"unknown frame selection '{method}'; use uniform or kmeans.")
    if n_total <= 0:
        raise NetworkError(f"{video}: the container does not say how many frames it has; re-encode it (ffmpeg).")
    if method == "uniform":
        chosen = uniform_frames(n_total, n, start, stop)
    else:
        step = step or max(1, n_total // 1000)
        thumbs, numbers = _thumbnails(video, step, thumb)
        keep = (numbers >= start * n_total) & (numbers < stop * n_total)
        chosen = kmeans_frames(thumbs[keep], numbers[keep], n, seed)
    digits = max(1, int(np.ceil(np.log10(max(n_total, 2)))))  # DeepLabCut's rule (as mocap3d outliers names them)
    frames = read_frames(video, chosen)
    images = []
    for number in chosen:
        path = folder / f"img{int(number):0{digits}d}.png"
        if not path.exists():
            with atomic_path(path) as tmp:
                cv2.imwrite(str(tmp), cv2.cvtColor(frames[int(number)], cv2.COLOR_RGB2BGR))
        images.append(path)
    index = folder / "frames.csv"
    rows = ["image,frame,time_s"] + [f"{p.name},{int(f)},{(f / fps if fps else float('nan')):.4f}"
                                     for p, f in zip(images, chosen, strict=True)]
    atomic_write_text(index, "\n".join(rows) + "\n")
    log.info("%s: %d frames (%s) -> %s", video.name, len(chosen), method, folder)
    return FrameSelection(video, np.asarray(chosen), images, index)
