"""``mocap3d demo``: the whole job on a rendered recording, every stage checked against the truth.

The sample rig (:mod:`mocap3d.sample`: 4 cameras with real lenses around a
walkway, a walking subject) is filmed twice: a ChArUco board swept through the
volume (:mod:`mocap3d.calibration.render`) and the walker as a shaded, textured
body in a tiled room (:mod:`mocap3d.synthetic.body`; keypoints are not drawn).
The output folder is a project of one session in the layout of ``mocap3d run``
(:mod:`mocap3d.pipeline.config`: ``config.toml``, ``videos-raw/``, the board
videos in ``calibration/``), and the demo does what a lab does through the
pipeline's own stage functions (:mod:`mocap3d.pipeline.stages`, with the
settings of that ``config.toml``), so that ``mocap3d run`` on the folder finds
every stage complete and redoes only what changed:

1. calibrate from the board videos (stage ``calibrate``);
2. label a few frames per camera: the ground truth stands in for the person
   labelling (visible body parts only), as DeepLabCut label files in a network
   project (``network/project.toml``);
3. train the 2D network on them (stage ``train``);
4. analyse every video (stage ``analyze``);
5. triangulate with ``optim`` (stage ``triangulate``);
6. filter in 3D, joint angles and gait (stages ``filter3d``, ``angles``, ``gait``);
7. export TRC, C3D and netCDF (stage ``export``); render a viewer movie and pictures (``mocap3d view``).

Each stage prints one line: its verdict and its error against the truth. The
lines are collected in ``report.txt``, with one picture ``report.png``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .camera import CameraRig
from .errors import MocapError
from .io.atomic import atomic_write_text, save_figure

__all__ = ["DemoConfig", "QUICK", "load_demo_config", "run_demo"]

log = logging.getLogger(__name__)

#: Joint angles the demo computes (``mocap3d angles`` table).
ANGLES = {
    "l_knee": ["l_hip", "l_knee", "l_ankle"], "r_knee": ["r_hip", "r_knee", "r_ankle"],
    "l_hip": ["pelvis", "l_hip", "l_knee"], "r_hip": ["pelvis", "r_hip", "r_knee"],
    "l_elbow": ["l_shoulder", "l_elbow", "l_wrist"], "r_elbow": ["r_shoulder", "r_elbow", "r_wrist"],
}  # fmt: skip


@dataclass
class DemoConfig:
    """Everything the demo does, from ``sample_rigs/walker.toml``'s ``[sample]`` and ``[demo]`` tables.

    Attributes
    ----------
    n_frames, n_cameras, seed, fps, size :
        The recording (see :func:`mocap3d.sample.make_sample`); ``size`` (width, height) px.
    scale : float
        The world's size relative to the sample walker (1.0: a 1.7 m walker filmed from 5 m). The
        default 0.15 films a rat-sized subject (26 cm tall, cameras 75 cm away). A camera cannot tell a
        scene from its scaled copy, so the pictures are the same at every scale; the board and every
        length in millimetres scale with it.
    board_frames : int
        Frames of the calibration board video.
    board : dict
        The ChArUco board as printed (squares, square and marker length in mm at ``scale``, ArUco
        dictionary).
    supersample : int
        Rays per pixel along each axis when rendering the walker.
    labels_per_camera : int
        Frames labelled per camera (at most 50), evenly spread over the recording.
    network : bool
        False: skip labelling, training and analysis; the 2D input is the truth plus 1.5 px noise
        (checks the calibration and the 3D stages alone).
    preset : str
        2D network preset (``mocap3d train``); an unknown name is an error naming the presets.
    iterations : int or None
        Training iterations (None: the preset's); 2500 by default, 300 with ``--quick``.
    max_gap : int
        Triangulation (``optim``): a body part hidden from all but one camera for more than this many
        frames is left missing instead of being bridged by the smoothness term.
    score_threshold : float
        Triangulation: 2D detections scored below this are left out. 0.5 rather than the default 0.3: the
        network's least confident detections (mostly a heel and toe hidden behind the other leg) made the 3D
        p99 25 mm at 0.3 and 10.7 mm at 0.5, for 5 % fewer points triangulated (measured on the full demo).
    """

    n_frames: int = 300
    n_cameras: int = 4
    seed: int = 0
    fps: float = 60.0
    size: tuple[int, int] = (1280, 1024)
    scale: float = 0.15
    board_frames: int = 150
    board: dict = field(default_factory=lambda: {
        "squares_x": 7, "squares_y": 5, "square_length": 22.5, "marker_length": 16.5, "dictionary": "DICT_4X4_50",
    })  # fmt: skip
    supersample: int = 1
    labels_per_camera: int = 40
    preset: str = "lite0"
    iterations: int | None = 2500  # lite0's 3000 would not fit in 10 minutes on 2 cores with the rest
    workers: int = 2
    network: bool = True
    max_gap: int = 10
    score_threshold: float = 0.5

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        if not 1 <= self.labels_per_camera <= 50:
            raise MocapError(f"labels_per_camera = {self.labels_per_camera}: label between 1 and 50 frames per camera.")
        if self.labels_per_camera > self.n_frames:
            raise MocapError(f"labels_per_camera = {self.labels_per_camera} is more than the {self.n_frames} frames.")
        if not 0 < self.scale <= 100:
            raise MocapError(f"scale = {self.scale}: use a positive size relative to the sample walker, e.g. 0.15.")
        if self.size[0] % 2 or self.size[1] % 2:
            raise MocapError(f"size = {list(self.size)}: H.264 videos need an even width and height.")


#: ``--quick``: small frames, a short recording and a short training (for the tests; about a minute).
QUICK = {"n_frames": 60, "size": (640, 512), "board_frames": 48, "supersample": 1, "labels_per_camera": 20,
         "iterations": 300, "board": {"squares_x": 5, "squares_y": 4, "square_length": 33.0, "marker_length": 24.75,
                                      "dictionary": "DICT_4X4_50"}}  # fmt: skip


def load_demo_config(path: str | Path | None, quick: bool = False, **overrides) -> DemoConfig:
    """The demo's settings: defaults, then ``path``'s ``[sample]`` and ``[demo]`` tables, then ``--quick``, then
    ``overrides`` (None values ignored)."""
    values: dict = {}
    if path is not None:
        from .io.settings import check_tables, read_toml

        data = read_toml(Path(path), "sample rig file", MocapError)
        check_tables(data, ("sample", "demo"), str(path), scalar_ok=(), error=MocapError)
        known = {f.name for f in fields(DemoConfig)}
        for table in ("sample", "demo"):
            for key, value in data.get(table, {}).items():
                if table == "sample" and key in ("noise_px", "outlier_fraction", "occlusion"):
                    continue  # settings of the generated 2D files (mocap3d demo --from-2d)
                if key not in known:
                    raise MocapError(f"{path}: unknown [{table}] key '{key}'; known: {sorted(known)}.")
                values[key] = value
    if quick:
        values.update(QUICK)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values.get("board"), dict):
        board = dict(DemoConfig().board)
        board.update(values["board"])
        values["board"] = board
    cfg = DemoConfig(**values)
    if cfg.network:
        from .nn.config import preset

        preset(cfg.preset)  # an unknown name: one sentence listing the presets, before minutes of rendering
    return cfg


#: A 3D point farther than this from the truth is an outlier, in the walker's millimetres (times ``scale``).
OUTLIER_MM = 100.0


# --------------------------------------------------------------------------- helpers
def _stats(err: np.ndarray) -> tuple[float, float, float]:
    err = err[np.isfinite(err)]
    if not err.size:
        return float("nan"), float("nan"), float("nan")
    return float(np.median(err)), float(np.percentile(err, 90)), float(np.percentile(err, 99))


class _Report:
    """The stage lines, printed as they come (``echo``) and kept for ``report.txt``."""

    def __init__(self, echo: Callable[[str], None], heartbeat_s: float | None = None) -> None:
        self.echo = echo
        self.lines: list[str] = []
        self.values: dict[str, Any] = {}
        self.t0 = time.perf_counter()
        self._stage_t0 = self.t0
        self.heartbeat_s = heartbeat_s
        self._stop: threading.Event | None = None

    def start(self, what: str, heartbeat: bool = False) -> None:
        """Announce a stage; without progress bars (or with ``heartbeat``: a pipeline stage, which draws none), a
        line every ``heartbeat_s`` (10 s by default) says it is still running."""
        self._stop_heartbeat()
        self._stage_t0 = time.perf_counter()
        self.echo(f"... {what}")
        if self.heartbeat_s or heartbeat:
            stop = self._stop = threading.Event()
            t0, period = self._stage_t0, self.heartbeat_s or 10.0

            def beat() -> None:
                while not stop.wait(period):
                    self.echo(f"... still {what} ({time.perf_counter() - t0:.0f} s)")

            threading.Thread(target=beat, daemon=True).start()

    def _stop_heartbeat(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def stage(self, name: str, verdict: str, text: str) -> None:
        self._stop_heartbeat()
        seconds = time.perf_counter() - self._stage_t0
        line = f"{name:>11}: {verdict}: {text} ({seconds:.0f} s)"
        self.lines.append(line)
        self.echo(line)


def _board(cfg: DemoConfig, scale: float = 1.0):
    """The board as printed (``scale`` 1), or its copy in the sample walker's world (``1 / cfg.scale``)."""
    from .calibration.boards import CharucoBoard

    values = dict(cfg.board)
    for key in ("square_length", "marker_length"):
        values[key] = float(values[key]) * scale
    return CharucoBoard(**values)


def _scaled(sample, s: float):
    """The sample recording in a world ``s`` times its size: camera positions and 3D points scale, pixels do not."""
    from dataclasses import replace as dc_replace

    from .poses import Poses3D

    t = sample.truth
    truth = Poses3D(t.keypoints, t.points * s, fps=t.fps, metadata={**t.metadata, "scale": s})
    rig = sample.rig.replace(tvec=sample.rig.tvec * s)
    return dc_replace(sample, rig=rig, truth=truth, limbs={k: v * s for k, v in sample.limbs.items()})


def _align_to_truth(est: CameraRig, true: CameraRig) -> CameraRig:
    """``est`` moved rigidly so that its camera centres best match the true ones (no scaling).

    A calibration fixes the world frame only up to a rigid motion (here: the first camera's frame);
    a lab puts the board on the floor (``mocap3d calibrate --origin-frame``), the demo takes the frame
    from the true camera positions, so that 3D errors, the floor and "up" can be compared with the truth.
    """
    from .calibration.report import umeyama
    from .camera import rotation_to_rodrigues

    _, r, t = umeyama(est.centers(), true.centers(), with_scale=False)
    # x_true = r x_est + t  ->  x_cam = R_est x_est + t_est = R_est r^T (x_true - t) + t_est
    rot = est.R @ r.T
    tvec = est.tvec - np.einsum("cij,j->ci", rot, t)
    return est.replace(rvec=rotation_to_rodrigues(rot), tvec=tvec)


def _label_frames(n_frames: int, n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_frames - 1, n).round().astype(int))


