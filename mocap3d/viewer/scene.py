"""A PyVista scene of a 3D reconstruction.

The scene shows, for one frame at a time:

* each keypoint as a coloured sphere (colour per body part, the same colours
  as the 2D overlays, see :func:`keypoint_colors`),
* the skeleton's segments, coloured by their distal body part,
* fading trajectories: each keypoint's last ``trail_frames`` positions, the
  colour fading into the background with age,
* the cameras of a :class:`~mocap3d.camera.CameraRig` as frusta (centre to the
  four image corners, at a depth proportional to the scene's size) with names,
* a floor grid in the plane ``up = 0`` (world Z-up by default, the sample rig's
  and anipose's usual convention).

Several individuals (a mapping individual -> :class:`~mocap3d.poses.Poses3D`,
as :func:`mocap3d.io.individuals.load_individuals` returns) are drawn in one
scene, each in its own colour (:func:`individual_colors`: keypoints, segments
and trails alike), with their names in those colours in the upper left corner.

On screen (:meth:`SkeletonScene.show`) a slider picks the frame, a check box
plays/pauses, and the keys step through time: Right/Left one frame,
Up/Down ten frames, ``space`` play/pause, Home/End first/last frame.
Offscreen (``off_screen=True``; set ``VTK_DEFAULT_OPENGL_WINDOW=
vtkEGLRenderWindow`` on headless machines) the same scene renders to PNG
(:func:`render_png`) and MP4 (:func:`render_movie`, H.264 through imageio-ffmpeg).

:meth:`SkeletonScene.view_from_camera` places the virtual camera exactly where a
rig camera is (pinhole part of its model: focal length, principal point,
pose), so a rendering can be compared pixel by pixel with
``CameraRig.project(points, distort=False)``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.alignment import axis_vector
from ..camera import CameraRig
from ..errors import MocapError
from ..io.atomic import atomic_path
from ..poses import Poses3D

__all__ = ["ViewerConfig", "SkeletonScene", "default_edges", "keypoint_colors", "individual_colors", "render_png",
           "render_movie"]

log = logging.getLogger(__name__)

# Segments between the body-part names used by the sample rig, OpenPose/COCO
# style exports and anipose's human configs; only pairs present are kept.
_HUMAN_EDGES = (
    ("head", "neck"), ("nose", "neck"), ("neck", "l_shoulder"), ("neck", "r_shoulder"),
    ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
    ("neck", "pelvis"), ("pelvis", "l_hip"), ("pelvis", "r_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
    ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("l_ankle", "l_heel"), ("l_ankle", "l_toe"), ("l_heel", "l_toe"),
    ("r_ankle", "r_heel"), ("r_ankle", "r_toe"), ("r_heel", "r_toe"),
    ("Nose", "Neck"), ("Neck", "RShoulder"), ("Neck", "LShoulder"), ("RShoulder", "RElbow"), ("RElbow", "RWrist"),
    ("LShoulder", "LElbow"), ("LElbow", "LWrist"), ("Neck", "Hip"), ("Hip", "RHip"), ("Hip", "LHip"),
    ("RHip", "RKnee"), ("RKnee", "RAnkle"), ("LHip", "LKnee"), ("LKnee", "LAnkle"), ("RAnkle", "RHeel"),
    ("RAnkle", "RBigToe"), ("LAnkle", "LHeel"), ("LAnkle", "LBigToe"),
)


def default_edges(keypoints: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Skeleton segments for known human body-part names (those present in ``keypoints``)."""
    present = set(keypoints)
    return tuple((a, b) for a, b in _HUMAN_EDGES if a in present and b in present)


