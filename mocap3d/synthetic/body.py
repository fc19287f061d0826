"""Film the sample walker as a body, not as dots: shaded, textured capsules along its skeleton, in a room.

Every output pixel is traced back through its camera's true lens exactly as the
calibration board renderer does (:func:`mocap3d.calibration.render._lens_field`:
the pixel is undistorted to a ray with the camera's distortion model), and the
ray is intersected analytically with

* the body: capsules (a cylinder with round ends) along the skeleton's bones
  and a sphere for the head, each with its cloth or skin colour and a woven
  texture, lit by a directional light (Lambert) plus ambient light; the nearest
  hit wins, so body parts hide each other as they do on a real subject;
* the room: a tiled floor (``z = 0``) with grout lines and a tile-to-tile
  colour change, panelled walls, and the body's shadow on the floor.

Keypoints are never drawn: they are the bones' end points, inside the body.
Ground truth beside the videos (``animal_truth.npz``): 3D points, their exact
pixels in every camera (``CameraRig.project``, the same lens model the pixels
were traced with) and their visibility (the keypoint's own body surface is the
first thing its ray meets, and it lies in the image).

Speed: the floor and walls are traced once per camera; each frame only traces
each capsule's own bounding box in the image (and the shadow's box on the
floor), so a frame costs a few milliseconds per body part.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..calibration.render import _lens_field, render_key, up_to_date
from ..camera import CameraRig
from ..errors import MocapError
from ..io.atomic import atomic_path, atomic_write_text
from ..io.video import h264_writer

__all__ = ["BodyRenderConfig", "BODY", "Capsule", "TRUTH_FILE", "render_body_frame", "render_body_videos",
           "keypoint_visibility", "load_truth", "video_name"]  # fmt: skip

log = logging.getLogger(__name__)

TRUTH_FILE = "animal_truth.npz"


@dataclass(frozen=True)
class Capsule:
    """A body part: a capsule from keypoint (or derived point) ``a`` to ``b`` of radius ``radius`` (mm)."""

    a: str
    b: str
    radius: float
    material: str


# Colours are linear reflectances (RGB). The left sleeve and trouser leg are lighter than the right ones
# (a two-tone suit), so that left and right can be told apart in a single image, as on a marked subject.
MATERIALS: dict[str, tuple[float, float, float]] = {
    "skin": (0.80, 0.58, 0.45), "hair": (0.18, 0.12, 0.08), "shirt": (0.70, 0.16, 0.12),
    "sleeve_l": (0.92, 0.72, 0.20), "sleeve_r": (0.55, 0.10, 0.10), "trousers_l": (0.30, 0.45, 0.80),
    "trousers_r": (0.10, 0.14, 0.35), "shoe_l": (0.85, 0.85, 0.82), "shoe_r": (0.12, 0.12, 0.12),
}  # fmt: skip
_MATERIAL_INDEX = {name: i + 1 for i, name in enumerate(MATERIALS)}  # 0: no body

BODY: tuple[Capsule, ...] = (
    Capsule("head", "head", 105.0, "hair"),
    Capsule("neck", "head", 48.0, "skin"),
    Capsule("neck", "pelvis", 120.0, "shirt"),
    Capsule("l_shoulder", "l_hip", 78.0, "shirt"),
    Capsule("r_shoulder", "r_hip", 78.0, "shirt"),
    Capsule("neck", "l_shoulder", 62.0, "shirt"),
    Capsule("neck", "r_shoulder", 62.0, "shirt"),
    Capsule("l_shoulder", "l_elbow", 48.0, "sleeve_l"),
    Capsule("r_shoulder", "r_elbow", 48.0, "sleeve_r"),
    Capsule("l_elbow", "l_wrist", 38.0, "skin"),
    Capsule("r_elbow", "r_wrist", 38.0, "skin"),
    Capsule("l_wrist", "l_hand", 42.0, "skin"),
    Capsule("r_wrist", "r_hand", 42.0, "skin"),
    Capsule("pelvis", "l_hip", 88.0, "trousers_l"),
    Capsule("pelvis", "r_hip", 88.0, "trousers_r"),
    Capsule("l_hip", "l_knee", 70.0, "trousers_l"),
    Capsule("r_hip", "r_knee", 70.0, "trousers_r"),
    Capsule("l_knee", "l_ankle", 52.0, "trousers_l"),
    Capsule("r_knee", "r_ankle", 52.0, "trousers_r"),
    Capsule("l_ankle", "l_heel", 40.0, "shoe_l"),
    Capsule("r_ankle", "r_heel", 40.0, "shoe_r"),
    Capsule("l_heel", "l_toe", 36.0, "shoe_l"),
    Capsule("r_heel", "r_toe", 36.0, "shoe_r"),
    Capsule("l_ankle", "l_toe", 36.0, "shoe_l"),
    Capsule("r_ankle", "r_toe", 36.0, "shoe_r"),
)


@dataclass(frozen=True)
class BodyRenderConfig:
    """How the body and the room are filmed.

    Attributes
    ----------
    supersample : int
        Rays per pixel along each axis (anti-aliasing).
    light : (x, y, z)
        Direction towards the (distant) light, world frame.
    ambient : float
        Fraction of the light that reaches every surface (shadowed ones too).
    shadow : float
        Fraction of the direct light the body takes away from the floor in its shadow.
    tile_mm : float
        Floor tile side.
    room_mm : (half length x, half width y, height)
        The room's walls and ceiling around the world origin.
    blur_sigma, noise_sigma : float
        Optical blur (px) and sensor noise (grey levels).
    exposure : float
        Grey level of a white surface in full light.
    crf : int
        H.264 constant quality.
    seed : int
    """

    supersample: int = 2
    light: tuple[float, float, float] = (0.35, -0.45, 1.0)
    ambient: float = 0.38
    shadow: float = 0.7
    tile_mm: float = 500.0
    room_mm: tuple[float, float, float] = (9000.0, 9000.0, 4000.0)
    blur_sigma: float = 0.5
    noise_sigma: float = 1.5
    exposure: float = 235.0
    crf: int = 18
    seed: int = 0

    def __post_init__(self) -> None:
        if self.supersample < 1:
            raise MocapError("body rendering: supersample must be >= 1.")


def video_name(camera: str) -> str:
    """``cam-<name>.mp4``: ``mocap3d calibrate`` and ``triangulate`` read the camera name back from it."""
    return f"cam-{camera}.mp4"


# --------------------------------------------------------------------------- geometry
def body_points(points: np.ndarray, keypoints: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Keypoints by name (..., 3), plus the hands' far ends (derived: 90 mm on from the wrist along the forearm)."""
    idx = {k: i for i, k in enumerate(keypoints)}
    named = {k: points[..., i, :] for k, i in idx.items()}
    for side in ("l", "r"):
        if f"{side}_wrist" in named and f"{side}_elbow" in named:
            fore = named[f"{side}_wrist"] - named[f"{side}_elbow"]
            fore = fore / np.maximum(np.linalg.norm(fore, axis=-1, keepdims=True), 1e-9)
            named[f"{side}_hand"] = named[f"{side}_wrist"] + 90.0 * fore
    return named