def _extract(video: Path, frames: np.ndarray) -> dict[int, np.ndarray]:
    """The chosen frames of a video (BGR), decoded in order."""
    import cv2

    wanted = {int(f) for f in frames}
    out: dict[int, np.ndarray] = {}
    cap = cv2.VideoCapture(str(video))
    i = 0
    try:
        while len(out) < len(wanted):
            ok, img = cap.read()
            if not ok:
                break
            if i in wanted:
                out[i] = img
            i += 1
    finally:
        cap.release()
    if len(out) < len(wanted):
        raise MocapError(f"{video}: only {len(out)} of the {len(wanted)} frames to label could be decoded.")
    return out


# --------------------------------------------------------------------------- the demo
def run_demo(out: str | Path, config: DemoConfig | None = None, echo: Callable[[str], None] = print,
             progress: bool = False) -> list[str]:
    """Run the whole job on the rendered sample (see module docstring); returns the report lines.

    ``progress``: progress bars (on a terminal); without them a stage that runs long prints a line every
    10 s, so that a log never sits silent.
    """
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    cfg = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = _Report(echo, heartbeat_s=None if progress else 10.0)
    try:
        return _run_stages(out, cfg, rep, progress)
    finally:
        rep._stop_heartbeat()


def _project_config(cfg: DemoConfig) -> str:
    """The demo project's ``config.toml``: every setting its pipeline stages use (``mocap3d run`` reads it)."""
    angles = "\n".join(f"{name} = {list(parts)!r}".replace("'", '"') for name, parts in ANGLES.items())
    network = (
        "\n[network]                        # the 'train' and 'analyze' stages\n"
        'project = "network/project.toml"  # labelled frames, preset and training settings; its network analyses\n'
        'backend = "onnx"                  # ONNX Runtime: about 3x torch\'s frames/s on a CPU\n'
    ) if cfg.network else ""  # fmt: skip
    return f"""\
# The demo's project (written by `mocap3d demo`). `mocap3d run <this folder>` runs the same stages: each is
# recorded in .mocap3d/ and skipped while complete; delete an output or change a setting and it runs again.

[project]
fps = {float(cfg.fps)!r}
units = "mm"

[calibration]
board = "board.toml"
# The demo's world frame: the true camera centres (a rigid move, no scaling), so that errors, the floor and "up"
# compare with the truth. A lab puts the board on the floor instead (origin_frame = <frame>).
reference = "truth/calibration_true.toml"
pictures = true
{network}
[triangulation]
method = "optim"
max_gap = {int(cfg.max_gap)}               # frames a body part seen by one camera is bridged
score_threshold = {float(cfg.score_threshold)!r}     # detections scored below are left out

[[filter3d]]
type = "butterworth"
cutoff = 6.0
order = 4

[angles]
{angles}

[gait]
up = "z"

[export]
formats = ["trc", "c3d", "nc"]
trc_yup = false
"""