def keypoint_colors(keypoints: Sequence[str], cmap: str = "tab20") -> np.ndarray:
    """One RGB colour in [0, 1] per keypoint (K, 3), shared by the viewer and the overlays."""
    from matplotlib import colormaps

    cm = colormaps[cmap]
    n = getattr(cm, "N", 256)
    idx = np.arange(len(keypoints))
    if n <= 32:  # a qualitative map: cycle through its entries
        return np.asarray(cm(idx % n))[:, :3]
    return np.asarray(cm(idx / max(len(keypoints) - 1, 1)))[:, :3]


def individual_colors(n: int, cmap: str = "tab10") -> np.ndarray:
    """One RGB colour in [0, 1] per individual (n, 3), far apart: a qualitative map's entries in order."""
    from matplotlib import colormaps

    cm = colormaps[cmap]
    size = getattr(cm, "N", 256)
    idx = np.arange(n)
    return np.asarray(cm(idx % size if size <= 32 else idx / max(n - 1, 1)))[:, :3]


def _stack_individuals(
    individuals: Mapping[str, Poses3D], edges: Sequence[tuple[str, str]] | None
) -> tuple[Poses3D, list[tuple[str, str]], np.ndarray]:
    """Several individuals as one Poses3D (keypoints ``<individual>/<keypoint>``), their segments and colours."""
    if not individuals:
        raise MocapError("viewer: no individual to show.")
    names = list(individuals)
    first = individuals[names[0]]
    for name, p in individuals.items():
        if p.keypoints != first.keypoints or p.n_frames != first.n_frames:
            raise MocapError(f"viewer: individual '{name}' has other keypoints or frames than '{names[0]}'.")
    if edges is None:
        edges = first.metadata.get("edges") or default_edges(first.keypoints)
    keypoints = tuple(f"{n}/{k}" for n in names for k in first.keypoints)
    points = np.concatenate([individuals[n].points for n in names], axis=1)
    stacked = Poses3D(keypoints=keypoints, points=points, fps=first.fps, units=first.units)
    all_edges = [(f"{n}/{a}", f"{n}/{b}") for n in names for a, b in edges]
    colors = np.repeat(individual_colors(len(names)), len(first.keypoints), axis=0)
    return stacked, all_edges, colors


@dataclass(frozen=True)
class ViewerConfig:
    """How the scene looks. Lengths are in the poses' units unless said otherwise."""

    point_size: float = 14.0  # keypoint sphere diameter on screen, px
    line_width: float = 4.0  # segment width, px
    trail_frames: int = 30  # frames of trajectory drawn behind each keypoint (0: none)
    trail_width: float = 2.0
    show_floor: bool = True
    floor_spacing: float | None = None  # grid spacing; None: a round number ~1/10 of the scene
    up: str = "z"  # world axis pointing up ("x", "y", "z", optionally "-z")
    show_cameras: bool = True
    frustum_scale: float = 0.05  # frustum depth as a fraction of the scene's size
    background: str = "white"
    frame_label: bool = True  # "frame i of 0-(n-1), t s" in the upper left corner (0-based, as the CLI)
    cmap: str = "tab20"
    window_size: tuple[int, int] = (1280, 720)


def frame_text(frame: int, n_frames: int, fps: float | None) -> str:
    """The frame label: 0-based like every command (``--frame``, DeepLabCut), with the time when known."""
    text = f"frame {frame} (0-{n_frames - 1})"
    return f"{text}, {frame / fps:.2f} s" if fps else text


def _nice_spacing(size: float) -> float:
    raw = max(size / 10.0, 1e-9)
    exp = 10 ** np.floor(np.log10(raw))
    return float(min((1, 2, 5, 10), key=lambda m: abs(m * exp - raw)) * exp)


