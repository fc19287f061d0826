"""Inference on images: resize, pad, run the network (torch or ONNX Runtime), decode to image pixels.

Frames are RGB uint8 ``(B, H, W, 3)``. With ``input_scale x test_scale`` ``s`` a frame is
resized to ``round(W s) x round(H s)`` (pixel-centre aligned: ``x' = (x +
0.5) s - 0.5``), padded at the bottom/right to multiples of 32, and the
decoded keypoints are mapped back to full-image pixels.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from ..io.atomic import atomic_path
from .config import ModelConfig, NetworkError
from .heatmaps import decode
from .models import PoseNet

log = logging.getLogger(__name__)


def _pad32(n: int) -> int:
    return -(-n // 32) * 32


class Predictor:
    """Keypoints of frames with a trained network.

    ``backend``: ``"torch"`` (eager, ``device``) or ``"onnx"`` (ONNX Runtime on
    CPU from ``onnx_path``). ``predict`` returns ``points (B, K, 2)`` in image
    pixels and ``scores (B, K)`` (likelihood in [0, 1]).
    """

    def __init__(self, model: PoseNet | None, config: ModelConfig, *, backend: str = "torch", device: str = "cpu",
                 onnx_path: str | Path | None = None, threads: int = 0) -> None:
        self.config = config
        self.backend = backend
        self.device = torch.device(device)
        if backend == "torch":
            if model is None:
                raise NetworkError("the torch backend needs a model")
            self.model = model.to(self.device).eval()
        elif backend == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            if onnx_path is None or not Path(onnx_path).is_file():
                raise NetworkError(f"ONNX model {onnx_path} not found; export it first (mocap3d export-onnx).")
            try:
                self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime's own error types (InvalidProtobuf, Fail...)
                raise NetworkError(
                    f"{onnx_path} cannot be read as an ONNX model ({type(exc).__name__}); export it again "
                    "with 'mocap3d export-onnx MODEL.pt --overwrite'."
                ) from None
        else:
            raise NetworkError(f"unknown backend '{backend}'; use torch or onnx.")

    def input_size(self, width: int, height: int) -> tuple[int, int, float, float]:
        """``(resized w, resized h, sx, sy)`` for a ``width x height`` frame."""
        s = self.config.input_scale * self.config.test_scale
        rw, rh = max(1, round(width * s)), max(1, round(height * s))
        return rw, rh, rw / width, rh / height

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        """``(B, H, W, 3)`` uint8 -> ``(B, 3, H', W')`` float32 (resized, padded to multiples of 32)."""
        b, h, w, _ = frames.shape
        rw, rh, _, _ = self.input_size(w, h)
        out = np.zeros((b, 3, _pad32(rh), _pad32(rw)), np.float32)
        # Bilinear, as training samples its crops (cv2.warpAffine, INTER_LINEAR): the network sees frames as it
        # learnt them, and a 640x480 frame resizes in 0.09 ms instead of INTER_AREA's 0.93 (a seventh of a frame's
        # budget at 150 frames/s). OpenCV resizes one image at a time (multi-threaded inside).
        for i in range(b):
            img = frames[i] if (rw, rh) == (w, h) else cv2.resize(frames[i], (rw, rh), interpolation=cv2.INTER_LINEAR)
            out[i, :, :rh, :rw] = img.transpose(2, 0, 1)
        return out

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network outputs (heatmap logits, locref) for a preprocessed batch."""
        if self.backend == "onnx":
            heat, loc = self.session.run(None, {"images": batch})
            return heat, loc
        with torch.inference_mode():
            heat, loc = self.model(torch.from_numpy(batch).to(self.device))
        return heat.float().cpu().numpy(), loc.float().cpu().numpy()

    def predict(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise NetworkError(f"frames must be (B, H, W, 3) RGB, got shape {frames.shape}")
        b, h, w, _ = frames.shape
        _, _, sx, sy = self.input_size(w, h)
        heat, loc = self.run(self.preprocess(frames))
        xy, score = decode(heat, loc, self.config.output_stride, self.config.locref_stdev)
        xy[..., 0] = (xy[..., 0] + 0.5) / sx - 0.5
        xy[..., 1] = (xy[..., 1] + 0.5) / sy - 0.5
        return xy, score


def export_onnx(model: PoseNet, path: str | Path, example_size: tuple[int, int] = (640, 480), opset: int = 17) -> Path:
    """Write the network as ONNX (input ``images (N, 3, H, W)`` float 0..255, outputs ``heatmaps``, ``locref``).

    Batch, height and width are dynamic (height and width multiples of 32).
    Written atomically.
    """
    model = model.cpu().eval()
    w, h = (_pad32(v) for v in example_size)
    x = torch.zeros(1, 3, h, w)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its successor; it needs no onnxscript
        torch.onnx.export(model, (x,), str(tmp), input_names=["images"], output_names=["heatmaps", "locref"],
                          dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}}, opset_version=opset,
                          dynamo=False)
    return Path(path)