def _run_stages(out: Path, cfg: DemoConfig, rep: _Report, progress: bool) -> list[str]:
    from .calibration.boards import save_board
    from .calibration.render import RenderConfig, render_sample_calibration
    from .io.calibration import save_calibration
    from .io.pose3d import save_poses3d
    from .pipeline.config import FOLDERS, Session, load_config
    from .pipeline.manifest import session_lock
    from .pipeline.stages import SessionContext
    from .sample import KEYPOINTS, make_sample
    from .synthetic.body import BodyRenderConfig, load_truth, render_body_videos

    w, h = cfg.size

    # ---------------------------------------------------------------- 1. film the board and the walker
    rep.start(f"rendering {cfg.n_cameras} cameras x ({cfg.board_frames} board + {cfg.n_frames} walker) frames "
              f"at {w}x{h}")  # fmt: skip
    walker = make_sample(n_frames=cfg.n_frames, n_cameras=cfg.n_cameras, seed=cfg.seed, fps=cfg.fps, size=cfg.size)
    # Rendered in the sample walker's world (the same pixels as the scaled world's), measured in the scaled one.
    # The board videos go where the pipeline's 'calibrate' stage looks for them: <session>/calibration/.
    render_sample_calibration(
        out / FOLDERS["calibration"], walker.rig, _board(cfg, 1 / cfg.scale), n_frames=cfg.board_frames,
        seed=cfg.seed, fps=30, config=RenderConfig(codec="h264"), progress=progress,
    )
    videos = render_body_videos(walker.rig, walker.truth.points, KEYPOINTS, out / FOLDERS["videos"], cfg.fps,
                                config=BodyRenderConfig(supersample=cfg.supersample, seed=cfg.seed),
                                workers=cfg.workers, progress=progress)  # fmt: skip
    sample = _scaled(walker, cfg.scale)
    rig_true = sample.rig
    save_calibration(rig_true, out / "truth" / "calibration_true.toml", {"source": "mocap3d sample rig (true values)"},
                     units="mm")
    save_poses3d(sample.truth, out / "truth" / "pose3d_true.h5")
    board = _board(cfg)
    save_board(board, out / "board.toml")
    atomic_write_text(out / "config.toml", _project_config(cfg))
    truth = load_truth(out / FOLDERS["videos"])
    visible = truth["visible"]
    height = float(np.ptp(sample.truth.points[..., 2]))
    rep.values.update(subject_height_mm=height, camera_distance_mm=float(
        np.median(np.linalg.norm(rig_true.centers() - sample.truth.points[0].mean(0), axis=1))))
    rep.stage("render", "done", f"{cfg.n_cameras} cameras, {w}x{h}: {cfg.board_frames} board frames -> "
              f"calibration/, {cfg.n_frames} frames of a {height:.0f} mm tall walker, cameras "
              f"{rep.values['camera_distance_mm']:.0f} mm away ({visible.mean():.0%} of body parts "
              f"visible) -> videos-raw/ (H.264); truth -> truth/ and videos-raw/animal_truth.npz; "
              f"project settings -> config.toml")  # fmt: skip

    # From here on the folder is a project of one session (itself), and every step that `mocap3d run` has is
    # its stage function, with the settings of config.toml: the demo and the pipeline are one path.
    session = Session(out.resolve(), out.resolve())
    ctx = SessionContext(session, load_config(out))
    with session_lock(session.folder("manifests"), session.name):
        return _pipeline_stages(out, cfg, rep, progress, ctx, sample, videos, truth, height, board)