class SkeletonScene:
    """A reconstruction in a PyVista plotter, one frame shown at a time.

    Parameters
    ----------
    poses : Poses3D, or a mapping individual -> Poses3D
        ``points`` (frames, keypoints, 3), world units; NaN points are hidden.
        Several individuals (same keypoints and frames) are coloured apart.
    edges : pairs of keypoint names (default: :func:`default_edges`, or
        ``poses.metadata["edges"]`` when present); for several individuals,
        the names of one individual's keypoints.
    rig : CameraRig, optional
        Cameras drawn as frusta with their names.
    config : ViewerConfig
    off_screen : render without a window (PNG/MP4 on headless machines).
    """

    def __init__(
        self,
        poses: Poses3D | Mapping[str, Poses3D],
        edges: Sequence[tuple[str, str]] | None = None,
        rig: CameraRig | None = None,
        config: ViewerConfig | None = None,
        off_screen: bool = False,
    ) -> None:
        import pyvista as pv

        self.pv = pv
        self.individuals: list[str] = []
        self._legend: list[Any] = []  # the individuals' names, in their colours (several individuals)
        colors = None
        if isinstance(poses, Mapping):
            self.individuals = list(poses)
            poses, edges, colors = _stack_individuals(poses, edges)
        self.poses = poses
        self.config = config or ViewerConfig()
        self.rig = rig
        if poses.n_frames == 0:
            raise MocapError("viewer: the 3D pose file has no frames.")
        if edges is None:
            edges = poses.metadata.get("edges") or default_edges(poses.keypoints)
        index = {k: i for i, k in enumerate(poses.keypoints)}
        unknown = [e for e in edges if e[0] not in index or e[1] not in index]
        if unknown:
            raise MocapError(f"viewer: skeleton segments {unknown} name body parts that are not in the poses "
                             f"({', '.join(poses.keypoints)}).")
        self.edges = np.array([(index[a], index[b]) for a, b in edges], dtype=np.int64).reshape(-1, 2)
        self.colors = keypoint_colors(poses.keypoints, self.config.cmap) if colors is None else colors
        self.frame = 0
        self.playing = False
        # typed Any: pyvista's decorated methods confuse type checkers
        self.plotter: Any = pv.Plotter(off_screen=off_screen, window_size=list(self.config.window_size))
        self.plotter.set_background(self.config.background)  # type: ignore[arg-type]  # pyvista stubs
        self._bg = np.asarray(pv.Color(self.config.background).float_rgb)
        self._extent()
        self._build()
        self.set_frame(0)
        self.reset_view()

    # ------------------------------------------------------------ building
    def _extent(self) -> None:
        pts = self.poses.points.reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(-1)]
        if len(pts) == 0:
            raise MocapError("viewer: every 3D point is missing (NaN); nothing to show.")
        # percentiles, not min/max: one wild triangulation must not shrink the skeleton to a dot
        lo, hi = np.percentile(pts, 1, axis=0), np.percentile(pts, 99, axis=0)
        self.body_lo, self.body_hi = lo, hi
        if self.rig is not None and self.config.show_cameras:
            centers = self.rig.centers()
            lo, hi = np.minimum(lo, centers.min(0)), np.maximum(hi, centers.max(0))
        self.lo, self.hi = lo, hi
        self.size = float(np.linalg.norm(hi - lo)) or 1.0

    def _build(self) -> None:
        pv, cfg = self.pv, self.config
        k = len(self.poses.keypoints)
        self._kp_mesh = pv.PolyData(np.zeros((k, 3)))
        self._kp_mesh.point_data["rgb"] = (self.colors * 255).astype(np.uint8)
        self._kp_actor = self.plotter.add_mesh(
            self._kp_mesh, scalars="rgb", rgb=True, point_size=cfg.point_size, render_points_as_spheres=True,
            style="points", name="keypoints",
        )
        e = len(self.edges)
        if e:
            # lines given to the constructor: no vertex cells, which VTK would draw as square dots
            segs = np.column_stack([np.full(e, 2), np.arange(0, 2 * e, 2), np.arange(1, 2 * e, 2)]).ravel()
            self._edge_mesh = pv.PolyData(np.zeros((2 * e, 3)), lines=segs)
            edge_rgb = np.repeat(self.colors[self.edges[:, 1]], 2, axis=0)
            self._edge_mesh.point_data["rgb"] = (edge_rgb * 255).astype(np.uint8)
            self._edge_actor = self.plotter.add_mesh(
                self._edge_mesh, scalars="rgb", rgb=True, line_width=cfg.line_width, name="segments",
            )
        n = cfg.trail_frames
        if n > 0:
            # one polyline per keypoint through its last n+1 positions
            cells = np.column_stack([np.full(k, n + 1), np.arange(k * (n + 1)).reshape(k, n + 1)])
            self._trail_mesh = pv.PolyData(np.zeros((k * (n + 1), 3)), lines=cells.ravel())
            age = np.linspace(1.0, 0.0, n + 1)[None, :, None]  # oldest first, faded fully
            rgb = self.colors[:, None, :] * (1 - age) + self._bg * age
            self._trail_mesh.point_data["rgb"] = (rgb.reshape(-1, 3) * 255).astype(np.uint8)
            self._trail_actor = self.plotter.add_mesh(
                self._trail_mesh, scalars="rgb", rgb=True, line_width=cfg.trail_width, name="trails",
            )
        if cfg.show_floor:
            self._add_floor()
        if self.rig is not None and cfg.show_cameras:
            self._add_cameras()
        self._label = None
        if len(self.individuals) > 1 and cfg.frame_label:
            self._add_legend()
        if cfg.frame_label:
            # a plain text actor at a pixel position: cheaper to update every frame than a corner annotation
            h = self.config.window_size[1]
            self._label = self.plotter.add_text(
                "frame", position=(8, h - 24), font_size=10, color="black", name="label", viewport=False
            )

    def _add_legend(self) -> None:
        """Each individual's name in its colour, below the frame label."""
        h = self.config.window_size[1]
        palette = individual_colors(len(self.individuals))
        self._legend = [
            self.plotter.add_text(name, position=(8, h - 44 - 18 * i), font_size=9, color=tuple(palette[i]),
                                  name=f"individual_{i}_label", viewport=False)
            for i, name in enumerate(self.individuals)
        ]  # fmt: skip

    def _add_floor(self) -> None:
        up = axis_vector(self.config.up)
        axis = int(np.argmax(np.abs(up)))
        plane = [i for i in range(3) if i != axis]
        spacing = self.config.floor_spacing or _nice_spacing(self.size)
        lo = np.floor(self.lo[plane] / spacing) * spacing - spacing
        hi = np.ceil(self.hi[plane] / spacing) * spacing + spacing
        ua = np.arange(lo[0], hi[0] + spacing / 2, spacing)
        vb = np.arange(lo[1], hi[1] + spacing / 2, spacing)
        starts, ends = [], []
        for a in ua:
            starts.append((a, lo[1]))
            ends.append((a, hi[1]))
        for b in vb:
            starts.append((lo[0], b))
            ends.append((hi[0], b))
        seg2 = np.stack([np.array(starts), np.array(ends)], 1).reshape(-1, 2)  # (2L, 2)
        pts = np.zeros((len(seg2), 3))
        pts[:, plane] = seg2
        n = len(seg2) // 2
        mesh = self.pv.PolyData(
            pts, lines=np.column_stack([np.full(n, 2), np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2)]).ravel()
        )
        self.plotter.add_mesh(mesh, color=(0.78, 0.78, 0.78), line_width=1, name="floor")

    def _add_cameras(self) -> None:
        rig = self.rig
        assert rig is not None  # noqa: S101 - internal invariant, checked by the caller
        depth = self.config.frustum_scale * self.size
        w, h = rig.sizes[:, 0].astype(float), rig.sizes[:, 1].astype(float)
        corners_px = np.stack(
            [np.stack([np.zeros_like(w), np.zeros_like(h)], -1), np.stack([w, np.zeros_like(h)], -1),
             np.stack([w, h], -1), np.stack([np.zeros_like(w), h], -1)], 1
        )  # (C, 4, 2)
        ray = np.linalg.solve(rig.K[:, None], np.concatenate([corners_px, np.ones((len(rig), 4, 1))], -1)[..., None])
        cam_pts = ray[..., 0] * depth  # (C, 4, 3), z = depth
        world = np.einsum("cji,cnj->cni", rig.R, cam_pts - rig.tvec[:, None])  # R^T (x - t)
        centers = rig.centers()
        pts = np.concatenate([centers[:, None], world], 1).reshape(-1, 3)  # (C*5, 3)
        base = (np.arange(len(rig)) * 5)[:, None]
        pairs = np.array([(0, 1), (0, 2), (0, 3), (0, 4), (1, 2), (2, 3), (3, 4), (4, 1)])
        lines = (base[:, None, :] + pairs[None]).reshape(-1, 2)
        mesh = self.pv.PolyData(pts, lines=np.column_stack([np.full(len(lines), 2), lines]).ravel())
        self.plotter.add_mesh(mesh, color=(0.2, 0.2, 0.2), line_width=2, name="cameras")
        self.plotter.add_point_labels(
            centers, list(rig.names), font_size=12, point_size=1, shape_opacity=0.0, text_color="black",
            name="camera_names", always_visible=True,
        )

    # ------------------------------------------------------------ updating
    @property
    def n_frames(self) -> int:
        return self.poses.n_frames

    def set_frame(self, frame: int) -> None:
        """Show frame ``frame`` (clipped to the recording)."""
        frame = int(np.clip(frame, 0, self.n_frames - 1))
        self.frame = frame
        pts = self.poses.points[frame]
        # hidden points: VTK cannot draw NaN, so they go far behind nothing (a degenerate spot at a valid
        # neighbour) -- simplest is to collapse them onto the first valid point with the background colour.
        valid = np.isfinite(pts).all(-1)
        anchor = pts[valid][0] if valid.any() else np.zeros(3)
        shown = np.where(valid[:, None], pts, anchor)
        self._kp_mesh.points = shown
        rgb = np.where(valid[:, None], self.colors, self._bg)
        self._kp_mesh.point_data["rgb"] = (rgb * 255).astype(np.uint8)
        if len(self.edges):
            seg = shown[self.edges].reshape(-1, 3)
            ok = np.repeat(valid[self.edges].all(-1), 2)
            # a segment with a missing end collapses to a point at its valid end (invisible)
            seg = np.where(ok[:, None], seg, np.repeat(shown[self.edges[:, 0]], 2, axis=0))
            self._edge_mesh.points = seg
        n = self.config.trail_frames
        if n > 0:
            idx = np.clip(np.arange(frame - n, frame + 1), 0, self.n_frames - 1)
            hist = self.poses.points[idx].transpose(1, 0, 2)  # (K, n+1, 3)
            # missing samples repeat the nearest later valid sample so the line has no NaN
            fill = np.where(np.isfinite(hist).all(-1, keepdims=True), hist, shown[:, None, :])
            self._trail_mesh.points = fill.reshape(-1, 3)
        if self._label is not None:
            self._label.SetInput(frame_text(frame, self.n_frames, self.poses.fps))

    def step(self, n: int = 1) -> None:
        self.set_frame(self.frame + n)
        self.plotter.render()

    def reset_view(self) -> None:
        """An oblique view of the recorded motion (cameras may fall outside), the up axis up."""
        up = axis_vector(self.config.up)
        center = (self.body_lo + self.body_hi) / 2
        # look from the side of the motion's long axis, slightly above
        span = self.body_hi - self.body_lo
        span_h = np.where(np.abs(up) > 0, 0.0, span)
        side = np.zeros(3)
        side[int(np.argmin(np.where(np.abs(up) > 0, np.inf, span_h)))] = -1.0
        direction = side + 0.35 * up + 0.35 * np.cross(up, side)
        direction /= np.linalg.norm(direction)
        cam = self.plotter.camera
        cam.focal_point = tuple(center)
        cam.position = tuple(center + direction * 1.6 * max(float(np.linalg.norm(span)), 1e-9))
        cam.up = tuple(up)
        cam.view_angle = 30.0
        self.plotter.reset_camera_clipping_range()

    def view_from_camera(self, rig: CameraRig, camera: str | int) -> None:
        """Render from a rig camera's pose and pinhole intrinsics (lens distortion is not simulated).

        The window is resized to the camera's image size, so pixel ``(u, v)``
        of a screenshot matches ``rig.project(points, distort=False)`` (measured:
        keypoint blobs centred within about half a pixel, the rasteriser's
        offset; tests allow 1.5 px).
        """
        i = rig.index(camera) if isinstance(camera, str) else int(camera)
        w, h = (int(s) for s in rig.sizes[i])
        k = rig.K[i]
        r = rig.R[i]
        center = rig.centers()[i]
        self.plotter.window_size = [w, h]
        if self._label is not None:
            self._label.SetPosition(8, h - 24)
        for i, text in enumerate(self._legend):
            text.SetPosition(8, h - 44 - 18 * i)
        cam = self.plotter.camera
        cam.position = tuple(center)
        cam.focal_point = tuple(center + r[2])  # optical axis: third row of R (camera z in world)
        cam.up = tuple(-r[1])  # image y points down
        cam.view_angle = float(np.degrees(2 * np.arctan2(h / 2.0, k[1, 1])))
        # principal point offset, in VTK's window-centre units ([-1, 1] across the window);
        # pixel centres are at integer coordinates, so the window's centre is ((w-1)/2, (h-1)/2)
        wcx = -2.0 * (k[0, 2] - (w - 1) / 2.0) / w
        wcy = 2.0 * (k[1, 2] - (h - 1) / 2.0) / h
        cam.SetWindowCenter(wcx, wcy)
        self.plotter.reset_camera_clipping_range()

    # ------------------------------------------------------------ outputs
    def screenshot(self) -> np.ndarray:
        """The current frame as an RGB image (H, W, 3) uint8."""
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))

    def save_png(self, path: str | Path) -> Path:
        path = Path(path)
        img = self.screenshot()
        import cv2

        with atomic_path(path) as tmp:
            if not cv2.imwrite(str(tmp), np.ascontiguousarray(img[..., ::-1])):
                raise MocapError(f"could not write image '{path}'; check the folder and the extension (.png).")
        return path

    def save_movie(self, path: str | Path, frames: Sequence[int] | None = None, fps: float | None = None) -> Path:
        """Render ``frames`` (default: all) to a movie, atomically.

        H.264 through imageio-ffmpeg (small files every player reads); without
        it, OpenCV's MPEG-4 writer. (PyVista's own movie writer re-encodes at a
        high quality setting and is ~8x slower.)
        """
        from tqdm import tqdm

        path = Path(path)
        frames = range(self.n_frames) if frames is None else frames
        rate = float(fps or self.poses.fps or 30.0)
        with atomic_path(path) as tmp:
            write, close = self._movie_writer(tmp, rate)
            try:
                for f in tqdm(frames, desc="rendering", unit="frame", disable=None):
                    self.set_frame(f)
                    write(self.screenshot())
            finally:
                close()
        return path

    def _movie_writer(self, path: Path, rate: float):
        try:
            import imageio.v2 as iio
            import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary)

            writer = iio.get_writer(
                str(path), fps=rate, codec="libx264", quality=7, macro_block_size=2, pixelformat="yuv420p",
                ffmpeg_params=["-preset", "veryfast", "-movflags", "+faststart"], format="FFMPEG",
                ffmpeg_log_level="error",
            )
            return writer.append_data, writer.close
        except ImportError:
            import cv2

            w, h = self.plotter.window_size
            vw = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), rate, (int(w), int(h)))
            if not vw.isOpened():
                raise MocapError(
                    f"cannot write the movie '{path}'; install imageio-ffmpeg (pip install imageio-ffmpeg)."
                ) from None

            def write(img: np.ndarray) -> None:
                vw.write(np.ascontiguousarray(img[..., ::-1]))

            return write, vw.release

    def close(self) -> None:
        self.plotter.close()

    # ------------------------------------------------------------ interactive
    def _toggle_play(self, state: bool | None = None) -> None:
        self.playing = (not self.playing) if state is None else bool(state)

    def _tick(self, _step: int | None = None) -> None:
        if self.playing:
            self.set_frame((self.frame + 1) % self.n_frames)
            if self._slider is not None:
                self._slider.GetRepresentation().SetValue(self.frame)
            self.plotter.render()

    def bind_keys(self) -> None:
        """Keyboard shortcuts: Right/Left +-1 frame, Up/Down +-10, space play/pause, Home/End."""
        keys = {
            "Right": lambda: self.step(1), "Left": lambda: self.step(-1),
            "Up": lambda: self.step(10), "Down": lambda: self.step(-10),
            "Home": lambda: self.step(-self.n_frames), "End": lambda: self.step(self.n_frames),
            "space": self._toggle_play,
        }
        for key, fn in keys.items():
            self.plotter.add_key_event(key, fn)

    def show(self) -> None:
        """Open the interactive window: slider, play/pause box, keyboard stepping."""
        self._slider = self.plotter.add_slider_widget(
            lambda v: self.set_frame(int(round(v))), [0, self.n_frames - 1], value=0, title="frame",
            pointa=(0.25, 0.06), pointb=(0.95, 0.06), style="modern", fmt="%.0f",
        )
        self.plotter.add_checkbox_button_widget(self._toggle_play, value=False, position=(10, 10), size=30)
        self.plotter.add_text("play", position=(45, 14), font_size=9, color="black")
        self.bind_keys()
        period_ms = int(1000 / float(self.poses.fps or 30.0))
        self.plotter.add_timer_event(max_steps=10**9, duration=period_ms, callback=self._tick)
        self.plotter.show()

    _slider = None


