"""Keypoint-consistent augmentation: one affine warp per sample, then photometric changes.

Geometry (scale, rotation, crop position, left/right flip) is a single 2x3
affine matrix ``M`` from source-image pixels to crop pixels; the image goes
through ``cv2.warpAffine`` with ``M`` and the keypoints through the same
matrix, so they stay on the same pixels (pixel-centre convention on both
sides). A flip also swaps the names of symmetric body parts (``flip_index``:
for each keypoint, the index of its mirror partner). Photometric changes
(brightness, contrast, blur, noise, occluding patches) leave keypoints where
they are. Every random draw comes from the caller's ``numpy`` generator, so a
seed reproduces a sample exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import AugmentConfig


def affine_matrix(centre: np.ndarray, out_size: tuple[int, int], scale: float, angle_deg: float, flip: bool
                  ) -> np.ndarray:
    """``(2, 3)`` matrix: source pixel -> crop pixel.

    ``centre`` (x, y) in the source lands on the crop's centre; the source is
    scaled by ``scale``, rotated by ``angle_deg`` (counter-clockwise on screen)
    and, with ``flip``, mirrored left/right about the centre.
    """
    w, h = out_size
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    linear = scale * np.array([[c, s], [-s, c]])  # y points down: this turns counter-clockwise on screen
    if flip:
        linear = linear @ np.diag([-1.0, 1.0])
    out_centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    return np.hstack([linear, (out_centre - linear @ np.asarray(centre, float))[:, None]])


def transform_points(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to ``(..., 2)`` points (NaN stays NaN)."""
    return points @ M[:, :2].T + M[:, 2]


def warp_image(image: np.ndarray, M: np.ndarray, out_size: tuple[int, int], border: int = 0) -> np.ndarray:
    """The image seen through ``M``; outside the source is filled with ``border``."""
    return cv2.warpAffine(image, M, out_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(border, border, border))


def sample_geometry(rng: np.random.Generator, keypoints: np.ndarray, image_size: tuple[int, int], base_scale: float,
                    cfg: AugmentConfig, can_flip: bool) -> tuple[np.ndarray, bool]:
    """Draw one crop: ``(M, flipped)``. ``keypoints (K, 2)`` source pixels (NaN allowed)."""
    w, h = image_size
    scale = base_scale * rng.uniform(*cfg.scale_range)
    angle = rng.uniform(-cfg.rotation_deg, cfg.rotation_deg)
    flip = bool(can_flip and cfg.flip and rng.random() < 0.5)
    seen = keypoints[np.isfinite(keypoints).all(-1)]
    on_animal = rng.random() < cfg.crop_on_animal
    if on_animal and len(seen):
        # somewhere between the animal's centre and one of its keypoints, jittered by a quarter crop
        anchor = seen[rng.integers(len(seen))]
        centre = 0.5 * (anchor + seen.mean(0))
        half = np.array(cfg.crop_size, float) / (2 * scale)
        centre = centre + rng.uniform(-0.5, 0.5, 2) * half
    else:
        centre = rng.uniform([0, 0], [w - 1, h - 1])
    return affine_matrix(centre, cfg.crop_size, scale, angle, flip), flip


def photometric(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Brightness/contrast/blur/noise/occluding patches on a uint8 ``(H, W, 3)`` image (a new array)."""
    h, w = image.shape[:2]
    img = image.astype(np.float32)
    alpha = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
    beta = 255.0 * rng.uniform(-cfg.brightness, cfg.brightness)
    img = (img - img.mean()) * alpha + img.mean() + beta
    if rng.random() < cfg.blur_prob:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, cfg.blur_sigma))
    if cfg.noise_std > 0:
        img += rng.normal(0, cfg.noise_std, img.shape).astype(np.float32)
    if rng.random() < cfg.occlusion_prob:
        side = max(2, int(cfg.occlusion_size * min(h, w)))
        pw, ph = rng.integers(2, side + 1, 2)
        x0, y0 = rng.integers(0, w - pw + 1), rng.integers(0, h - ph + 1)
        img[y0:y0 + ph, x0:x0 + pw] = rng.uniform(0, 255)
    return np.clip(img, 0, 255).astype(np.uint8)


def augment(image: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig,
            base_scale: float = 1.0, flip_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One training sample.

    image ``(H, W, 3)`` uint8, keypoints ``(K, 2)`` source pixels (NaN: not labelled).
    Returns the crop ``(crop_h, crop_w, 3)`` uint8 and its keypoints ``(K, 2)``;
    keypoints that leave the crop become NaN (no target).
    """
    h, w = image.shape[:2]
    M, flipped = sample_geometry(rng, keypoints, (w, h), base_scale, cfg, flip_index is not None)
    crop = photometric(warp_image(image, M, cfg.crop_size), rng, cfg)
    out = transform_points(keypoints, M)
    if flipped and flip_index is not None:
        out = out[flip_index]
    cw, ch = cfg.crop_size
    outside = (out[:, 0] < -0.5) | (out[:, 0] > cw - 0.5) | (out[:, 1] < -0.5) | (out[:, 1] > ch - 0.5)
    out[outside] = np.nan
    return crop, out


def flip_index(bodyparts: tuple[str, ...] | list[str], pairs: list[tuple[str, str]]) -> np.ndarray:
    """For each body part, the index of its left/right partner (itself when it has none)."""
    index = {name: i for i, name in enumerate(bodyparts)}
    out = np.arange(len(bodyparts))
    for a, b in pairs:
        if a not in index or b not in index:
            from .config import NetworkError

            raise NetworkError(f"symmetric pair ({a}, {b}) names a body part not in {list(bodyparts)}.")
        out[index[a]], out[index[b]] = index[b], index[a]
    return out
