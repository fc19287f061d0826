"""The PyVista viewer: offscreen rendering lands where the pinhole camera model says.

Expected pixel positions come from the camera model (``CameraRig.project`` or
our own projection of the plotter's camera), never from the renderer.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from mocap3d.camera import CameraRig, rotation_to_rodrigues  # noqa: E402
from mocap3d.errors import MocapError  # noqa: E402
from mocap3d.poses import Poses3D  # noqa: E402
from mocap3d.viewer import SkeletonScene, ViewerConfig, default_edges, render_movie, render_png  # noqa: E402

pv = pytest.importorskip("pyvista")

W, H = 640, 480


def _look_at_rig(center, target, f=900.0, cx=330.0, cy=235.0) -> CameraRig:
    center, target = np.asarray(center, float), np.asarray(target, float)
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    r = np.stack([x, y, z])
    k = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])
    return CameraRig(
        names=("cam",), sizes=[[W, H]], K=[k], dist=np.zeros((1, 5)),
        rvec=rotation_to_rodrigues(r[None]), tvec=(-r @ center)[None],
    )


def _skeleton(n_frames=4, seed=1):
    """A small 'person': 6 keypoints in a 1.2 x 0.8 x 1.8 m box, mm."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-600, -400, 0], [600, 400, 1800], size=(n_frames, 6, 3))
    kps = ("head", "neck", "pelvis", "l_hip", "l_knee", "l_ankle")
    return Poses3D(keypoints=kps, points=pts, fps=30.0)


def _segment_distance(px, a, b):
    """Distance of pixels px (N, 2) to the 2D segments a-b (E, 2): (N, E)."""
    ab = b - a
    t = np.clip(np.einsum("nei,ei->ne", px[:, None] - a, ab) / np.maximum((ab**2).sum(-1), 1e-12), 0, 1)
    closest = a + t[..., None] * ab
    return np.linalg.norm(px[:, None] - closest, axis=-1)


def _check_render(img, uv, segments_uv, colors, radius=6.0, far=14.0):
    """Keypoint colours at the projected keypoints; background far from all of the skeleton."""
    h, w = img.shape[:2]
    background = (img == 255).all(-1)
    inside = (uv[:, 0] > radius) & (uv[:, 0] < w - radius) & (uv[:, 1] > radius) & (uv[:, 1] < h - radius)
    assert inside.sum() >= 4, "test scene should put most keypoints inside the image"
    for (u, v), col in zip(uv[inside], colors[inside], strict=True):
        ui, vi = int(round(u)), int(round(v))
        patch = img[vi - 2: vi + 3, ui - 2: ui + 3].reshape(-1, 3).astype(float)
        # the sphere shading darkens the edges; the brightest centre pixel keeps the hue
        dist = np.linalg.norm(patch / 255.0 - col, axis=-1).min()
        assert dist < 0.35, f"keypoint colour not found near ({u:.1f}, {v:.1f})"
        if len(segments_uv[0]) == 0:  # a lone sphere: its blob is centred on the projection (to a pixel)
            ys, xs = np.nonzero(~background[vi - 10: vi + 11, ui - 10: ui + 11])
            assert abs(xs.mean() - 10 - (u - ui)) < 1.5 and abs(ys.mean() - 10 - (v - vi)) < 1.5
    ys, xs = np.nonzero(~background)
    px = np.column_stack([xs, ys]).astype(float)
    d_kp = np.linalg.norm(px[:, None] - uv[None], axis=-1).min(1)
    d = d_kp if len(segments_uv[0]) == 0 else np.minimum(d_kp, _segment_distance(px, *segments_uv).min(1))
    assert d.max() < far, f"drawn pixels {d.max():.1f} px away from any keypoint or segment"


@pytest.mark.parametrize("with_edges", [False, True])
def test_render_from_rig_camera_matches_projection(with_edges):
    poses = _skeleton()
    rig = _look_at_rig([300.0, -3000.0, 1200.0], [0.0, 0.0, 900.0])
    cfg = ViewerConfig(show_floor=False, trail_frames=0, frame_label=False, point_size=11, line_width=2)
    scene = SkeletonScene(poses, edges=None if with_edges else [], config=cfg, off_screen=True)
    try:
        scene.view_from_camera(rig, "cam")
        scene.set_frame(2)
        img = scene.screenshot()
    finally:
        scene.close()
    assert img.shape == (H, W, 3)
    uv = rig.project(poses.points[2], distort=False)[0]
    edges = scene.edges
    assert len(edges) == (5 if with_edges else 0)  # head-neck-pelvis-l_hip-l_knee-l_ankle
    _check_render(img, uv, (uv[edges[:, 0]], uv[edges[:, 1]]), scene.colors)


def _project_vtk_camera(cam, points, w, h):
    """Our own pinhole projection of a PyVista camera (position, focal point, up, vertical view angle)."""
    pos, foc, up = (np.asarray(v, float) for v in (cam.position, cam.focal_point, cam.up))
    fwd = (foc - pos) / np.linalg.norm(foc - pos)
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    f = (h / 2.0) / np.tan(np.radians(cam.view_angle) / 2.0)
    rel = points - pos
    z = rel @ fwd
    return np.column_stack([(w - 1) / 2.0 + f * (rel @ right) / z, (h - 1) / 2.0 - f * (rel @ true_up) / z])


