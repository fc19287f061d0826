"""Film a calibration board moving through a known rig: synthetic calibration videos with ground truth.

Every output pixel is traced back through its camera's true lens: the pixel is
undistorted to a ray (OpenCV's model, radial and tangential terms, or fisheye),
the ray is intersected with the board plane, and the board texture (rendered
once at high resolution) is sampled there. Each pixel averages ``s x s`` such
samples (anti-aliasing); then lighting, a slight optical blur and sensor noise
are added. Ground-truth corner pixels come from :meth:`CameraRig.project` of the
board corners, so detections in the rendered videos can be checked against the
exact answer.

Speed: the undistorted ray of every sub-sample is computed once per camera
(undistortion on a 4 px grid, interpolated bilinearly; the lens field is smooth
enough that this is within 0.005 px of exact undistortion), and each frame only touches the board's
bounding box: one ``cv2.perspectiveTransform`` (ray -> board plane, a
homography) and one ``cv2.remap`` (texture lookup).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..camera import CameraRig, rodrigues
from ..errors import CalibrationError
from ..io.atomic import atomic_path
from .boards import Board, board_to_toml

__all__ = [
    "RenderConfig",
    "TrajectoryConfig",
    "board_trajectory",
    "board_corners_world",
    "ground_truth_corners",
    "render_board_videos",
    "render_sample_calibration",
    "load_ground_truth",
    "GROUND_TRUTH_FILE",
]

log = logging.getLogger(__name__)

GROUND_TRUTH_FILE = "ground_truth.npz"
_bar_lock = threading.Lock()
_LENS_GRID_PX = 4  # spacing of the exact undistortion grid that sub-samples are interpolated from


@dataclass(frozen=True)
class RenderConfig:
    """How the board is filmed. Grey levels are 0-255.

    Attributes
    ----------
    supersample : int
        Sub-samples per pixel along each axis (anti-aliasing).
    paper_margin : float
        White paper around the printed pattern, in squares.
    black, white : float
        Grey levels of the board's black ink and white paper under full light.
    background : float
        Grey level of the scene behind the board.
    back_side : float
        Grey level of the back of the board (seen from behind it shows no pattern).
    lighting : float
        Strength of the smooth illumination changes: a per-frame brightness
        change and a light gradient across the board (fraction, 0 = none).
    vignetting : float
        Brightness lost in the image corners (fraction).
    blur_sigma : float
        Gaussian optical blur (px).
    noise_sigma : float
        Gaussian sensor noise (grey levels).
    codec : str
        ``"mp4v"`` (``.mp4``, the default), ``"h264"`` (``.mp4`` that browsers
        play: libx264, yuv420p, fast start, through imageio-ffmpeg), ``"FFV1"``
        (lossless, ``.mkv``) or ``"MJPG"`` (``.avi``). Measured by ``benchmarks/bench_render_detect.py``
        (4 cameras, 1280x1024, 150 frames): ChArUco corners detected in mp4v
        frames are 0.080 px (median) from the truth, 0.071 px in lossless FFV1
        frames, so mp4v's compression costs little, and FFV1 files are larger
        and 3x slower to decode.
    max_texture_px : int
        Longest side of the board texture.
    seed : int
        Noise and lighting seed (rendering is deterministic).
    """

    supersample: int = 2
    paper_margin: float = 0.5
    black: float = 30.0
    white: float = 220.0
    background: float = 100.0
    back_side: float = 150.0
    lighting: float = 0.12
    vignetting: float = 0.2
    blur_sigma: float = 0.5
    noise_sigma: float = 1.5
    codec: str = "mp4v"
    max_texture_px: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        if self.codec not in _CODECS:
            raise CalibrationError(f"render: codec {self.codec!r} is not one of {sorted(_CODECS)}.")
        if self.supersample < 1:
            raise CalibrationError("render: supersample must be >= 1.")


_CODECS = {"mp4v": ".mp4", "h264": ".mp4", "FFV1": ".mkv", "MJPG": ".avi"}


@dataclass(frozen=True)
class TrajectoryConfig:
    """Shape of the board's sweep (see :func:`board_trajectory`).

    Attributes
    ----------
    tilt_deg : float
        Amplitude of the board's tilts about its own x and y axes (deg).
    roll_deg : float
        Amplitude of the board's rotation in its plane (deg).
    reach : float
        Amplitude of the board centre's sideways/vertical motion as a fraction
        of the narrowest camera's half field of view at the volume's centre
        (near 1, the board reaches the image edges and is seen partly there,
        which ChArUco handles and which lens models need).
    depth_reach : float
        Amplitude of the motion along the viewing direction, same units.
    sweeps : int
        How many times the board turns from the first camera to the last and back.
    cycles : (float, float, float)
        Oscillations of the board's centre over the whole sequence: sideways,
        vertically and in depth. More cycles cover the images more densely
        (a Lissajous net) at the cost of faster motion.
    """

    tilt_deg: float = 40.0
    roll_deg: float = 25.0
    reach: float = 1.0
    depth_reach: float = 0.3
    sweeps: int = 2
    cycles: tuple[float, float, float] = (4.0, 5.0, 1.5)


# --------------------------------------------------------------------------- geometry
def _pattern_center(board: Board) -> np.ndarray:
    ox, oy = board.pattern_origin
    w, h = board.size
    return np.array([ox + w / 2, oy + h / 2, 0.0])


def _paper_rect(board: Board, margin: float) -> tuple[float, float, float, float]:
    """Paper extent ``(x0, y0, x1, y1)`` in board coordinates, for a margin in board units."""
    ox, oy = board.pattern_origin
    w, h = board.size
    m = margin
    return ox - m, oy - m, ox + w + m, oy + h + m


def board_corners_world(board: Board, poses: np.ndarray) -> np.ndarray:
    """Board corners in world coordinates (F, N, 3) for board->world poses (F, 4, 4)."""
    obj = board.object_points()
    poses = np.asarray(poses, dtype=np.float64)
    return np.einsum("fij,nj->fni", poses[:, :3, :3], obj) + poses[:, None, :3, 3]


def ground_truth_corners(rig: CameraRig, board: Board, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact corner pixels of the board at each pose in each camera.

    Returns
    -------
    corners : array (C, F, N, 2)
        ``rig.project`` of the corners (px, with lens distortion).
    visible : bool array (C, F, N)
        In front of the camera, inside the image, and on the board's printed
        side as seen from that camera.
    """
    world = board_corners_world(board, poses)
    pix = rig.project(world)
    depth = rig.depths(world)
    normals = np.asarray(poses)[:, :3, 2]  # board +z (into the board), world frame
    to_board = world.mean(1)[None] - rig.centers()[:, None]  # (C, F, 3)
    front = np.einsum("cfi,fi->cf", to_board, normals) > 0
    visible = (depth > 0) & rig.in_image(pix) & front[:, :, None]
    return pix, visible