def _pipeline_stages(out: Path, cfg: DemoConfig, rep: _Report, progress: bool, ctx, sample, videos, truth,
                     height: float, board) -> list[str]:
    import json

    import pandas as pd

    from .analysis.angles import compute_angles
    from .analysis.gait import event_accuracy
    from .calibration.report import rig_errors
    from .io.exports import load_any_poses3d
    from .io.pose3d import load_poses3d
    from .pipeline.runner import run_stage_limited
    from .triangulation.triangulate_stage import summarize

    rig_true = sample.rig

    def rel(path: Path) -> str:
        return Path(path).resolve().relative_to(out.resolve()).as_posix()

    # ---------------------------------------------------------------- 2. calibrate
    rep.start("calibrating from the board videos (stage 'calibrate')", heartbeat=True)
    done = run_stage_limited("calibrate", ctx)
    rig = ctx.rig  # calibration/calibration.toml, in the true rig's world frame ([calibration] reference)
    calib = json.loads(ctx.calibration.with_name("calibration_report.json").read_text())
    check = calib.get("physical_check", {})
    errs = rig_errors(rig_true, rig)
    centre_mm = float(errs["centre"].max())
    scale_pct = 100 * abs(float(errs["scale"]) - 1)
    distance = float(np.median(np.linalg.norm(rig_true.centers() - rig_true.centers().mean(0), axis=1)))
    square_mm, span_pct = float(check.get("square_median", np.nan)), float(check.get("span_pct", np.nan))
    good = calib["median_px"] < 0.5 and centre_mm < 0.01 * distance and scale_pct < 1 and check.get("verdict") == "good"
    rep.values.update(calib_px=calib["median_px"], calib_centre_mm=centre_mm, calib_scale_pct=scale_pct,
                      calib_square_mm=square_mm, calib_span_pct=span_pct)  # fmt: skip
    rep.stage("calibrate", "good" if good else "check it",
              f"reprojection median {calib['median_px']:.2f} px (p90 {calib['p90_px']:.2f}); board squares measured "
              f"within {square_mm:.2f} mm of {board.square_length:g} mm, board span within "
              f"{span_pct:.2f} %; vs truth: camera centres within {centre_mm:.1f} mm, scale off by "
              f"{scale_pct:.2f} %, focal lengths within {float(errs['focal_pct'].max()):.2f} % -> "
              f"{rel(ctx.calibration)}{_skipped(done)}")  # fmt: skip

    # ---------------------------------------------------------------- 3-5. label, train, analyse
    if cfg.network:
        pose_files, err2d = _network_stages(out, cfg, videos, truth, rep, ctx)
    else:
        pose_files, err2d = _truth_2d(out, cfg, truth, rig_true.names, rep)
        run_stage_limited("analyze", ctx)  # 'not needed': the 2D files are there

    # ---------------------------------------------------------------- 6. triangulate
    rep.start("triangulating (stage 'triangulate', optim)", heartbeat=True)
    for name in ("sync", "filter2d"):  # not needed in the demo's config (one trigger, no 2D filter)
        run_stage_limited(name, ctx)
    try:
        done = run_stage_limited("triangulate", ctx)
    except MocapError as exc:
        rep.stage("triangulate", "failed", str(exc))
        _finish(out, rep)
        raise MocapError(f"the demo stopped at triangulation ({exc}); the 2D network is not good enough yet: "
                         "train longer (--iterations) or label more frames (--labels). See "
                         f"{out / 'report.txt'}.") from None
    poses = load_poses3d(ctx.pose3d)
    summary = summarize(poses, ctx.pose3d)
    err3 = np.linalg.norm(poses.points - sample.truth.points, axis=-1)
    m3, p90_3, p99_3 = _stats(err3)
    rep.values.update(err3d_median_mm=m3, err3d_p90_mm=p90_3, err3d_p99_mm=p99_3, triangulated=summary.triangulated)
    rep.stage("triangulate", _verdict_3d(m3, p99_3, height),
              f"{summary.triangulated:.1%} triangulated, reprojection median {summary.median_error:.1f} px; "
              f"3D error vs truth median {m3:.2f} mm, p90 {p90_3:.2f} mm, p99 {p99_3:.2f} mm -> "
              f"{rel(ctx.pose3d)}{_skipped(done)}")  # fmt: skip

    # ---------------------------------------------------------------- 7. filter
    rep.start("filtering in 3D (stage 'filter3d')")
    done = run_stage_limited("filter3d", ctx)
    filtered = load_poses3d(ctx.final_pose3d)
    errf = np.linalg.norm(filtered.points - sample.truth.points, axis=-1)
    mf, p90f, p99f = _stats(errf)
    rep.values.update(filtered_median_mm=mf, filtered_p90_mm=p90f, filtered_p99_mm=p99f)
    rep.stage("filter-3d", _verdict_3d(mf, p99f, height), f"Butterworth 6 Hz: 3D error median {mf:.2f} mm, p90 "
              f"{p90f:.2f} mm, p99 {p99f:.2f} mm -> {rel(ctx.final_pose3d)}{_skipped(done)}")  # fmt: skip

    # ---------------------------------------------------------------- 8. angles and gait
    rep.start("joint angles (stage 'angles')")
    done = run_stage_limited("angles", ctx)
    angles_file = done.outputs[0]
    angles = pd.read_csv(angles_file)
    true_angles = compute_angles(sample.truth, ANGLES)
    names = list(ANGLES)
    dang = np.abs(angles[names].to_numpy() - true_angles[names].to_numpy())
    ma, p90a, _ = _stats(dang)
    rep.values.update(angle_median_deg=ma, angle_p90_deg=p90a)
    rep.stage("angles", "good" if ma < 3 else "check it",
              f"{len(names)} joint angles: error vs truth median {ma:.1f} deg, p90 {p90a:.1f} deg -> "
              f"{rel(angles_file)}{_skipped(done)}")  # fmt: skip
    rep.start("gait events (stage 'gait')")
    try:
        done = run_stage_limited("gait", ctx)
        events = pd.read_csv(done.outputs[0])
        acc = event_accuracy(events, sample.events, tolerance=3)
        timing = float(np.abs(acc["errors"]).mean()) if len(acc["errors"]) else float("nan")
        rep.values.update(gait_recall=acc["recall"], gait_precision=acc["precision"])
        rep.stage("gait", "good" if acc["recall"] > 0.8 and acc["precision"] > 0.8 else "check it",
                  f"{acc['n_matched']} of {acc['n_true']} true foot strikes and toe-offs found within 3 frames "
                  f"({acc['n_found']} found, mean timing error {timing:.1f} frames) -> "
                  f"{rel(done.outputs[0].parent)}/{_skipped(done)}")  # fmt: skip
    except MocapError as exc:
        rep.stage("gait", "not measured", str(exc))

    # ---------------------------------------------------------------- 9. exports
    rep.start("exporting (stage 'export')")
    done = run_stage_limited("export", ctx)
    written = done.outputs
    c3d = next(p for p in written if p.suffix == ".c3d")
    back = load_any_poses3d(c3d)
    rt = float(np.nanmax(np.abs(back.points - filtered.points)))
    rep.stage("export", "done", f"{', '.join(rel(p) for p in written)} (C3D read back within {rt:.3f} mm)"
              f"{_skipped(done)}")  # fmt: skip
    # ---------------------------------------------------------------- 10. pictures
    rep.start("rendering the viewer movie and pictures")
    pictures = _pictures(out, filtered, rig, sample, err3, errf, pose_files, videos, OUTLIER_MM * cfg.scale)
    rep.stage("view", "done", ", ".join(pictures))
    _report_png(out / "report.png", sample, filtered, err2d, errf, truth, videos, pose_files, rep)
    _finish(out, rep)
    return rep.lines


