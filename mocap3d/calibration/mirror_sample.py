"""A rendered mirror box: one real camera whose frame holds a direct view and, at its side, a mirror's view.

The geometry is that of a real mirror box. The camera (world = its own frame:
x right, y down, z forward, millimetres) looks at a volume at ``target``; a flat
vertical mirror stands to the right of that volume, nearer the camera, and fills
the right-hand part of the frame. What the camera sees in the mirror is the
scene from a second point of view: the camera reflected in the mirror plane
(:func:`mocap3d.mirror.view_camera`), about ``view_angle_deg`` away from the
direct view.

Rendering is exact by construction: the board is filmed (with
:func:`~mocap3d.calibration.render.render_board_videos`, through the true lens)
by the real camera and by the *full-frame* reflected camera (the camera that
the mirror's view would be if the mirror filled the whole frame: same lens,
principal point and tangential term mirrored); the reflected frame, flipped
left-right, is what the raw frame shows wherever it sees the mirror, so the
mirror's box of the frame is replaced by that part of it. The mirror box
reaches the frame's right edge, so the mirror view (crop + flip back) has the
same pixel coordinates as that full-frame reflected camera: the "two real
cameras of the same geometry" of the benchmark are the real camera and the
reflected one with their full sensors.

Writes (see :func:`render_mirror_sample`)::

    cam-<camera>.mp4         the mirror-box video (what the real camera records)
    layout.toml              its views (direct; mirror, flipped horizontally)
    true_views.toml          the true per-view cameras, named <camera>-<view> (anipose calibration layout)
    true_camera.toml         the real camera (full frame)
    ground_truth.npz         poses (F, 4, 4); corners (V, F, N, 2) in view pixels, frame_corners in frame pixels,
                             visible (V, F, N); views; mirror_normal, mirror_offset
    two_cameras/cam-<camera>-<view>.mp4   the same board filmed by the two full-frame cameras

The board's path (:func:`~mocap3d.calibration.render.board_trajectory` on two
cameras at the real and reflected centres looking at ``target``) turns its
printed side between the two points of view, so it is read in both views at
once often enough for extrinsics. It stays on the camera's side of the
mirror (checked). The mirror's box always shows the mirror: the board never
passes between the camera and the mirror in this geometry (the direct view's
board stays left of the mirror's box, checked in the tests).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..camera import CameraRig, rotation_to_rodrigues
from ..errors import CalibrationError
from ..io.atomic import atomic_path, atomic_write_text
from ..mirror import MirrorLayout, MirrorView, view_camera
from .boards import Board, board_to_toml
from .render import (
    GROUND_TRUTH_FILE,
    RenderConfig,
    TrajectoryConfig,
    board_corners_world,
    board_trajectory,
    ground_truth_corners,
    render_board_videos,
    render_key,
    up_to_date,
    video_name,
)

__all__ = ["MirrorBox", "make_mirror_box", "reflect", "composite_frame", "render_mirror_sample",
           "load_mirror_ground_truth"]

log = logging.getLogger(__name__)


def reflect(points: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Mirror images ``(..., 3)`` of world points in the plane ``normal . X = offset`` (``normal`` unit)."""
    p = np.asarray(points, dtype=np.float64)
    return p - 2.0 * ((p @ normal) - offset)[..., None] * normal


@dataclass(frozen=True)
class MirrorBox:
    """One camera, its mirror and the frame's views.

    Attributes
    ----------
    camera : CameraRig
        The real camera (one camera, full frame).
    layout : MirrorLayout
        ``direct`` (left part, not flipped) and ``mirror`` (right part, flipped horizontally).
    normal, offset : array (3,), float
        The mirror plane ``normal . X = offset`` (world units; ``normal`` unit, pointing to the camera's side).
    target : array (3,)
        Centre of the volume seen in both views.
    """

    camera: CameraRig
    layout: MirrorLayout
    normal: np.ndarray
    offset: float
    target: np.ndarray

    @property
    def name(self) -> str:
        return self.camera.names[0]

    def _mirror_of(self, view: MirrorView) -> tuple[np.ndarray, float] | None:
        return (self.normal, self.offset) if view.flip_x != view.flip_y else None

    def view_rig(self) -> CameraRig:
        """The true camera of each view, named ``<camera>-<view>``, in the layout's order."""
        return _stack([view_camera(self.camera, self.name, v, self._mirror_of(v)) for v in self.layout.views])

    def full_rig(self) -> CameraRig:
        """The views' cameras with the whole sensor: the real camera and the full-frame reflected camera.

        Same names, poses, lenses and pixel coordinates as :meth:`view_rig`
        (each view's box starts at its camera's pixel (0, 0)); only the
        image is larger.
        """
        w, h = (int(v) for v in self.camera.sizes[0])
        full = []
        for v in self.layout.views:
            whole = MirrorView(v.name, 0, 0, w, h, v.flip)
            cam = view_camera(self.camera, self.name, whole, self._mirror_of(v))
            one = view_camera(self.camera, self.name, v, self._mirror_of(v))
            if not np.allclose(cam.K, one.K):
                raise CalibrationError(f"view '{v.name}' does not start at its full camera's pixel (0, 0).")
            full.append(cam)
        return _stack(full)