def _volume_center(rig: CameraRig, board: Board) -> np.ndarray:
    """The point closest to every camera's optical axis (least squares).

    With one camera, or parallel axes, the point on the mean axis where the
    board fills about 40% of the image width (and at least three times the
    cameras' spread away) is used instead.
    """
    centers = rig.centers()
    axes = rig.R[:, 2, :]  # camera z axes in world
    proj = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]
    a = proj.sum(0)
    b = np.einsum("cij,cj->i", proj, centers)
    if np.linalg.cond(a) > 1e8:
        spread = float(np.linalg.norm(centers - centers.mean(0), axis=1).max())
        fill = float(np.median(rig.K[:, 0, 0] / rig.sizes[:, 0])) * max(board.size) / 0.4
        direction = axes.mean(0) / np.linalg.norm(axes.mean(0))
        return centers.mean(0) + direction * max(3 * spread, fill)
    return np.linalg.solve(a, b)


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations (F, 3, 3) about per-frame axes (F, 3) by angles (F,) rad."""
    return rodrigues(axis * angle[:, None])


def board_trajectory(
    rig: CameraRig, board: Board, n_frames: int, seed: int = 0, config: TrajectoryConfig | None = None
) -> np.ndarray:
    """A smooth board sweep through the rig's shared volume.

    The board's centre follows a Lissajous path around the point closest to all
    optical axes, reaching ``config.reach`` of the narrowest camera's half field
    of view. Its printed side turns smoothly towards each camera in turn
    (cameras ordered by azimuth around the rig's mean "up"), so every camera
    sees it and neighbouring cameras see it together (a connected pair graph),
    while it tilts by up to ``config.tilt_deg`` about its own axes and rolls by
    ``config.roll_deg``. Deterministic for a given seed.

    Parameters
    ----------
    rig : CameraRig
    board : CharucoBoard | Checkerboard
    n_frames : int
    seed : int
        Chooses the phases of the motion.

    Returns
    -------
    array (F, 4, 4)
        Board->world rigid transforms (board units = the rig's units).
    """
    cfg = config or TrajectoryConfig()
    if n_frames < 2:
        raise CalibrationError("board_trajectory: n_frames must be >= 2.")
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_frames)
    center = _volume_center(rig, board)
    cams = rig.centers()
    down = rig.R[:, 1, :].mean(0)  # camera y axes (image down) in world
    down /= np.linalg.norm(down)

    # order cameras by azimuth about the rig's vertical, so the board turns from one to its neighbour
    horiz = cams - center
    horiz -= np.outer(horiz @ down, down)
    ref = horiz[0] if np.linalg.norm(horiz[0]) > 1e-9 else np.cross(down, [1.0, 0, 0])
    ref /= np.linalg.norm(ref)
    side = np.cross(down, ref)
    order = np.argsort(np.arctan2(horiz @ side, horiz @ ref))
    c = len(order)

    # the reach of the motion: the narrowest half field of view at the volume's centre
    dist = np.linalg.norm(cams - center, axis=1)
    half_fov = np.min(rig.sizes / np.stack([rig.K[:, 0, 0], rig.K[:, 1, 1]], 1), axis=1) / 2
    reach = float(np.min(dist * half_fov))
    amp = cfg.reach * reach

    viewer_dir = cams.mean(0) - center
    viewer_dir = viewer_dir / np.linalg.norm(viewer_dir) if np.linalg.norm(viewer_dir) > 1e-9 else -down
    e1 = np.cross(down, viewer_dir)
    if np.linalg.norm(e1) < 1e-6:
        e1 = np.cross([0.0, 0, 1], viewer_dir) if abs(viewer_dir[2]) < 0.9 else np.cross([1.0, 0, 0], viewer_dir)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(viewer_dir, e1)
    ph = rng.uniform(0, 2 * np.pi, 6)
    pos = (
        center
        + amp * np.sin(2 * np.pi * cfg.cycles[0] * t + ph[0])[:, None] * e1
        + amp * np.sin(2 * np.pi * cfg.cycles[1] * t + ph[1])[:, None] * e2
        + cfg.depth_reach * reach * np.sin(2 * np.pi * cfg.cycles[2] * t + ph[2])[:, None] * viewer_dir
    )

    # the printed side faces a viewer moving along the cameras (in azimuth order) and back
    s = (c - 1) * (1 - np.cos(2 * np.pi * cfg.sweeps * t)) / 2
    lo = np.clip(np.floor(s).astype(int), 0, c - 1)
    hi = np.minimum(lo + 1, c - 1)
    w = (s - lo)[:, None]
    w = w * w * (3 - 2 * w)  # smoothstep: linger on each camera
    viewer = (1 - w) * cams[order[lo]] + w * cams[order[hi]]
    z = pos - viewer
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    y = down[None] - (z @ down)[:, None] * z
    bad = np.linalg.norm(y, axis=1) < 1e-6
    y[bad] = e2
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    x = np.cross(y, z)
    rot = np.stack([x, y, z], axis=2)  # columns: board axes in world

    # tilt about an axis in the board's plane that turns round, by 10-100% of tilt_deg, then roll
    tilt = np.deg2rad(cfg.tilt_deg) * (0.55 + 0.45 * np.sin(2 * np.pi * 2.5 * t + ph[3]))
    heading = 2 * np.pi * 1.7 * t + ph[4]
    roll = np.deg2rad(cfg.roll_deg) * np.sin(2 * np.pi * 1.0 * t + ph[5])
    ones, zeros = np.ones(n_frames), np.zeros(n_frames)
    local = _axis_angle(np.stack([zeros, zeros, ones], 1), roll) @ _axis_angle(
        np.stack([np.cos(heading), np.sin(heading), zeros], 1), tilt
    )
    rot = rot @ local

    poses = np.zeros((n_frames, 4, 4))
    poses[:, :3, :3] = rot
    poses[:, :3, 3] = pos - rot @ _pattern_center(board)
    poses[:, 3, 3] = 1.0
    return poses


# --------------------------------------------------------------------------- rendering
def _lens_field(rig: CameraRig, cam: int, s: int) -> np.ndarray:
    """Normalized ray coordinates (H*s, W*s, 2) float32 of every sub-sample of camera ``cam``."""
    w, h = (int(v) for v in rig.sizes[cam])
    g = _LENS_GRID_PX
    gx = np.arange(-g, w + 2 * g, g, dtype=np.float64)
    gy = np.arange(-g, h + 2 * g, g, dtype=np.float64)
    nodes = np.stack(np.meshgrid(gx, gy), -1)  # (Ny, Nx, 2)
    single = rig.select([rig.names[cam]])
    normalized = single.undistort_points(nodes[None], output="normalized")[0]
    # sub-sample centres: pixel u spans [u - 0.5, u + 0.5]
    sub = (np.arange(s) + 0.5) / s - 0.5
    xs = (np.arange(w)[:, None] + sub[None]).ravel()
    ys = (np.arange(h)[:, None] + sub[None]).ravel()
    # bilinear interpolation on a regular grid is separable: field = Wy @ nodes @ Wx^T per coordinate
    wx, wy = _interp_matrix(xs, gx[0], g, gx.size), _interp_matrix(ys, gy[0], g, gy.size)
    field = np.empty((ys.size, xs.size, 2), np.float32)
    for k in range(2):  # the two normalized coordinates
        field[..., k] = wy @ (wx @ normalized[..., k].T).T
    return field


def _interp_matrix(at: np.ndarray, start: float, step: float, n: int):
    """Sparse (len(at), n) matrix of 1D linear interpolation weights from nodes ``start + step * i``."""
    from scipy import sparse

    pos = (at - start) / step
    i = np.floor(pos).astype(np.int64)
    a = pos - i
    rows = np.repeat(np.arange(at.size), 2)
    cols = np.stack([i, i + 1], 1).ravel()
    vals = np.stack([1 - a, a], 1).ravel()
    return sparse.csr_matrix((vals, (rows, cols)), shape=(at.size, n))


def _texture(board: Board, px_per_unit: float, margin_squares: float) -> tuple[np.ndarray, float, float]:
    """Board texture (reflectance 0..1, float32) with white paper around it, its exact texels per unit,
    and the paper margin in board units (a whole number of texels, so the texture's grid is exact)."""
    per_square = max(8, int(np.ceil(px_per_unit * board.square_length)))
    w, h = board.size
    nx, ny = round(w / board.square_length), round(h / board.square_length)
    pattern = board.render(nx * per_square, ny * per_square, 0)
    m = int(round(margin_squares * per_square))
    tex = np.pad(pattern, m, constant_values=255).astype(np.float32) / 255.0
    ppu = per_square / board.square_length
    return tex, ppu, m / ppu


def _texture_scale(rig: CameraRig, board: Board, poses: np.ndarray, cfg: RenderConfig) -> float:
    """Texels per board unit so that a texel is no larger than a sub-sample anywhere."""
    world = board_corners_world(board, poses)
    depth = rig.depths(world)
    depth = depth[depth > 0]
    if depth.size == 0:
        return 8.0 / board.square_length
    scale = float(rig.K[:, 0, 0].max() / max(depth.min(), 1e-9)) * cfg.supersample
    w, h = board.size
    longest = max(w, h) + 2 * cfg.paper_margin * board.square_length
    return min(scale, cfg.max_texture_px / longest)


def _smooth_noise(rng: np.random.Generator, n: int, knots: int = 6) -> np.ndarray:
    """A smooth random curve in [-1, 1] over n frames."""
    x = np.linspace(0, 1, knots)
    return np.interp(np.linspace(0, 1, n), x, rng.uniform(-1, 1, knots))


def _render_camera(
    rig: CameraRig, cam: int, board: Board, poses: np.ndarray, path: Path, fps: float, cfg: RenderConfig,
    texture: np.ndarray, ppu: float, margin: float, bar,
) -> None:
    s = cfg.supersample
    w, h = (int(v) for v in rig.sizes[cam])
    field = _lens_field(rig, cam, s)
    nodes = field[:: _LENS_GRID_PX * s, :: _LENS_GRID_PX * s]  # coarse rays, to find the board's box
    rng = np.random.default_rng([cfg.seed, zlib.crc32(rig.names[cam].encode())])  # per camera, by name
    brightness = 1 + cfg.lighting * _smooth_noise(rng, len(poses))
    gradient = cfg.lighting * np.stack([_smooth_noise(rng, len(poses)), _smooth_noise(rng, len(poses))], 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    vignette = (1 - cfg.vignetting * r2).astype(np.float32)
    ramp_x, ramp_y = xx / w - 0.5, yy / h - 0.5  # light coming from one side
    x0, y0, x1, y1 = _paper_rect(board, margin)
    paper = np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]])
    # board units -> texture pixel (pixel centres at integers)
    to_tex = np.array([[ppu, 0, -x0 * ppu - 0.5], [0, ppu, -y0 * ppu - 0.5], [0, 0, 1]])
    r_wc, t_wc = rig.R[cam], rig.tvec[cam]
    noise = np.empty((h, w), np.float32)
    back = np.full_like(texture, (cfg.back_side - cfg.black) / (cfg.white - cfg.black))
    with _grey_writer(path, cfg.codec, fps, (w, h)) as writer:
        for f, pose in enumerate(poses):
            refl = np.full((h, w), (cfg.background - cfg.black) / (cfg.white - cfg.black), np.float32)
            r_cb = r_wc @ pose[:3, :3]
            t_cb = r_wc @ pose[:3, 3] + t_wc
            cam_in_board = -r_cb.T @ t_cb
            depth = (paper @ r_cb.T + t_cb)[:, 2]
            if (depth > 0).all():
                # ray (x, y, 1) hits the plane z=0 at board (X, Y) with [x y 1] ~ [r1 r2 t] [X Y 1]
                plane = np.stack([r_cb[:, 0], r_cb[:, 1], t_cb], 1)
                to_board = np.linalg.inv(plane)
                box = _board_box(nodes, to_board, (x0, y0, x1, y1), w, h, s)
                if box is not None:
                    bx0, by0, bx1, by1 = box
                    rays = field[by0 * s : by1 * s, bx0 * s : bx1 * s]
                    hom = (to_tex @ to_board).astype(np.float64)
                    maps = cv2.perspectiveTransform(rays.reshape(-1, 1, 2), hom).reshape(rays.shape)
                    front = cam_in_board[2] < 0
                    tex = texture if front else back
                    bg = float(refl[0, 0])
                    samples = cv2.remap(
                        tex, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=bg,
                    )
                    # an exact s x s block mean (INTER_AREA with an integer factor)
                    block = cv2.resize(samples, (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_AREA)
                    refl[by0:by1, bx0:bx1] = block
            light = vignette * brightness[f] + gradient[f, 0] * ramp_x + gradient[f, 1] * ramp_y
            img = (cfg.black + (cfg.white - cfg.black) * refl) * light
            if cfg.blur_sigma > 0:
                img = cv2.GaussianBlur(img, (0, 0), cfg.blur_sigma)
            if cfg.noise_sigma > 0:
                cv2.randn(noise, 0.0, cfg.noise_sigma)  # type: ignore[call-overload]  # stubs want arrays
                img += noise
            writer(np.clip(img + 0.5, 0, 255).astype(np.uint8))
            with _bar_lock:
                bar.update(1)


@contextlib.contextmanager
def _grey_writer(path: Path, codec: str, fps: float, size: tuple[int, int]):
    """``write(grey uint8 frame)`` into ``path`` (atomic) with OpenCV's encoder, or libx264 for ``"h264"``."""
    if codec == "h264":
        from ..io.video import h264_writer

        with h264_writer(path, size, fps) as write:
            yield lambda grey: write(np.repeat(grey[:, :, None], 3, axis=2))
        return
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*codec), float(fps), size, False)
        if not writer.isOpened():
            raise CalibrationError(f"render: OpenCV cannot write {codec} video to '{path}'.")
        try:
            yield writer.write
        finally:
            writer.release()