def _finish(out: Path, rep: _Report) -> None:
    """The last line, ``report.txt`` and ``report.json`` (every number the lines print)."""
    import json

    total = time.perf_counter() - rep.t0
    rep.values["total_s"] = total
    rep.lines.append(f"total {total:.0f} s; report -> {out / 'report.txt'}, picture -> {out / 'report.png'}")
    rep.echo(rep.lines[-1])
    atomic_write_text(out / "report.txt", "\n".join(rep.lines) + "\n")
    atomic_write_text(out / "report.json", json.dumps(rep.values, indent=1, default=float) + "\n")


def _network_stages(out: Path, cfg: DemoConfig, videos: dict[str, Path], truth: dict, rep: _Report,
                    ctx) -> tuple[list[Path], list[np.ndarray]]:
    """Label from the truth (the person labelling), then the pipeline's 'train' and 'analyze' stages; the 2D
    files and the 2D errors on unlabelled frames."""
    from .io.pose2d import load_track2d
    from .pipeline.runner import run_stage_limited

    rep.start(f"labelling {cfg.labels_per_camera} frames per camera from the truth")
    project, labelled = _make_project(out / "network", cfg, videos, truth, rep)
    n_labels = sum(len(v) for v in labelled.values())
    rep.stage("label", "done", f"{n_labels} frames ({cfg.labels_per_camera} per camera) labelled with the true "
              f"pixels of the visible body parts -> network/labeled-data/ (DeepLabCut layout)")  # fmt: skip

    tc = project.network.train
    rep.start(f"training the '{project.network.model.backbone}' network ({tc.iterations} iterations; stage 'train')",
              heartbeat=True)  # fmt: skip
    done = run_stage_limited("train", ctx)
    rep.values["train_iterations"] = tc.iterations
    model = project.model_dir / "model.pt"
    rep.stage("train", "done", f"{rep.values['preset']} preset: {done.note or 'trained'} -> "
              f"{model.relative_to(out)}{_skipped(done)}")  # fmt: skip

    rep.start("analysing every video (stage 'analyze')", heartbeat=True)
    done = run_stage_limited("analyze", ctx)
    files = ctx.pose_files()
    err2d = []
    n_frames = 0
    for c, cam in enumerate(videos):  # the rig's (and the truth's) camera order
        pts = load_track2d(files[cam]).points[:, 0]
        n_frames += len(pts)
        e = np.linalg.norm(pts - truth["points2d"][c], axis=-1)
        mask = truth["visible"][c].copy()
        mask[labelled[cam]] = False  # unlabelled frames only
        err2d.append(np.where(mask, e, np.nan))
    e2 = np.concatenate([e.ravel() for e in err2d])
    e2 = e2[np.isfinite(e2)]
    med2, p90_2, _ = _stats(e2)
    far = float((e2 > 10).mean()) if e2.size else float("nan")
    rep.values.update(err2d_median_px=med2, err2d_p90_px=p90_2, err2d_over10=far)
    verdict = "good" if med2 < 3 else ("usable" if med2 < 8 else "poor: label more frames or train longer")
    speed = f"; {n_frames / done.seconds:.0f} frames/s" if done.status == "done" and done.seconds > 0 else ""
    rep.stage("analyse", verdict, f"2D error on unlabelled frames (visible body parts): median {med2:.1f} px, "
              f"p90 {p90_2:.1f} px, {far:.1%} over 10 px{speed} -> pose-2d/{_skipped(done)}")  # fmt: skip
    return [files[cam] for cam in videos], err2d