@contextlib.contextmanager
def _offscreen(poses: Poses3D | Mapping[str, Poses3D], rig: CameraRig | None, edges: Sequence[tuple[str, str]] | None,
               config: ViewerConfig | None, camera: str | None) -> Iterator[SkeletonScene]:
    """An offscreen scene, seen from rig camera ``camera`` when given; closed on exit."""
    scene = SkeletonScene(poses, edges=edges, rig=rig, config=config, off_screen=True)
    try:
        if camera is not None:
            if rig is None:
                raise MocapError("rendering from a camera's viewpoint needs the calibration (--calibration).")
            scene.view_from_camera(rig, camera)
        yield scene
    finally:
        scene.close()


def render_png(
    poses: Poses3D | Mapping[str, Poses3D], path: str | Path, frame: int = 0, rig: CameraRig | None = None,
    edges: Sequence[tuple[str, str]] | None = None, config: ViewerConfig | None = None,
    camera: str | None = None,
) -> Path:
    """Render one frame offscreen to a PNG (from rig camera ``camera`` when given)."""
    with _offscreen(poses, rig, edges, config, camera) as scene:
        scene.set_frame(frame)
        return scene.save_png(path)


def render_movie(
    poses: Poses3D | Mapping[str, Poses3D], path: str | Path, rig: CameraRig | None = None,
    edges: Sequence[tuple[str, str]] | None = None, config: ViewerConfig | None = None,
    frames: Sequence[int] | None = None, fps: float | None = None, camera: str | None = None,
) -> Path:
    """Render frames offscreen to an MP4 movie."""
    with _offscreen(poses, rig, edges, config, camera) as scene:
        return scene.save_movie(path, frames=frames, fps=fps)
