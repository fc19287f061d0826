"""The camera rig: every camera's intrinsics and extrinsics as stacked arrays.

A :class:`CameraRig` holds ``C`` cameras as arrays with a leading camera
dimension, so projecting into every camera, undistorting every camera's points
and building every projection matrix are single vectorized calls.

Conventions (the same as OpenCV and anipose's ``calibration.toml``):

* ``rvec``/``tvec`` map **world to camera**: ``x_cam = R(rvec) @ x_world + tvec``.
* Units of ``tvec`` (and hence of every 3D point) are the calibration's units,
  usually the board's (mm) or metres for Pose2Sim/caliscope files.
* Pixel coordinates have their origin at the centre of the top-left pixel,
  ``x`` to the right and ``y`` down (OpenCV).
* Pinhole cameras use OpenCV's model with ``dist = (k1, k2, p1, p2, k3)``;
  fisheye cameras use OpenCV's fisheye model with ``dist = (k1, k2, k3, k4, 0)``
  (the fifth slot is unused so that all cameras stack into one array). Both
  models, their derivatives and their inverses live in :mod:`mocap3d.lens`.

Everything is float64: triangulation and bundle adjustment lose digits that
matter in float32 when translations are in millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from . import lens
from ._parallel import MIN_POINTS, map_threads
from .errors import CalibrationError

__all__ = ["CameraRig", "rodrigues", "rotation_to_rodrigues"]


def rodrigues(rvec: np.ndarray) -> np.ndarray:
    """Rotation matrices from Rodrigues vectors.

    Parameters
    ----------
    rvec : array (..., 3)
        Axis times angle (radians).

    Returns
    -------
    array (..., 3, 3)
    """
    rvec = np.asarray(rvec, dtype=np.float64)
    theta = np.linalg.norm(rvec, axis=-1, keepdims=True)
    small = theta < 1e-12
    axis = np.where(small, 0.0, rvec / np.where(small, 1.0, theta))
    kx, ky, kz = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(kx)
    kmat = np.stack(
        [
            np.stack([zero, -kz, ky], -1),
            np.stack([kz, zero, -kx], -1),
            np.stack([-ky, kx, zero], -1),
        ],
        -2,
    )
    s = np.sin(theta)[..., None]
    c = np.cos(theta)[..., None]
    eye = np.broadcast_to(np.eye(3), kmat.shape)
    return eye + s * kmat + (1 - c) * (kmat @ kmat)


def rotation_to_rodrigues(rmat: np.ndarray) -> np.ndarray:
    """Rodrigues vectors (..., 3) from rotation matrices (..., 3, 3)."""
    rmat = np.asarray(rmat, dtype=np.float64)
    flat = rmat.reshape(-1, 3, 3)
    out = np.empty((flat.shape[0], 3))
    import cv2  # local: the model layer only needs OpenCV for this and undistortion

    for i, r in enumerate(flat):
        out[i] = cv2.Rodrigues(np.ascontiguousarray(r))[0].ravel()
    return out.reshape(rmat.shape[:-2] + (3,))


def _as_array(value, shape: tuple, name: str, dtype=np.float64) -> np.ndarray:
    arr = np.array(value, dtype=dtype)  # a copy: rigs never share arrays with callers
    if arr.shape != shape:
        raise CalibrationError(f"camera rig: `{name}` has shape {arr.shape}, expected {shape}.")
    return arr


@dataclass(frozen=True, eq=False, init=False)
class CameraRig:
    """``C`` calibrated cameras stored as stacked float64 arrays.

    Attributes
    ----------
    names : tuple of str, (C,)
        Camera names, in the rig's order (never sorted behind the user's back).
    sizes : int array (C, 2)
        Image ``(width, height)`` in pixels.
    K : array (C, 3, 3)
        Camera matrices (px).
    dist : array (C, 5)
        Distortion coefficients (see module docstring).
    rvec, tvec : arrays (C, 3)
        World-to-camera rotation (Rodrigues, rad) and translation (world units).
    fisheye : bool array (C,)
        Which cameras use the fisheye model.
    """

    names: tuple[str, ...]
    sizes: np.ndarray
    K: np.ndarray
    dist: np.ndarray
    rvec: np.ndarray
    tvec: np.ndarray
    fisheye: np.ndarray
    if TYPE_CHECKING:  # set by __init__, not a field
        _rotations: np.ndarray

    def __init__(
        self,
        names: Sequence[str],
        sizes: ArrayLike,
        K: ArrayLike,
        dist: ArrayLike,
        rvec: ArrayLike,
        tvec: ArrayLike,
        fisheye: ArrayLike | None = None,
    ) -> None:
        """Validate and copy the arrays (a rig never shares memory with its caller)."""
        names = tuple(str(n) for n in names)
        c = len(names)
        if c == 0:
            raise CalibrationError("camera rig: no cameras.")
        if len(set(names)) != c:
            dup = sorted({n for n in names if names.count(n) > 1})
            raise CalibrationError(f"camera rig: duplicate camera names {dup}; every camera needs a unique name.")
        dist_arr = np.array(dist, dtype=np.float64)
        if dist_arr.ndim != 2 or dist_arr.shape[0] != c or dist_arr.shape[1] > 5:
            raise CalibrationError(f"camera rig: `dist` has shape {dist_arr.shape}, expected ({c}, <=5).")
        dist_arr = np.pad(dist_arr, ((0, 0), (0, 5 - dist_arr.shape[1])))
        fish = np.zeros(c, bool) if fisheye is None else _as_array(fisheye, (c,), "fisheye", bool)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "sizes", _as_array(sizes, (c, 2), "sizes", np.int64))
        object.__setattr__(self, "K", _as_array(K, (c, 3, 3), "K"))
        object.__setattr__(self, "dist", dist_arr)
        object.__setattr__(self, "rvec", _as_array(rvec, (c, 3), "rvec"))
        object.__setattr__(self, "tvec", _as_array(tvec, (c, 3), "tvec"))
        object.__setattr__(self, "fisheye", fish)
        for arr in (self.sizes, self.K, self.dist, self.rvec, self.tvec):
            arr.setflags(write=False)
        self._validate()
        rotations = rodrigues(self.rvec)  # once: every projection needs them
        rotations.setflags(write=False)
        object.__setattr__(self, "_rotations", rotations)

    def _validate(self) -> None:
        problems = []
        for i, name in enumerate(self.names):
            k = self.K[i]
            if not all(np.isfinite(a).all() for a in (k, self.dist[i], self.rvec[i], self.tvec[i])):
                problems.append(f"camera '{name}' has NaN or infinite values")
                continue
            if self.sizes[i, 0] <= 0 or self.sizes[i, 1] <= 0:
                problems.append(f"camera '{name}' has image size {self.sizes[i].tolist()} (must be positive)")
            if k[0, 0] <= 0 or k[1, 1] <= 0:
                problems.append(f"camera '{name}' has focal lengths fx={k[0, 0]:g}, fy={k[1, 1]:g} (must be positive)")
            if not np.allclose(k[2], [0, 0, 1]) or abs(k[1, 0]) > 1e-9:
                problems.append(f"camera '{name}' has a camera matrix whose last row is not [0, 0, 1]")
            if np.abs(self.dist[i]).max() > 1e3:
                problems.append(f"camera '{name}' has distortion coefficients of magnitude > 1000")
        if problems:
            raise CalibrationError(
                "impossible calibration values: " + "; ".join(problems) + ". Re-run the calibration or fix the file."
            )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.names)

    @property
    def n_cameras(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise CalibrationError(
                f"camera '{name}' is not in the calibration (cameras: {', '.join(self.names)})."
            ) from None

    def select(self, names: Sequence[str]) -> CameraRig:
        """A rig of the named cameras, in the given order."""
        idx = [self.index(n) for n in names]
        return CameraRig(
            names=tuple(names),
            sizes=self.sizes[idx],
            K=self.K[idx],
            dist=self.dist[idx],
            rvec=self.rvec[idx],
            tvec=self.tvec[idx],
            fisheye=self.fisheye[idx],
        )

    def replace(self, **changes) -> CameraRig:
        """A copy with some fields replaced (validated again)."""
        fields: dict[str, Any] = dict(
            names=self.names, sizes=self.sizes, K=self.K, dist=self.dist, rvec=self.rvec, tvec=self.tvec,
            fisheye=self.fisheye,
        )
        fields.update(changes)
        return CameraRig(**fields)

    # --------------------------------------------------------------- geometry
    @property
    def R(self) -> np.ndarray:
        """World-to-camera rotation matrices (C, 3, 3), read-only."""
        return self._rotations

    def extrinsics(self) -> np.ndarray:
        """``[R | t]`` (C, 3, 4): world to camera coordinates."""
        return np.concatenate([self.R, self.tvec[:, :, None]], axis=2)

    def projection_matrices(self) -> np.ndarray:
        """``K [R | t]`` (C, 3, 4): world to (undistorted) pixel coordinates."""
        return self.K @ self.extrinsics()

    def centers(self) -> np.ndarray:
        """Camera centres in world coordinates (C, 3)."""
        return -np.einsum("cji,cj->ci", self.R, self.tvec)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) in world coordinates to each camera's frame (C, ..., 3)."""
        pts = np.asarray(points, dtype=np.float64)
        flat = pts.reshape(-1, 3)
        cam = np.empty((self.n_cameras, len(flat), 3))
        R, t = self.R, self.tvec
        x, y, z = flat[:, 0], flat[:, 1], flat[:, 2]

        # one camera and one coordinate at a time, r0 x + r1 y + r2 z + t with scalar coefficients (2.5x faster
        # than an einsum per camera, and than 3x3 products that a BLAS would share out over spinning threads)
        def one(c: int) -> None:
            for i in range(3):
                out = cam[c, :, i]
                np.multiply(x, R[c, i, 0], out=out)
                out += R[c, i, 1] * y
                out += R[c, i, 2] * z
                out += t[c, i]

        map_threads(one, range(self.n_cameras), len(flat))
        return cam.reshape((self.n_cameras,) + pts.shape)

    def distort_normalized(self, xy: np.ndarray) -> np.ndarray:
        """Apply each camera's lens model to normalized coordinates.

        Parameters
        ----------
        xy : array (C, ..., 2)
            Ideal normalized image coordinates ``(X/Z, Y/Z)``.

        Returns
        -------
        array (C, ..., 2)
            Pixel coordinates.
        """
        xy = np.asarray(xy, dtype=np.float64)
        flat = xy.reshape(self.n_cameras, -1, 2)
        d = self.dist[:, :, None]
        xd, yd = lens.distort(flat[..., 0], flat[..., 1], (d[:, 0], d[:, 1], d[:, 2], d[:, 3], d[:, 4]),
                              self.fisheye[:, None])  # fmt: skip
        k = self.K
        pixels = lens.to_pixels(xd, yd, k[:, 0, 0, None], k[:, 1, 1, None], k[:, 0, 2, None], k[:, 1, 2, None],
                                k[:, 0, 1, None])  # fmt: skip
        return pixels.reshape(xy.shape)

    def project(self, points: np.ndarray, distort: bool = True) -> np.ndarray:
        """Project world points into every camera.

        Parameters
        ----------
        points : array (..., 3)
            World coordinates; NaN propagates to NaN pixels.
        distort : bool
            Apply the lens model (True) or return ideal pinhole pixels (False).

        Returns
        -------
        array (C, ..., 2)
            Pixel coordinates. Points behind a camera are projected as OpenCV
            does (no clipping); check :meth:`depths` when that matters.
        """
        return self.camera_to_pixels(self.world_to_camera(points), distort)

    def camera_to_pixels(self, cam: np.ndarray, distort: bool = True) -> np.ndarray:
        """Pixels (C, ..., 2) of points already in each camera's frame (C, ..., 3) (see :meth:`project`)."""
        n_points = int(np.prod(cam.shape[1:-1]))
        if distort and n_points >= MIN_POINTS and not self.fisheye.any():
            # long recordings: one camera per thread (the same operations on the same values, so the same pixels)
            out = np.empty(cam.shape[:-1] + (2,))
            map_threads(lambda c: self._pixels_pinhole(c, cam[c], out[c]), range(self.n_cameras), n_points)
            return out
        z = cam[..., 2:3]
        xy = cam[..., :2] / z
        if distort:
            return self.distort_normalized(xy)
        k = self.K.reshape((self.n_cameras,) + (1,) * (xy.ndim - 2) + (3, 3))
        u = k[..., 0, 0] * xy[..., 0] + k[..., 0, 1] * xy[..., 1] + k[..., 0, 2]
        v = k[..., 1, 1] * xy[..., 1] + k[..., 1, 2]
        return np.stack([u, v], -1)

    def _pixels_pinhole(self, c: int, cam: np.ndarray, out: np.ndarray) -> None:
        """:meth:`camera_to_pixels` of camera ``c`` (pinhole) alone: its points (..., 3) in its frame to ``out``
        (..., 2), with :func:`lens.distort` and :func:`lens.to_pixels`'s operations."""
        xy = cam[..., :2] / cam[..., 2:3]
        d = [float(v) for v in self.dist[c, :5]]
        xd, yd = lens.distort(xy[..., 0], xy[..., 1], d)
        k = self.K[c]
        out[..., 0] = k[0, 0] * xd + k[0, 1] * yd + k[0, 2]
        out[..., 1] = k[1, 1] * yd + k[1, 2]

    def depths(self, points: np.ndarray) -> np.ndarray:
        """Depth (camera z) of world points in each camera (C, ...)."""
        return self.world_to_camera(points)[..., 2]

    def undistort_points(self, points2d: np.ndarray, output: str = "pixel") -> np.ndarray:
        """Remove lens distortion from each camera's pixel coordinates.

        Parameters
        ----------
        points2d : array (C, ..., 2)
            Pixel coordinates per camera; NaN stays NaN.
        output : {"pixel", "normalized"}
            ``"pixel"`` returns ideal pinhole pixels (same ``K``), so that
            ``projection_matrices()`` applies; ``"normalized"`` returns
            ``(X/Z, Y/Z)``, for which ``extrinsics()`` applies.

        Returns
        -------
        array (C, ..., 2)

        Notes
        -----
        Pinhole cameras are inverted with a vectorized Newton iteration on the
        OpenCV model (all cameras at once, converged to ~1e-12 px), which is
        both faster and more accurate in strongly distorted corners than
        OpenCV's default 5 fixed-point iterations. Fisheye cameras use
        ``cv2.fisheye.undistortPoints``.
        """
        pts = np.asarray(points2d, dtype=np.float64)
        c = self.n_cameras
        if pts.shape[0] != c or pts.shape[-1] != 2:
            raise ValueError(f"points2d must have shape ({c}, ..., 2), got {pts.shape}")
        if output not in ("pixel", "normalized"):
            raise ValueError(f"output must be 'pixel' or 'normalized', got {output!r}")
        flat = pts.reshape(c, -1, 2)
        out = np.empty(flat.shape)
        distorted = bool(self.dist.any())
        fisheye = bool(self.fisheye.any())

        # One camera at a time, from pixels to the result: with scalar coefficients numpy's loops run several
        # times faster than broadcasting (C, 1) coefficients against (C, N) points; on long recordings the
        # cameras are shared out over threads.
        def one(i: int) -> None:
            fx, fy, cx, cy, skew = (float(v) for v in self.K[i][(0, 1, 0, 1, 0), (0, 1, 2, 2, 1)])
            yd = (flat[i, :, 1] - cy) / fy
            xd = (flat[i, :, 0] - cx - skew * yd) / fx
            x, y = lens.undistort(xd, yd, *(float(v) for v in self.dist[i, :5])) if distorted else (xd, yd)
            if fisheye and self.fisheye[i]:
                x, y = self._invert_fisheye(flat[i], x, y, i)
            if output == "normalized":
                out[i, :, 0], out[i, :, 1] = x, y
            else:
                out[i, :, 0] = fx * x + skew * y + cx
                out[i, :, 1] = fy * y + cy

        map_threads(one, range(c), flat.shape[1])
        return out.reshape(pts.shape)

    def _invert_fisheye(self, flat: np.ndarray, x: np.ndarray, y: np.ndarray,
                        i: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Fisheye camera ``i``'s pixels ``flat (N, 2)`` to normalized coordinates (``x``, ``y``: the
        pinhole inversion's, kept where a point is missing)."""
        x, y = x.copy(), y.copy()
        ok = np.isfinite(flat).all(-1)
        if ok.any():
            x[ok], y[ok] = lens.undistort_fisheye(flat[ok], self.K[i], self.dist[i])
        return x, y

    def in_image(self, points2d: np.ndarray) -> np.ndarray:
        """Whether pixel coordinates (C, ..., 2) fall inside each camera's image (C, ...)."""
        pts = np.asarray(points2d)
        size = self.sizes.reshape((self.n_cameras,) + (1,) * (pts.ndim - 2) + (2,))
        return np.asarray(((pts >= -0.5) & (pts <= size - 0.5)).all(-1))