def _board_box(nodes, to_board, rect, w, h, s) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1) that holds the board, from the coarse ray grid; None if off-image."""
    x0, y0, x1, y1 = rect
    pts = cv2.perspectiveTransform(nodes.reshape(-1, 1, 2).astype(np.float64), to_board).reshape(nodes.shape)
    # a ray that meets the plane behind the camera has a negative homogeneous scale: exclude it
    hom = nodes[..., 0] * to_board[2, 0] + nodes[..., 1] * to_board[2, 1] + to_board[2, 2]
    pad = 0.02 * max(x1 - x0, y1 - y0)
    hit = (
        (hom > 0)
        & (pts[..., 0] > x0 - pad) & (pts[..., 0] < x1 + pad)
        & (pts[..., 1] > y0 - pad) & (pts[..., 1] < y1 + pad)
    )
    if not hit.any():
        return None
    rows, cols = np.nonzero(hit)
    g = _LENS_GRID_PX
    bx0 = max(int(cols.min() * g) - 2 * g, 0)
    bx1 = min(int(cols.max() * g) + 2 * g, w)
    by0 = max(int(rows.min() * g) - 2 * g, 0)
    by1 = min(int(rows.max() * g) + 2 * g, h)
    if bx1 <= bx0 or by1 <= by0:
        return None
    return bx0, by0, bx1, by1


def video_name(camera: str, codec: str = "mp4v") -> str:
    """File name of a camera's rendered video: ``cam-<name>.mp4`` (``mocap3d calibrate`` reads the name back)."""
    return f"cam-{camera}{_CODECS[codec]}"