def _skipped(outcome) -> str:
    """Said after a stage line when the pipeline found the stage's outputs complete from an earlier run."""
    return " (complete from an earlier run: skipped)" if outcome.status == "skipped" else ""


def _truth_2d(out: Path, cfg: DemoConfig, truth: dict, cameras, rep: _Report,
              noise_px: float = 1.5) -> tuple[list[Path], list[np.ndarray]]:
    """``--no-network``: the true pixels of the visible body parts plus noise, as DeepLabCut files."""
    from .io.pose2d import save_dlc
    from .poses import Track2D
    from .sample import KEYPOINTS

    rep.start("2D from the truth (no network)")
    rng = np.random.default_rng(cfg.seed)
    files, err2d = [], []
    for c, cam in enumerate(cameras):
        vis = truth["visible"][c]
        pts = truth["points2d"][c] + rng.normal(0, noise_px, truth["points2d"][c].shape)
        pts[~vis] = np.nan
        scores = np.where(vis, 0.95, 0.0)
        files.append(save_dlc(Track2D(pts[:, None], scores[:, None], tuple(KEYPOINTS), source=cam),
                              out / "pose-2d" / f"cam-{cam}.h5"))  # fmt: skip
        err2d.append(np.where(vis, np.linalg.norm(pts - truth["points2d"][c], axis=-1), np.nan))
    e2 = np.concatenate([e.ravel() for e in err2d])
    med2, p90_2, _ = _stats(e2)
    rep.values.update(err2d_median_px=med2, err2d_p90_px=p90_2)
    rep.stage("analyse", "skipped (--no-network)", f"2D = true pixels of the visible body parts + {noise_px} px "
              f"noise: median {med2:.1f} px, p90 {p90_2:.1f} px -> pose-2d/")  # fmt: skip
    return files, err2d