def _stack(cams: list[CameraRig]) -> CameraRig:
    return CameraRig([c.names[0] for c in cams], np.concatenate([c.sizes for c in cams]),
                     np.concatenate([c.K for c in cams]), np.concatenate([c.dist for c in cams]),
                     np.concatenate([c.rvec for c in cams]), np.concatenate([c.tvec for c in cams]),
                     np.concatenate([c.fisheye for c in cams]))


def make_mirror_box(
    width: int = 800, height: int = 600, mirror_width: int = 320, focal: float = 700.0,
    distance: float = 800.0, mirror_depth: float = 650.0, name: str = "box",
    dist: tuple[float, ...] = (-0.12, 0.05, 0.0008, -0.0006, 0.0),
) -> MirrorBox:
    """A mirror box (mm): the camera at the origin, the volume ``distance`` ahead and left of the mirror.

    Parameters
    ----------
    width, height : int
        Frame size (px).
    mirror_width : int
        Width of the mirror's box at the frame's right edge (px); the direct view is the rest.
    focal : float
        Focal length (px); the principal point is a few px off the frame's centre.
    distance : float
        Depth of the volume's centre (mm); it is placed in the middle of the direct view.
    mirror_depth : float
        Depth at which the central ray of the mirror's box meets the mirror (mm).
        Nearer the camera than the volume, the mirror shows it from the front
        side (``mirror_depth = 650`` with ``distance = 800``: about 57 degrees
        from the direct view, the reflected camera 1.1 m from the volume).
    dist : OpenCV distortion (k1, k2, p1, p2, k3) of the real lens (mild, realistic).
    """
    if not 0 < mirror_width < width:
        raise CalibrationError(f"mirror box: mirror_width must be between 0 and the frame width {width}.")
    cx, cy = width / 2 + 3.5, height / 2 - 2.8
    K = np.array([[focal, 0, cx], [0, focal * 1.001, cy], [0, 0, 1]])
    camera = CameraRig([name], [[width, height]], K[None], [list(dist)], [[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]])
    split = width - mirror_width
    layout = MirrorLayout((MirrorView("direct", 0, 0, split, height),
                           MirrorView("mirror", split, 0, mirror_width, height, "horizontal")))
    # the volume in the middle of the direct view
    target = np.array([(split / 2 - cx) / focal * distance, 0.0, distance])
    # the mirror turns the central ray of its box towards the volume: its normal bisects the two directions
    ray = np.array([((split + width) / 2 - cx) / focal, 0.0, 1.0])
    hit = ray * mirror_depth
    towards_volume = (target - hit) / np.linalg.norm(target - hit)
    normal = towards_volume - ray / np.linalg.norm(ray)
    normal /= np.linalg.norm(normal)
    offset = float(normal @ hit)
    if offset >= 0 or normal @ target - offset <= 0:
        raise CalibrationError("mirror box: the mirror must stand between the camera's side and nothing else; "
                               "choose mirror_depth and distance so that the volume is on the camera's side.")
    return MirrorBox(camera, layout, normal, offset, target)


def _look_at(center: np.ndarray, target: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = (target - center) / np.linalg.norm(target - center)
    x = np.cross(down, z)
    x /= np.linalg.norm(x)
    r = np.stack([x, np.cross(z, x), z])
    return rotation_to_rodrigues(r), -r @ center


def mirror_trajectory(box: MirrorBox, board: Board, n_frames: int, seed: int = 0,
                      config: TrajectoryConfig | None = None) -> np.ndarray:
    """Board poses ``(F, 4, 4)`` turning between the direct and the reflected point of view around ``target``.

    :func:`board_trajectory` of two stand-in cameras at the real and the
    reflected camera centres, both looking at ``target``, with the mirror
    box's (narrower) size, so the board stays within both views.
    """
    views = box.view_rig()
    centres = views.centers()
    down = np.array([0.0, 1.0, 0.0])
    rv, tv = zip(*(_look_at(c, box.target, down) for c in centres), strict=True)
    size = views.sizes.min(0)
    stand_in = CameraRig(views.names, [size] * len(views), views.K, np.zeros((len(views), 5)), rv, tv)
    poses = board_trajectory(stand_in, board, n_frames, seed, config)
    side = board_corners_world(board, poses) @ box.normal - box.offset
    if (side <= 0).any():
        raise CalibrationError("mirror sample: the board's path crosses the mirror; lower the trajectory's reach.")
    return poses


def composite_frame(direct: np.ndarray, reflected: np.ndarray, layout: MirrorLayout) -> np.ndarray:
    """The raw mirror-box frame ``(H, W, ...)``: the direct image, each flipped view's box from ``reflected``.

    ``reflected`` is the full-frame image of the reflected camera (an ordinary,
    unflipped image); flipped back as the mirror shows it, it is what the raw
    frame holds at the mirror's box.
    """
    out = direct.copy()
    raw = reflected[:, ::-1]
    for v in layout.views:
        if v.flip_x and not v.flip_y:
            out[v.y0:v.y0 + v.height, v.x0:v.x0 + v.width] = raw[v.y0:v.y0 + v.height, v.x0:v.x0 + v.width]
        elif v.flip != "none":
            raise CalibrationError(f"composite: only horizontally flipped mirror views are rendered, not '{v.flip}'.")
    return out


def _frames(path: Path):
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame[..., 0]
    finally:
        cap.release()


def _write_video(path: Path, frames, size: tuple[int, int], fps: float, codec: str) -> None:
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*codec), float(fps), size, False)
        if not writer.isOpened():
            raise CalibrationError(f"cannot write {codec} video to '{path}'.")
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.release()


