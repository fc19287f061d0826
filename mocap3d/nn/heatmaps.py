"""Heatmap + location-refinement targets, loss and decoding (DeepLabCut's scheme).

Coordinates are pixel-centre based (pixel ``i`` covers ``[i - 0.5, i + 0.5]``),
in network-input pixels. Heatmap cell ``(r, c)`` at stride ``s`` stands for the
point ``(c * s + (s - 1) / 2, r * s + (s - 1) / 2)``. A keypoint makes the
cells within ``radius`` of it positive (a disc, trained with a sigmoid
cross-entropy); those cells also learn the offset from their centre to the
keypoint divided by ``locref_stdev`` (Huber loss). Decoding takes each
heatmap's best cell and adds its predicted offset: sub-pixel positions from a
coarse grid. The likelihood is the sigmoid of the best cell's logit.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def cell_centres(n: int, stride: int) -> np.ndarray:
    """``(n,)`` network-input pixel coordinate of each heatmap cell along one axis."""
    return np.arange(n) * stride + (stride - 1) / 2.0


def make_targets(
    keypoints: np.ndarray, grid: tuple[int, int], stride: int, radius: float, locref_stdev: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets for a batch.

    Parameters
    ----------
    keypoints : (N, K, 2) network-input pixels; NaN for unlabelled keypoints (no positive cells).
    grid : (h, w) heatmap size.

    Returns
    -------
    heat : (N, K, h, w) float32 0/1 disc targets.
    locref : (N, K, 2, h, w) float32 offsets / locref_stdev (zero outside discs).
    mask : (N, K, h, w) float32, 1 on disc cells (where the locref loss counts).
    """
    h, w = grid
    cx = cell_centres(w, stride)
    cy = cell_centres(h, stride)
    kx = keypoints[..., 0, None, None]
    ky = keypoints[..., 1, None, None]
    dx = kx - cx[None, None, None, :]  # (N, K, 1, w)
    dy = ky - cy[None, None, :, None]  # (N, K, h, 1)
    with np.errstate(invalid="ignore"):
        inside = (dx**2 + dy**2) <= radius**2  # NaN compares False: unlabelled keypoints have no disc
    heat = inside.astype(np.float32)
    dxf = np.broadcast_to(np.nan_to_num(dx), inside.shape)
    dyf = np.broadcast_to(np.nan_to_num(dy), inside.shape)
    locref = np.stack([dxf, dyf], axis=2) / locref_stdev * heat[:, :, None]
    return heat, locref.astype(np.float32), heat


def pose_loss(
    heat_logits: Tensor, locref: Tensor, heat_target: Tensor, locref_target: Tensor, mask: Tensor,
    locref_weight: float = 0.05,
) -> tuple[Tensor, Tensor]:
    """(heatmap loss, locref loss): mean sigmoid cross-entropy, and Huber on disc cells (per positive cell)."""
    heat_loss = F.binary_cross_entropy_with_logits(heat_logits, heat_target)
    diff = F.huber_loss(locref, locref_target, reduction="none", delta=1.0).sum(2)
    loc_loss = (diff * mask).sum() / mask.sum().clamp(min=1.0)
    return heat_loss, locref_weight * loc_loss


def decode(heat_logits: np.ndarray | Tensor, locref: np.ndarray | Tensor, stride: int, locref_stdev: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints from network outputs.

    heat_logits ``(N, K, h, w)``, locref ``(N, K, 2, h, w)`` (torch or numpy).
    Returns ``xy (N, K, 2)`` in network-input pixels (float64) and likelihood ``(N, K)`` in [0, 1].
    """
    if isinstance(heat_logits, Tensor):
        heat_logits = heat_logits.detach().float().cpu().numpy()
    if isinstance(locref, Tensor):
        locref = locref.detach().float().cpu().numpy()
    n, k, h, w = heat_logits.shape
    flat = heat_logits.reshape(n, k, h * w)
    best = flat.argmax(-1)  # (N, K)
    logit = np.take_along_axis(flat, best[..., None], -1)[..., 0].astype(np.float64)
    offsets = np.take_along_axis(locref.reshape(n, k, 2, h * w), best[:, :, None, None], -1)[..., 0]
    row, col = np.divmod(best, w)
    xy = np.stack([cell_centres(w, stride)[col], cell_centres(h, stride)[row]], axis=-1)
    xy = xy + offsets.astype(np.float64) * locref_stdev
    with np.errstate(over="ignore"):
        score = 1.0 / (1.0 + np.exp(-logit))
    return xy, score


def to_tensor(*arrays: np.ndarray) -> tuple[Tensor, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