def _verdict_3d(median: float, p99: float, height: float) -> str:
    """Relative to the subject's height: good when the median is within 1.25 % of it and the p99 within 6.25 %
    (3 and 15 mm for the rat-sized walker)."""
    if median <= 0.0125 * height and p99 <= 0.0625 * height:
        return "good"
    return "usable" if median <= 0.05 * height else "poor: check the 2D network and the calibration"


def _make_project(folder: Path, cfg: DemoConfig, videos: dict[str, Path], truth: dict, rep: _Report):
    """A network project with the truth as labels on ``labels_per_camera`` frames of each camera."""
    import cv2

    from .io.labels import SINGLE, LabelSet, label_file_path, save_labels
    from .nn.project import create_project, load_project
    from .sample import EDGES, KEYPOINTS

    folder.mkdir(parents=True, exist_ok=True)
    name = cfg.preset
    rep.values["preset"] = name
    frames = _label_frames(cfg.n_frames, cfg.labels_per_camera)
    labelled: dict[str, np.ndarray] = {}
    cams = list(videos)
    for c, (cam, video) in enumerate(videos.items()):
        sub = folder / "labeled-data" / video.stem
        images = _extract(video, frames)
        names = []
        sub.mkdir(parents=True, exist_ok=True)
        for f in frames:
            cv2.imwrite(str(sub / f"img{f:05d}.png"), images[int(f)])
            names.append(f"labeled-data/{video.stem}/img{f:05d}.png")
        pts = truth["points2d"][c][frames].copy()
        pts[~truth["visible"][c][frames]] = np.nan  # a labeller marks what is seen
        save_labels(LabelSet(tuple(names), tuple(KEYPOINTS), (SINGLE,), pts[:, None], "demo"),
                    label_file_path(sub, "demo"))
        labelled[cam] = frames
    toml_path = folder / "project.toml"
    create_project(toml_path, "walker", list(KEYPOINTS), videos=[os.path.relpath(v, folder) for v in videos.values()],
                   skeleton=list(EDGES), preset_name=name, scorer="demo", cameras=cams)  # fmt: skip
    project = load_project(toml_path)
    project.train_fraction = 1.0
    # No left/right mirroring: the walker's left limbs are lighter than its right ones (as a marked subject's),
    # and a mirrored crop would teach that a light arm may be the right one (measured: with flips, 40-55 % of
    # the 2D errors over 10 px were left/right swaps).
    project.network = project.network.replace(augment=project.network.augment.replace(flip=False))
    # The rat-sized walker fills enough of a 1280x1024 frame at half size; the accuracy presets' 1.0 (for small
    # animals like openfield's mouse) would make analysing every frame ~4x slower than the 10-minute budget allows.
    # For the same reason analysis stays at the training scale (no [train] test_scales).
    model = project.network.model
    project.network = project.network.replace(model=model.replace(input_scale=min(model.input_scale, 0.5)),
                                              train=project.network.train.replace(test_scales=()))
    if cfg.iterations:
        train_cfg = project.network.train.replace(iterations=int(cfg.iterations),
                                                  checkpoint_every=max(int(cfg.iterations), 1))
        project.network = project.network.replace(train=train_cfg)
    project.save()
    return project, labelled