def test_render_with_plain_pyvista_camera_matches_our_projection():
    poses = _skeleton(seed=3)
    cfg = ViewerConfig(
        show_floor=False, trail_frames=0, frame_label=False, point_size=11, line_width=2, window_size=(W, H)
    )
    scene = SkeletonScene(poses, edges=[], config=cfg, off_screen=True)
    try:
        cam = scene.plotter.camera
        cam.position = (2500.0, -3500.0, 1500.0)
        cam.focal_point = (0.0, 0.0, 900.0)
        cam.up = (0.0, 0.0, 1.0)
        cam.view_angle = 35.0
        scene.plotter.reset_camera_clipping_range()
        scene.set_frame(0)
        img = scene.screenshot()
        uv = _project_vtk_camera(cam, poses.points[0], W, H)
    finally:
        scene.close()
    edges = scene.edges
    _check_render(img, uv, (uv[edges[:, 0]], uv[edges[:, 1]]), scene.colors)


def test_missing_points_are_not_drawn():
    poses = _skeleton()
    poses.points[1, 0] = np.nan  # the head
    rig = _look_at_rig([300.0, -3000.0, 1200.0], [0.0, 0.0, 900.0])
    cfg = ViewerConfig(show_floor=False, trail_frames=0, frame_label=False, point_size=11)
    scene = SkeletonScene(poses, edges=[], config=cfg, off_screen=True)
    try:
        scene.view_from_camera(rig, 0)
        scene.set_frame(1)
        img = scene.screenshot()
    finally:
        scene.close()
    uv = rig.project(poses.points[1], distort=False)[0]
    # the NaN head has no projection; every drawn pixel is near one of the 5 other points
    ys, xs = np.nonzero(~(img == 255).all(-1))
    d = np.linalg.norm(np.column_stack([xs, ys])[:, None] - uv[None, 1:], axis=-1).min(1)
    assert d.max() < 10


def test_full_scene_png_and_movie(tmp_path):
    poses = _skeleton(n_frames=12)
    rig = _look_at_rig([300.0, -3000.0, 1200.0], [0.0, 0.0, 900.0])
    cfg = ViewerConfig(window_size=(320, 240), trail_frames=5)
    png = render_png(poses, tmp_path / "frame.png", frame=5, rig=rig, config=cfg)
    import cv2

    img = cv2.imread(str(png))
    assert img.shape == (240, 320, 3)
    assert (img != 255).any(-1).mean() > 0.01  # floor, cameras and skeleton were drawn
    movie = render_movie(poses, tmp_path / "movie.mp4", rig=rig, config=cfg)
    cap = cv2.VideoCapture(str(movie))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == poses.n_frames
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_keyboard_stepping_and_slider_state():
    poses = _skeleton(n_frames=30)
    scene = SkeletonScene(poses, config=ViewerConfig(window_size=(160, 120)), off_screen=True)
    try:
        scene.step(1)
        assert scene.frame == 1
        scene.step(10)
        assert scene.frame == 11
        scene.step(-100)
        assert scene.frame == 0
        scene.step(1000)
        assert scene.frame == 29
        np.testing.assert_allclose(scene._kp_mesh.points, poses.points[29])
        scene._toggle_play()
        assert scene.playing
        scene._tick()
        assert scene.frame == 0  # wraps around while playing
    finally:
        scene.close()


def test_default_edges_and_bad_edges():
    assert ("l_hip", "l_knee") in default_edges(("l_hip", "l_knee", "x"))
    assert default_edges(("a", "b")) == ()
    with pytest.raises(MocapError, match="not in the poses"):
        SkeletonScene(_skeleton(), edges=[("head", "tail")], off_screen=True)


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def sample_files(tmp_path_factory):
    sample = pytest.importorskip("mocap3d.sample")
    out = tmp_path_factory.mktemp("sample")
    return sample.write_sample(sample.make_sample(n_frames=8, seed=0), out)


def test_cli_view_renders_png_and_movie(sample_files, tmp_path):
    import cv2
    from click.testing import CliRunner

    from mocap3d.cli import cli

    runner = CliRunner()
    png = tmp_path / "frame.png"
    res = runner.invoke(cli, ["view", str(sample_files["truth"]), "-c", str(sample_files["calibration"]),
                              "--out", str(png), "--frame", "3", "--size", "320x240"])
    assert res.exit_code == 0, res.output
    assert cv2.imread(str(png)).shape == (240, 320, 3)
    mp4 = tmp_path / "walk.mp4"
    res = runner.invoke(cli, ["view", str(sample_files["truth"]), "--out", str(mp4), "--size", "160x120"])
    assert res.exit_code == 0, res.output
    assert "8 frames" in res.output and mp4.stat().st_size > 1000
    res = runner.invoke(cli, ["view", str(sample_files["truth"]), "--out", str(tmp_path / "x.txt")])
    assert res.exit_code == 1 and "use a .png" in res.output
    res = runner.invoke(cli, ["view", "--help"])
    assert res.exit_code == 0 and "Example" in res.output


def test_interactive_setup_offscreen():
    """show() builds the slider, play box, keys and timer (offscreen it renders once and returns)."""
    scene = SkeletonScene(_skeleton(n_frames=10), config=ViewerConfig(window_size=(160, 120)), off_screen=True)
    try:
        scene.show()
        assert scene._slider is not None
        scene._slider.GetRepresentation().SetValue(7.0)
        scene._toggle_play(True)
        scene._tick()
        assert scene.frame == 1  # playing advances one frame per timer tick
    finally:
        scene.close()


def test_cli_view_without_a_display_says_so_in_one_sentence(sample_files, monkeypatch):
    from click.testing import CliRunner

    from mocap3d.cli import cli, cmd_view

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(cmd_view.sys, "platform", "linux")
    res = CliRunner().invoke(cli, ["view", str(sample_files["truth"])])
    assert res.exit_code == 1
    assert "no display" in res.output and "--out walk.mp4" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_frame_label_is_zero_based_with_time():
    from mocap3d.viewer.scene import frame_text

    assert frame_text(120, 300, 60.0) == "frame 120 (0-299), 2.00 s"
    assert frame_text(0, 5, None) == "frame 0 (0-4)"