def _check_body(keypoints: tuple[str, ...]) -> None:
    have = set(body_points(np.zeros((len(keypoints), 3)), keypoints))
    missing = sorted({n for c in BODY for n in (c.a, c.b)} - have)
    if missing:
        raise MocapError(f"the body model needs keypoints {missing}, which the recording does not have.")


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", x, y)


def capsule_hit(o: np.ndarray, d: np.ndarray, a: np.ndarray, b: np.ndarray, r: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """First intersection of rays ``o + t d`` (t > 0) with capsules; ``(t, axial fraction)``, t = inf on a miss.

    All of ``o``, ``d`` (rays; ``d`` need not be unit length), ``a`` and ``b`` (the capsule's axis
    ends) broadcast against each other (..., 3). The axial fraction (0 at ``a``, 1 at ``b``) of the
    hit's nearest axis point gives the surface normal. ``a == b``: a sphere.
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ba = b - a
        oa = o - a
        baba, dd, bard = _dot(ba, ba), _dot(d, d), _dot(d, ba)
        baoa, rdoa, oaoa = _dot(oa, ba), _dot(d, oa), _dot(oa, oa)
        # the cylinder's side
        qa = baba * dd - bard * bard
        qb = baba * rdoa - baoa * bard
        qc = baba * oaoa - baoa * baoa - r * r * baba
        h = qb * qb - qa * qc
        ok = (h >= 0) & (qa > 1e-12 * np.maximum(baba * dd, 1e-300))
        tc = np.where(ok, (-qb - np.sqrt(np.where(ok, h, 0.0))) / np.where(ok, qa, 1.0), np.inf)
        y = baoa + tc * bard
        t = np.where(ok & (tc > 0) & (y > 0) & (y < baba), tc, np.inf)
        for end in (a, b):  # the round ends
            oc = o - end
            bb = _dot(d, oc)
            cc = _dot(oc, oc) - r * r
            h = bb * bb - dd * cc
            ok = h >= 0
            ts = np.where(ok, (-bb - np.sqrt(np.where(ok, h, 0.0))) / dd, np.inf)
            t = np.where(ok & (ts > 0) & (ts < t), ts, t)
        frac = np.clip(np.where(baba > 1e-12, (baoa + t * bard) / np.where(baba > 1e-12, baba, 1.0), 0.0), 0, 1)
    return t, np.where(np.isfinite(t), frac, 0.0)


def _camera_ray_hit(d: np.ndarray, dd: np.ndarray, a: np.ndarray, b: np.ndarray, r: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`capsule_hit` for rays from the origin (camera coordinates), ``dd = |d|^2`` given: two matrix
    products per capsule, the rest is arithmetic on the box's pixels."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ba = b - a
        baba = float(ba @ ba)
        da, bard = d @ a, d @ ba
        baoa, aa = -float(a @ ba), float(a @ a)
        t = np.full(da.shape, np.inf)
        if baba > 1e-12:
            qa = baba * dd - bard * bard
            qb = -baba * da - baoa * bard
            qc = baba * aa - baoa * baoa - r * r * baba
            h = qb * qb - qa * qc
            ok = (h >= 0) & (qa > 1e-12 * baba * dd)
            tc = (-qb - np.sqrt(np.where(ok, h, 0.0))) / np.where(ok, qa, 1.0)
            y = baoa + tc * bard
            t = np.where(ok & (tc > 0) & (y > 0) & (y < baba), tc, t)
        for bb, cc in ((-da, aa - r * r), (-da - bard, float(b @ b) - r * r)):  # the round ends
            h = bb * bb - dd * cc
            ok = h >= 0
            ts = (-bb - np.sqrt(np.where(ok, h, 0.0))) / dd
            t = np.where(ok & (ts > 0) & (ts < t), ts, t)
        frac = np.clip((baoa + t * bard) / baba, 0, 1) if baba > 1e-12 else np.zeros(t.shape)
    return t, np.where(np.isfinite(t), frac, 0.0)


def _room_trace(origin: np.ndarray, rays: np.ndarray, cfg: BodyRenderConfig) -> tuple[np.ndarray, np.ndarray]:
    """Hit distance ``t`` and surface code (0 floor, 1 wall, 2 ceiling) of world rays from inside the room."""
    hx, hy, hz = cfg.room_mm
    with np.errstate(divide="ignore", invalid="ignore"):
        cand = [np.where(rays[..., 2] < 0, -origin[2] / rays[..., 2], np.inf),
                np.where(rays[..., 2] > 0, (hz - origin[2]) / rays[..., 2], np.inf)]  # fmt: skip
        walls = [np.where(rays[..., i] > 0, (h - origin[i]) / rays[..., i],
                          np.where(rays[..., i] < 0, (-h - origin[i]) / rays[..., i], np.inf))
                 for i, h in ((0, hx), (1, hy))]  # fmt: skip
    wall = np.minimum(*walls)
    t = np.minimum(np.minimum(cand[0], cand[1]), wall)
    code = np.where(t == cand[0], 0, np.where(t == wall, 1, 2))
    return t, code


def _hash01(*ints: np.ndarray) -> np.ndarray:
    """A repeatable pseudo-random value in [0, 1) per integer cell."""
    h: np.ndarray = np.zeros(np.broadcast(*ints).shape, np.uint32)
    for i, v in enumerate(ints):
        h = h ^ (np.asarray(v).astype(np.int64) * (0x9E3779B1 + 0x85EBCA77 * i) & 0xFFFFFFFF).astype(np.uint32)
        h = (h ^ (h >> 15)) * np.uint32(0x2C1B3C6D)
        h = h ^ (h >> 12)
    return (h & 0xFFFFFF).astype(np.float32) / float(0x1000000)


def _room_colour(p: np.ndarray, code: np.ndarray, cfg: BodyRenderConfig) -> np.ndarray:
    """Reflectance (..., 3) of the room at world points ``p``: tiles with grout on the floor, panels on the walls."""
    tile = cfg.tile_mm
    ix, iy = np.floor(p[..., 0] / tile), np.floor(p[..., 1] / tile)
    fx, fy = p[..., 0] / tile - ix, p[..., 1] / tile - iy
    grout = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy)) * tile < 6.0
    shade = 0.8 + 0.2 * _hash01(ix, iy)
    fine = 0.93 + 0.07 * _hash01(np.floor(p[..., 0] / 23.0), np.floor(p[..., 1] / 23.0))  # speckle: texture
    floor = np.stack([0.62 * shade, 0.52 * shade, 0.40 * shade], -1) * fine[..., None]
    checker = ((ix + iy) % 2 == 0)[..., None]
    floor = np.where(checker, floor, floor * np.array([0.82, 0.86, 0.9]))
    floor = np.where(grout[..., None], 0.25, floor)
    u = np.where(np.abs(p[..., 0]) >= cfg.room_mm[0] - 1, p[..., 1], p[..., 0])
    panel = (np.abs(u / 1000.0 - np.round(u / 1000.0)) * 1000.0 < 8) | (np.abs(p[..., 2] - 1000.0) < 10)
    wall = np.where(panel[..., None], 0.45, np.array([0.70, 0.72, 0.74]) * (0.95 + 0.05 * _hash01(np.floor(u / 50))
                                                                              )[..., None])  # fmt: skip
    ceiling = np.full(p.shape, 0.8)
    return np.where((code == 0)[..., None], floor, np.where((code == 1)[..., None], wall, ceiling)).astype(np.float32)


# --------------------------------------------------------------------------- one camera
class _CameraRenderer:
    """Everything per camera that does not change between frames: rays, the lit room."""

    def __init__(self, rig: CameraRig, cam: int, cfg: BodyRenderConfig) -> None:
        self.cfg, self.cam = cfg, cam
        s = cfg.supersample
        self.size = (int(rig.sizes[cam][0]), int(rig.sizes[cam][1]))
        self.R, self.t = rig.R[cam], rig.tvec[cam]
        self.center = rig.centers()[cam]
        self.single = rig.select([rig.names[cam]])
        field = _lens_field(rig, cam, s).astype(np.float64)
        self.rays_cam = np.concatenate([field, np.ones(field.shape[:2] + (1,))], -1)  # (Hs, Ws, 3), z = 1
        self.ray_dd = np.einsum("...i,...i->...", self.rays_cam, self.rays_cam)
        rays_world = self.rays_cam @ self.R  # R^T d, row-wise
        t, code = _room_trace(self.center, rays_world, cfg)
        p = self.center + t[..., None] * rays_world
        self.floor_point = np.where((code == 0)[..., None], p, np.nan)
        light = np.asarray(cfg.light, float)
        self.light = light / np.linalg.norm(light)
        # direct light: the floor by its angle to the light, the walls a fixed half, the ceiling none
        self.direct = np.where(code == 0, max(float(self.light[2]), 0.0), np.where(code == 1, 0.45, 0.0)).astype(
            np.float32)
        self.albedo = _room_colour(p, code, cfg)
        self.floor_mask = code == 0

    def _box(self, pts: np.ndarray, pad_mm: float) -> tuple[int, int, int, int] | None:
        """Supersampled pixel box around world points ``pts`` (N, 3) padded by ``pad_mm`` at their depth."""
        depth = pts @ self.R[2] + self.t[2]
        if (depth <= 1.0).any():
            return None
        uv = self.single.project(pts)[0]
        k = self.single.K[0]
        pad = pad_mm * k[0, 0] / depth.min() * 1.15 + 3.0
        s = self.cfg.supersample
        w, h = self.size
        x0, y0 = np.floor((uv.min(0) - pad + 0.5) * s).astype(int)
        x1, y1 = np.ceil((uv.max(0) + pad + 0.5) * s).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w * s), min(y1, h * s)
        if x1 <= x0 or y1 <= y0:
            return None
        return int(x0), int(y0), int(x1), int(y1)

    def _boxes(self, named: dict[str, np.ndarray]) -> tuple[list, list, tuple[int, int, int, int] | None]:
        """Per-capsule boxes of the body and of its shadow, and their union aligned to whole pixels (+4 px)."""
        light = self.light
        body, shadow = [], []
        for cap in BODY:
            a, b = named[cap.a], named[cap.b]
            body.append(self._box(np.stack([a, b, (a + b) / 2]), cap.radius))
            ga, gb = a - (a[2] / light[2]) * light, b - (b[2] / light[2]) * light  # the ends' shadows on the floor
            shadow.append(self._box(np.stack([ga, gb]), cap.radius * 1.5))
        found = [bx for bx in body + shadow if bx is not None]
        if not found:
            return body, shadow, None
        s = self.cfg.supersample
        w, h = self.size
        x0 = max(min(bx[0] for bx in found) // s - 4, 0) * s
        y0 = max(min(bx[1] for bx in found) // s - 4, 0) * s
        x1 = min(-(-max(bx[2] for bx in found) // s) + 4, w) * s
        y1 = min(-(-max(bx[3] for bx in found) // s) + 4, h) * s
        return body, shadow, (x0, y0, x1, y1)

    def frame(self, named: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
        """The lit scene inside the body's box: ``(image (bh, bw, 3) float32 reflectance x light, material index
        (bh, bw) int8, box (x0, y0, x1, y1))`` in sub-sample pixels; the box is None when the body is out of view."""
        cfg = self.cfg
        body_boxes, shadow_boxes, union = self._boxes(named)
        if union is None:
            return np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.int8), None
        ux0, uy0, ux1, uy1 = union
        shape = (uy1 - uy0, ux1 - ux0)
        depth = np.full(shape, np.inf)
        material = np.zeros(shape, np.int8)
        normal = np.zeros(shape + (3,), np.float32)
        texture = np.ones(shape, np.float32)
        cam_pts = {k: v @ self.R.T + self.t for k, v in named.items()}
        for cap, box in zip(BODY, body_boxes, strict=True):
            if box is None:
                continue
            x0, y0, x1, y1 = box
            a, b = cam_pts[cap.a], cam_pts[cap.b]
            rays = self.rays_cam[y0:y1, x0:x1]
            t, frac = _camera_ray_hit(rays, self.ray_dd[y0:y1, x0:x1], a, b, cap.radius)
            sub = (slice(y0 - uy0, y1 - uy0), slice(x0 - ux0, x1 - ux0))
            near = t < depth[sub]
            if not near.any():
                continue
            with np.errstate(invalid="ignore"):
                n = (t[..., None] * rays - (a + frac[..., None] * (b - a))) / cap.radius
                # woven cloth: bands along the bone and round it (axial mm, angle round the bone)
                ba = b - a
                length = float(np.linalg.norm(ba))
                if length > 1e-9:
                    axis = ba / length
                    ref = np.cross(axis, [0.0, 1.0, 0.0])
                    ref = ref / max(float(np.linalg.norm(ref)), 1e-9)
                    ang = np.arctan2(n @ np.cross(axis, ref), n @ ref)
                else:
                    ang = np.arctan2(n[..., 1], n[..., 0])
                weave = 0.88 + 0.12 * np.sin(frac * length / 9.0) * np.sin(ang * 8.0)
            depth[sub] = np.where(near, t, depth[sub])
            material[sub] = np.where(near, _MATERIAL_INDEX[cap.material], material[sub])
            normal[sub] = np.where(near[..., None], n, normal[sub])
            texture[sub] = np.where(near, weave, texture[sub])
        # the room, with the body's shadow on the floor
        whole = (slice(uy0, uy1), slice(ux0, ux1))
        direct = self.direct[whole].copy()
        light = self.light
        for cap, box in zip(BODY, shadow_boxes, strict=True):
            if box is None:
                continue
            x0, y0, x1, y1 = box
            floor = self.floor_mask[y0:y1, x0:x1]
            if not floor.any():
                continue
            t, _ = capsule_hit(np.nan_to_num(self.floor_point[y0:y1, x0:x1]), light, named[cap.a], named[cap.b],
                               cap.radius)  # fmt: skip
            sub = (slice(y0 - uy0, y1 - uy0), slice(x0 - ux0, x1 - ux0))
            direct[sub] = np.where(floor & np.isfinite(t), self.direct[y0:y1, x0:x1] * (1 - cfg.shadow), direct[sub])
        img = self.albedo[whole] * (cfg.ambient + (1 - cfg.ambient) * direct)[..., None]
        on_body = material > 0
        if on_body.any():
            colours = np.array([(0, 0, 0), *MATERIALS.values()], np.float32)
            nb = normal[on_body]
            lambert = np.clip(nb @ (self.R @ light).astype(np.float32), 0, 1)  # light in camera coordinates
            # a soft fill light from the camera keeps the parts facing away from the light readable
            view = -self.rays_cam[whole][on_body]
            view /= np.linalg.norm(view, axis=-1, keepdims=True)
            fill = 0.25 * np.clip(np.einsum("ij,ij->i", nb, view.astype(np.float32)), 0, 1)
            lit = cfg.ambient * 0.8 + (1 - cfg.ambient) * lambert + fill
            img[on_body] = colours[material[on_body]] * (texture[on_body] * lit)[:, None]
        return img, material, union

    def background(self) -> np.ndarray:
        """The empty room as the sensor sees it (exposed, blurred, without noise), (h, w, 3) float32."""
        img = self.albedo * (self.cfg.ambient + (1 - self.cfg.ambient) * self.direct)[..., None]
        return self._sensor(img)

    def _sensor(self, img: np.ndarray) -> np.ndarray:
        s = self.cfg.supersample
        if s > 1:
            img = cv2.resize(img, (img.shape[1] // s, img.shape[0] // s), interpolation=cv2.INTER_AREA)
        img = img * np.float32(self.cfg.exposure)
        if self.cfg.blur_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.cfg.blur_sigma, borderType=cv2.BORDER_REFLECT)
        return img

    def compose(self, background: np.ndarray, region: np.ndarray, box, noise: np.ndarray | None) -> np.ndarray:
        """A frame: the background with the body's region pasted in, sensor noise -> RGB uint8."""
        out = background.copy()
        if box is not None:
            s = self.cfg.supersample
            x0, y0, x1, y1 = (v // s for v in box)
            out[y0:y1, x0:x1] = self._sensor(region)
        if noise is not None:
            cv2.randn(noise, 0.0, self.cfg.noise_sigma)  # type: ignore[call-overload]  # stubs want arrays
            out += noise
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def coverage(self, material: np.ndarray, box) -> np.ndarray:
        """The body's share of each pixel (h, w) in [0, 1]."""
        w, h = self.size
        out = np.zeros((h, w), np.float32)
        if box is not None:
            s = self.cfg.supersample
            x0, y0, x1, y1 = (v // s for v in box)
            out[y0:y1, x0:x1] = cv2.resize((material > 0).astype(np.float32), (x1 - x0, y1 - y0),
                                           interpolation=cv2.INTER_AREA)  # fmt: skip
        return out


def render_body_frame(rig: CameraRig, cam: int, points: np.ndarray, keypoints: tuple[str, ...],
                      config: BodyRenderConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One frame of camera ``cam``: RGB uint8 ``(h, w, 3)`` and the body's coverage ``(h, w)`` in [0, 1].

    ``points`` (K, 3) world mm in the order of ``keypoints``. For tests and pictures; videos use
    :func:`render_body_videos`, which traces the room once per camera.
    """
    cfg = config or BodyRenderConfig()
    _check_body(tuple(keypoints))
    renderer = _CameraRenderer(rig, cam, cfg)
    region, material, box = renderer.frame(body_points(np.asarray(points, float), tuple(keypoints)))
    w, h = renderer.size
    noise = np.zeros((h, w, 3), np.float32)
    return renderer.compose(renderer.background(), region, box, noise), renderer.coverage(material, box)


# --------------------------------------------------------------------------- ground truth
def keypoint_visibility(rig: CameraRig, points: np.ndarray, keypoints: tuple[str, ...]) -> np.ndarray:
    """Which keypoints each camera sees (C, F, K): in the image, and their own body surface is the first hit.

    A keypoint lies inside its body part, so its ray enters that part's surface at most one radius
    before the keypoint; a surface met earlier than that belongs to another body part in front of it.
    """
    points = np.asarray(points, float)
    named = body_points(points, tuple(keypoints))
    own = np.zeros(len(keypoints))
    for cap in BODY:
        for end in (cap.a, cap.b):
            if end in keypoints:
                own[keypoints.index(end)] = max(own[keypoints.index(end)], cap.radius)
    pix = rig.project(points)
    visible = rig.in_image(pix) & (rig.depths(points) > 0)
    for c, center in enumerate(rig.centers()):
        d = points - center  # (F, K, 3): rays from the camera through each keypoint, t = 1 at the keypoint
        first = np.full(d.shape[:2], np.inf)
        for cap in BODY:
            t, _ = capsule_hit(np.zeros(3), d, named[cap.a][:, None] - center, named[cap.b][:, None] - center,
                               cap.radius)  # fmt: skip
            first = np.minimum(first, t)
        dist = np.linalg.norm(d, axis=-1)
        visible[c] &= (1 - first) * dist <= own[None] + 1.0
    return visible


def load_truth(folder: str | Path) -> dict[str, np.ndarray]:
    """The ground truth beside rendered body videos: ``points3d (F, K, 3)``, ``points2d (C, F, K, 2)``,
    ``visible (C, F, K)``, ``cameras``, ``keypoints``, ``fps``."""
    path = Path(folder) / TRUTH_FILE
    if not path.is_file():
        raise MocapError(f"{path} does not exist; render the videos first (mocap3d demo).")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --------------------------------------------------------------------------- videos
def _render_camera(rig: CameraRig, cam: int, points: np.ndarray, keypoints: tuple[str, ...], path: Path,
                   fps: float, cfg: BodyRenderConfig, bar) -> None:
    renderer = _CameraRenderer(rig, cam, cfg)
    named = body_points(points, keypoints)
    cv2.setRNGSeed(zlib.crc32(f"{cfg.seed}-{rig.names[cam]}".encode()) & 0x7FFFFFFF)
    background = renderer.background()
    noise = np.zeros_like(background)
    with h264_writer(path, renderer.size, fps, crf=cfg.crf) as write:
        for f in range(len(points)):
            region, _, box = renderer.frame({k: v[f] for k, v in named.items()})
            write(renderer.compose(background, region, box, noise if cfg.noise_sigma > 0 else None))
            bar.update(1)


def render_body_videos(rig: CameraRig, points: np.ndarray, keypoints: tuple[str, ...], out_dir: str | Path,
                       fps: float, *, config: BodyRenderConfig | None = None, workers: int = 2,
                       progress: bool = True) -> dict[str, Path]:
    """Film the body at every frame of ``points`` (F, K, 3) in every camera -> ``cam-<name>.mp4`` (H.264).

    Writes the ground truth (:data:`TRUTH_FILE`, read it with :func:`load_truth`) beside the
    videos. Resumable: when ``out_dir`` already holds videos rendered from the same rig, motion and
    settings (``render.json``), they are returned as they are.
    """
    from concurrent.futures import ThreadPoolExecutor

    cfg = config or BodyRenderConfig()
    keypoints = tuple(keypoints)
    points = np.asarray(points, float)
    _check_body(keypoints)
    out_dir = Path(out_dir)
    paths = {name: out_dir / video_name(name) for name in rig.names}
    key = render_key({
        "rig": {k: np.asarray(getattr(rig, k)).tolist() for k in ("sizes", "K", "dist", "rvec", "tvec", "fisheye")},
        "names": list(rig.names), "points": zlib.crc32(points.tobytes()), "keypoints": list(keypoints), "fps": fps,
        "render": asdict(cfg), "body": [asdict(c) for c in BODY],
    })  # fmt: skip
    stamp = out_dir / "render.json"
    if up_to_date(stamp, key, [out_dir / TRUTH_FILE, *paths.values()]):
        log.info("body videos in %s are up to date", out_dir)
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(points) * len(rig), desc="rendering the walker", unit="frame", disable=not progress) as bar:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # numpy and the encoder release the GIL
            jobs = [pool.submit(_render_camera, rig, c, points, keypoints, paths[n], fps, cfg, bar)
                    for c, n in enumerate(rig.names)]  # fmt: skip
            for job in jobs:
                job.result()
    visible = keypoint_visibility(rig, points, keypoints)
    with atomic_path(out_dir / TRUTH_FILE) as tmp:
        np.savez_compressed(tmp, points3d=points, points2d=rig.project(points), visible=visible,
                            cameras=np.array(rig.names, dtype=str), keypoints=np.array(keypoints, dtype=str),
                            fps=np.float64(fps))  # fmt: skip
    atomic_write_text(stamp, json.dumps({"key": key, "n_frames": len(points)}, indent=1))
    return paths
