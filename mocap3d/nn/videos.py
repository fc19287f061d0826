"""Videos for the networks: frames decoded in a background thread, output names, labelled videos, the predictor.

The analysis itself (a video's keypoints into DeepLabCut's ``.h5``) is the
analyze stage, :mod:`mocap3d.nn.analyze_stage`; this module holds what it
reads and draws with: :func:`read_batches`, :func:`output_path`
(``<video stem>DLC_<scorer>.h5``, the name ``mocap3d triangulate`` matches to
its camera), :func:`write_labelled_video` and :func:`load_predictor` (torch or
ONNX Runtime).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .config import NetworkError
from .evaluate import colours, draw_skeleton
from .predict import Predictor

log = logging.getLogger(__name__)


def video_info(path: str | Path) -> tuple[int, int, int, float]:
    """``(width, height, frame count (0 when unknown), fps)`` of a video file."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise NetworkError(f"cannot open video {path}; is it a video file OpenCV can decode (mp4, avi)?")
    try:
        return (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))), float(cap.get(cv2.CAP_PROP_FPS) or 0.0))
    finally:
        cap.release()


def read_batches(path: str | Path, batch_size: int, max_frames: int | None = None, prefetch: int = 3
                 ) -> Iterator[np.ndarray]:
    """RGB uint8 batches ``(B, H, W, 3)`` of a video, decoded in a background thread.

    The decoder runs ahead by up to ``prefetch`` batches while the caller
    runs the network (OpenCV's decoder releases the GIL), so neither waits
    for the other.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise NetworkError(f"cannot open video {path}; is it a video file OpenCV can decode (mp4, avi)?")
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def work() -> None:
        try:
            done = 0
            while not stop.is_set():
                frames: list[np.ndarray] = []
                while len(frames) < batch_size and (max_frames is None or done < max_frames):
                    ok, frame = cap.read()
                    if not ok:
                        break
                    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                    done += 1
                if not frames:
                    break
                q.put(np.stack(frames))
        except Exception as exc:  # handed to the consumer, which re-raises it
            q.put(exc)
        finally:
            cap.release()
            q.put(None)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                break
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def dlc_scorer_name(scorer: str) -> str:
    """The scorer written in the table and the file name: DeepLabCut's start with ``DLC``."""
    return scorer if scorer.startswith("DLC") else f"DLC_{scorer}"


def output_path(video: str | Path, out_dir: str | Path | None, scorer: str, with_scorer: bool = True) -> Path:
    """``<video stem>DLC_<scorer>.h5``, the name DeepLabCut's tools look for (``<stem>.h5`` without the scorer)."""
    from ..io.pose2d import dlc_analysis_name

    video = Path(video)
    name = dlc_analysis_name(video, scorer) if with_scorer else f"{video.stem}.h5"
    return (Path(out_dir) if out_dir else video.parent) / name


def draw_pose(frame: np.ndarray, xy: np.ndarray, score: np.ndarray, bodyparts: tuple[str, ...], pcutoff: float,
              skeleton: list[tuple[str, str]] | None = None, cols: np.ndarray | None = None) -> np.ndarray:
    """A copy of an RGB frame with the skeleton and the body parts above ``pcutoff``."""
    out = frame.copy()
    ok = score >= pcutoff
    draw_skeleton(out, xy, ok, bodyparts, skeleton)
    cols = colours(len(bodyparts)) if cols is None else cols
    for k in np.flatnonzero(ok):
        cv2.circle(out, (int(round(xy[k, 0])), int(round(xy[k, 1]))), 4, tuple(int(v) for v in cols[k]), -1,
                   cv2.LINE_AA)
    return out


def write_labelled_video(video: str | Path, xy: np.ndarray, score: np.ndarray, bodyparts: tuple[str, ...],
                         out: str | Path, pcutoff: float, skeleton: list[tuple[str, str]] | None, fps: float) -> Path:
    """The video with predictions drawn (H.264 MP4 that browsers play, written atomically)."""
    from ..io.video import h264_writer

    w, h, _, _ = video_info(video)
    cols = colours(len(bodyparts))
    even = (w // 2 * 2, h // 2 * 2)  # yuv420p needs even sizes
    with h264_writer(out, even, fps) as write:
        i = 0
        for batch in read_batches(video, 32, len(xy)):
            for frame in batch:
                drawn = draw_pose(frame, xy[i], score[i], bodyparts, pcutoff, skeleton, cols)
                write(np.ascontiguousarray(drawn[: even[1], : even[0]]))
                i += 1
    return Path(out)


def _auto_backend(model_path: Path, device: str) -> str:
    """``"onnx"`` on the CPU when ONNX Runtime is installed and ``model.onnx`` can be written beside the model
    (about 6x torch's frames/s on 2 cores for ``lite0``), else ``"torch"`` (GPUs, read-only model folders)."""
    import importlib.util
    import os

    if not device.startswith("cpu") or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    onnx_path = model_path.with_suffix(".onnx")
    if onnx_path.is_file() and onnx_path.stat().st_mtime >= model_path.stat().st_mtime:
        return "onnx"
    if not os.access(model_path.parent, os.W_OK):
        log.info("analysing with torch: %s is read-only, so model.onnx cannot be written there", model_path.parent)
        return "torch"
    return "onnx"


def load_predictor(model_path: str | Path, backend: str = "auto", device: str = "cpu"):
    """``(Predictor, ModelInfo)`` for a trained network; ``backend="onnx"`` uses ``model.onnx`` beside
    ``model.pt``, written first when it is missing, older than ``model.pt`` or unreadable (a truncated copy);
    ``"auto"`` is ONNX Runtime on the CPU where it can be (see :func:`_auto_backend`), torch otherwise."""
    from .predict import export_onnx
    from .train import load_model

    model_path = Path(model_path)
    net, info = load_model(model_path)
    if backend == "auto":
        backend = _auto_backend(model_path, device)
    if backend == "onnx":
        onnx_path = model_path.with_suffix(".onnx")
        if not onnx_path.is_file() or onnx_path.stat().st_mtime < model_path.stat().st_mtime:
            export_onnx(net, onnx_path)
        try:
            return Predictor(None, info.config.model, backend="onnx", onnx_path=onnx_path), info
        except NetworkError as exc:
            log.warning("%s; exporting it again from %s", exc, model_path.name)
            export_onnx(net, onnx_path)
            return Predictor(None, info.config.model, backend="onnx", onnx_path=onnx_path), info
    return Predictor(net, info.config.model, backend=backend, device=device), info