def render_mirror_sample(
    out_dir: str | Path,
    box: MirrorBox,
    board: Board,
    n_frames: int = 120,
    seed: int = 0,
    *,
    fps: float = 30,
    config: RenderConfig | None = None,
    trajectory: TrajectoryConfig | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Render the mirror-box video of ``board`` sweeping through ``box`` (resumable; files in the module docstring).

    The two full-frame cameras are rendered losslessly (FFV1) first; the
    mirror-box video and the two cameras' videos are then encoded once each
    with ``config.codec``, so both carry one generation of compression. A
    re-run with the same inputs (recorded in ``render.json``) returns the
    existing files.

    Returns
    -------
    dict: ``video``, ``layout``, ``true_views``, ``true_camera``, ``ground_truth``, and
    ``two_cameras/<name>`` per full-frame camera.
    """
    from ..io.calibration import save_calibration

    cfg = config or RenderConfig()
    traj = trajectory or TrajectoryConfig(tilt_deg=25.0, roll_deg=20.0, reach=0.75, depth_reach=0.25)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    views, full = box.view_rig(), box.full_rig()
    ext = video_name("x", cfg.codec)[len("cam-x"):]
    paths = {"video": out_dir / video_name(box.name, cfg.codec), "layout": out_dir / "layout.toml",
             "true_views": out_dir / "true_views.toml", "true_camera": out_dir / "true_camera.toml",
             "ground_truth": out_dir / GROUND_TRUTH_FILE}
    paths.update({f"two_cameras/{n}": out_dir / "two_cameras" / f"cam-{n}{ext}" for n in full.names})
    key_payload = {
        "camera": {k: np.asarray(getattr(box.camera, k)).tolist() for k in ("sizes", "K", "dist", "rvec", "tvec")},
        "layout": box.layout.to_toml(), "mirror": [box.normal.tolist(), box.offset], "target": box.target.tolist(),
        "board": board_to_toml(board), "n_frames": n_frames, "seed": seed, "fps": fps, "render": asdict(cfg),
        "trajectory": asdict(traj),
    }
    key = render_key(key_payload)
    stamp = out_dir / "render.json"
    if up_to_date(stamp, key, list(paths.values())):
        log.info("mirror sample in %s is up to date", out_dir)
        return paths

    poses = mirror_trajectory(box, board, n_frames, seed, traj)
    scratch = out_dir / "full_lossless"
    rendered = render_board_videos(full, board, poses, scratch, fps, config=replace(cfg, codec="FFV1"),
                                   progress=progress)
    direct_name, mirror_name = full.names
    w, h = (int(v) for v in box.camera.sizes[0])
    pairs = zip(_frames(rendered[direct_name]), _frames(rendered[mirror_name]), strict=True)
    _write_video(paths["video"], (composite_frame(d, m, box.layout) for d, m in pairs), (w, h), fps, cfg.codec)
    (out_dir / "two_cameras").mkdir(exist_ok=True)
    for n in full.names:
        _write_video(paths[f"two_cameras/{n}"], _frames(rendered[n]), (w, h), fps, cfg.codec)
    shutil.rmtree(scratch)

    corners, visible = ground_truth_corners(views, board, poses)
    frame_corners = np.stack([v.to_frame(c) for v, c in zip(box.layout.views, corners, strict=True)])
    with atomic_path(paths["ground_truth"]) as tmp:
        np.savez_compressed(
            tmp, poses=poses, corners=corners, frame_corners=frame_corners, visible=visible,
            views=np.array(views.names, dtype=str), mirror_normal=box.normal, mirror_offset=np.float64(box.offset),
            board=np.array(json.dumps(board_to_toml(board))),
        )
    atomic_write_text(paths["layout"], box.layout.to_toml())
    save_calibration(views, paths["true_views"], {"note": "true cameras of the mirror-box views"})
    save_calibration(box.camera, paths["true_camera"], {"note": "true real camera of the mirror box"})
    atomic_write_text(stamp, json.dumps({"key": key, "n_frames": n_frames, "seed": seed}, indent=1))
    return paths


def load_mirror_ground_truth(out_dir: str | Path) -> dict[str, np.ndarray]:
    """What :func:`render_mirror_sample` wrote to ``ground_truth.npz``."""
    with np.load(Path(out_dir) / GROUND_TRUTH_FILE, allow_pickle=False) as data:
        return {k: data[k] for k in ("poses", "corners", "frame_corners", "visible", "views", "mirror_normal",
                                     "mirror_offset")}