def render_board_videos(
    rig: CameraRig,
    board: Board,
    poses: np.ndarray,
    out_dir: str | Path,
    fps: float = 30,
    *,
    config: RenderConfig | None = None,
    workers: int = 2,
    progress: bool = True,
) -> dict[str, Path]:
    """Film the board at each pose in every camera of the rig.

    Parameters
    ----------
    rig : CameraRig
        The true cameras (intrinsics, lens distortion, extrinsics); board units
        must be the rig's units.
    board : CharucoBoard | Checkerboard
    poses : array (F, 4, 4)
        Board->world transforms, one per frame (see :func:`board_trajectory`).
    out_dir : path
        Receives ``cam-<name>.mp4`` per camera and ``ground_truth.npz``
        (``poses``, ``corners`` (C, F, N, 2) px, ``visible`` (C, F, N), ``cameras``;
        read it with :func:`load_ground_truth`).
    fps : float
    config : RenderConfig
    workers : int
        Cameras rendered at once (threads).

    Returns
    -------
    dict camera name -> video path, in the rig's order.
    """
    cfg = config or RenderConfig()
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) == 0:
        raise CalibrationError(f"render: poses must have shape (F, 4, 4), got {poses.shape}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ppu = _texture_scale(rig, board, poses, cfg)
    texture, ppu, margin = _texture(board, ppu, cfg.paper_margin)
    log.info("rendering %d frames x %d cameras (texture %dx%d)", len(poses), len(rig), *texture.shape[::-1])
    paths = {name: out_dir / video_name(name, cfg.codec) for name in rig.names}
    with tqdm(total=len(poses) * len(rig), desc="rendering board videos", unit="frame", disable=not progress) as bar:
        # cameras in parallel threads: remap, perspectiveTransform and the encoder release the GIL
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            jobs = [
                pool.submit(_render_camera, rig, cam, board, poses, paths[name], fps, cfg, texture, ppu, margin, bar)
                for cam, name in enumerate(rig.names)
            ]
            for job in jobs:
                job.result()
    corners, visible = ground_truth_corners(rig, board, poses)
    with atomic_path(out_dir / GROUND_TRUTH_FILE) as tmp:
        np.savez_compressed(
            tmp, poses=poses, corners=corners, visible=visible, cameras=np.array(rig.names, dtype=str),
            board=np.array(json.dumps(board_to_toml(board))),
        )
    return paths


def load_ground_truth(out_dir: str | Path) -> dict[str, np.ndarray]:
    """The ground truth written by :func:`render_board_videos`: poses, corners, visible, cameras."""
    with np.load(Path(out_dir) / GROUND_TRUTH_FILE, allow_pickle=False) as data:
        return {k: data[k] for k in ("poses", "corners", "visible", "cameras")}


def render_key(payload: dict) -> str:
    """A stamp of everything a rendering depends on (JSON-able ``payload``), for resumable renderings."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def up_to_date(stamp: Path, key: str, outputs: list[Path]) -> bool:
    """Whether ``stamp`` (``render.json``) records ``key`` and every output exists."""
    if not stamp.is_file() or not all(p.is_file() for p in outputs):
        return False
    try:
        return json.loads(stamp.read_text()).get("key") == key
    except json.JSONDecodeError:
        return False


def render_sample_calibration(
    out_dir: str | Path,
    rig: CameraRig,
    board: Board,
    n_frames: int = 150,
    seed: int = 0,
    *,
    fps: float = 30,
    config: RenderConfig | None = None,
    trajectory: TrajectoryConfig | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Calibration videos of ``board`` sweeping through ``rig`` (resumable).

    Renders :func:`board_trajectory` with :func:`render_board_videos` into
    ``out_dir``, unless ``out_dir`` already holds videos made from the same
    rig, board and settings (recorded in ``render.json``), in which case they
    are returned as they are.

    Returns
    -------
    dict camera name -> video path, in the rig's order.
    """
    cfg = config or RenderConfig()
    traj = trajectory or TrajectoryConfig()
    out_dir = Path(out_dir)
    key_payload = {
        "rig": {k: np.asarray(getattr(rig, k)).tolist() for k in ("sizes", "K", "dist", "rvec", "tvec", "fisheye")},
        "names": list(rig.names), "board": board_to_toml(board), "n_frames": n_frames, "seed": seed, "fps": fps,
        "render": asdict(cfg), "trajectory": asdict(traj),
    }
    key = render_key(key_payload)
    stamp = out_dir / "render.json"
    paths = {name: out_dir / video_name(name, cfg.codec) for name in rig.names}
    if up_to_date(stamp, key, [out_dir / GROUND_TRUTH_FILE, *paths.values()]):
        log.info("sample calibration videos in %s are up to date", out_dir)
        return paths
    poses = board_trajectory(rig, board, n_frames, seed, traj)
    paths = render_board_videos(rig, board, poses, out_dir, fps, config=cfg, progress=progress)
    from ..io.atomic import atomic_write_text

    atomic_write_text(stamp, json.dumps({"key": key, "n_frames": n_frames, "seed": seed}, indent=1))
    return paths