def _pictures(out: Path, filtered, rig: CameraRig, sample, err3, errf, pose_files: list[Path],
              videos: dict[str, Path], outlier_mm: float) -> list[str]:
    """The 3D error per body part, the skeleton still, the reprojection summary, a camera's overlay movie
    (H.264, cropped to the subject) and the viewer movie."""
    from .io.matching import load_views
    from .viz.errors3d import plot_error_per_keypoint
    from .viz.overlay import OverlayConfig, plot_reprojection_summary, reprojection_errors, write_overlay_video
    from .viz.skeleton import plot_skeleton_views

    made = [plot_error_per_keypoint({"optim": err3, "optim + filter": errf}, sample.truth.keypoints,
                                    out / "error_3d.png", outlier=outlier_mm).name]  # fmt: skip
    frame = filtered.n_frames // 2
    made.append(plot_skeleton_views(filtered, out / "skeleton.png", frame, rig=rig, edges=sample.edges,
                                    truth=sample.truth).name)  # fmt: skip
    poses2d = load_views(pose_files, list(rig.names))
    err = reprojection_errors(poses2d, filtered, rig)
    made.append(plot_reprojection_summary(err, poses2d.views, filtered.keypoints, out / "reprojection.png",
                                          fps=filtered.fps).name)  # fmt: skip
    cam = rig.names[0]
    made.append(write_overlay_video(poses2d, filtered, rig, cam, out / f"overlay-{cam}.mp4", video=videos[cam],
                                    edges=sample.edges, config=OverlayConfig(crop_margin=40)).name)  # fmt: skip
    try:
        from .viewer import ViewerConfig, render_movie

        render_movie(filtered, out / "walk.mp4", rig=rig, edges=sample.edges,
                     config=ViewerConfig(window_size=(960, 540), trail_frames=30))  # fmt: skip
        made.append("walk.mp4")
    except Exception as exc:  # noqa: BLE001 - offscreen rendering needs an OpenGL context; say why it is missing
        log.warning("The viewer movie was not rendered (%s: %s); the pictures above do not need it.",
                    type(exc).__name__, exc)  # fmt: skip
        made.append(f"viewer movie not rendered ({type(exc).__name__}: {exc})")
    return made


def _report_png(path: Path, sample, filtered, err2d, errf, truth, videos: dict[str, Path], pose_files: list[Path],
                rep: _Report) -> Path:
    """One page: a camera frame with the network's and the true points, 2D and 3D error distributions,
    a knee angle against the truth."""
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .analysis.angles import compute_angles
    from .io.pose2d import load_track2d

    fig, axes = plt.subplots(2, 2, figsize=(13, 9), dpi=100)
    f = filtered.n_frames // 2
    cap = cv2.VideoCapture(str(next(iter(videos.values()))))
    cap.set(cv2.CAP_PROP_POS_FRAMES, f)
    ok, img = cap.read()
    cap.release()
    ax = axes[0, 0]
    if ok:
        pred = load_track2d(pose_files[0]).points[f, 0]
        true = truth["points2d"][0, f]
        pad = 60
        x0, y0 = np.nanmin(true, 0) - pad
        x1, y1 = np.nanmax(true, 0) + pad
        ax.imshow(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        ax.plot(true[:, 0], true[:, 1], "+", color="lime", ms=9, mew=1.5, label="truth")
        ax.plot(pred[:, 0], pred[:, 1], "o", mfc="none", color="magenta", ms=7, label="2D input")
        ax.set_xlim(max(x0, 0), min(x1, img.shape[1]))
        ax.set_ylim(min(y1, img.shape[0]), max(y0, 0))
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{sample.rig.names[0]}, frame {f} (0-based): 2D input vs truth", fontsize=10)
    ax.axis("off")
    ax = axes[0, 1]
    for c, e in enumerate(err2d):
        e = np.sort(e[np.isfinite(e)].ravel())
        if e.size:
            ax.plot(e, np.arange(1, e.size + 1) / e.size, label=sample.rig.names[c])
    ax.set_xscale("log")
    ax.set_xlabel("2D error on unlabelled frames (px)")
    ax.set_ylabel("fraction of visible body parts")
    ax.axvline(10, color="grey", ls=":")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("2D error per camera (ECDF)", fontsize=10)
    ax = axes[1, 0]
    data = [errf[:, k][np.isfinite(errf[:, k])] for k in range(errf.shape[1])]
    ax.boxplot(data, whis=(1, 99), showfliers=True, flierprops={"ms": 2})
    ax.set_xticks(np.arange(1, len(data) + 1), sample.truth.keypoints, rotation=60, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("3D error vs truth (mm)")
    ax.set_title("3D error per body part after filtering (box: quartiles, whiskers: 1-99 %)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax = axes[1, 1]
    t = np.arange(filtered.n_frames) / filtered.fps
    est = compute_angles(filtered, {"l_knee": ANGLES["l_knee"]})["l_knee"]
    tru = compute_angles(sample.truth, {"l_knee": ANGLES["l_knee"]})["l_knee"]
    ax.plot(t, tru, color="k", lw=2, label="truth")
    ax.plot(t, est, color="tab:red", lw=1, label="demo")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("left knee flexion (deg)")
    ax.legend(fontsize=8)
    ax.set_title("Left knee angle", fontsize=10)
    import textwrap

    head = [textwrap.shorten(line.rsplit(" (", 1)[0], 175) for line in rep.lines[1:8]]
    fig.suptitle("\n".join(head), fontsize=8, x=0.01, ha="left", family="monospace")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_figure(fig, path, format="png")


def with_overrides(cfg: DemoConfig, **changes) -> DemoConfig:
    return replace(cfg, **{k: v for k, v in changes.items() if v is not None})
