"""Reprojection overlays and error summaries on the sample rig, with errors known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import MocapError
from mocap3d.poses import Poses2D, Poses3D
from mocap3d.viz.overlay import (
    OverlayConfig,
    camera_overlay,
    draw_overlay,
    error_table,
    plot_reprojection_summary,
    reprojection_errors,
    write_overlay_video,
)

sample = pytest.importorskip("mocap3d.sample")


@pytest.fixture(scope="module")
def scene():
    s = sample.make_sample(n_frames=20, seed=0)
    truth = s.truth
    proj = s.rig.project(truth.points)  # (V, F, K, 2) exact detections
    # known errors: camera v is off by (3v, 4v) px everywhere (5v px), except one body part in cam2 off by 30 px
    offsets = np.arange(len(s.rig))[:, None, None, None] * np.array([3.0, 4.0])
    pts = proj + offsets
    pts[1, :, truth.keypoints.index("l_wrist")] += [30.0, 0.0]
    scores = np.ones(pts.shape[:3])
    pts[2, 5:8, 0] = np.nan
    scores[2, 5:8, 0] = 0
    p2d = Poses2D(views=s.rig.names, keypoints=truth.keypoints, points=pts, scores=scores, fps=60.0)
    return s, p2d


def test_reprojection_errors_are_the_known_offsets(scene):
    s, p2d = scene
    err = reprojection_errors(p2d, s.truth, s.rig)
    assert err.shape == (4, 20, len(s.truth.keypoints))
    expected = np.broadcast_to((5.0 * np.arange(4))[:, None, None], err.shape).copy()
    wrist = s.truth.keypoints.index("l_wrist")
    expected[1, :, wrist] = np.hypot(3 + 30.0, 4.0)
    expected[2, 5:8, 0] = np.nan
    np.testing.assert_allclose(err, expected, atol=1e-9)
    table = error_table(err, p2d.views, s.truth.keypoints)
    assert table.loc["cam4", "all"] == pytest.approx(15.0)
    assert table.loc["cam2", "l_wrist"] == pytest.approx(np.hypot(33.0, 4.0))


def test_overlay_draws_at_detections_and_reprojections():
    size = (200, 120)
    det = np.array([[40.0, 40.0], [150.0, 80.0], [np.nan, np.nan]])
    rep = np.array([[40.0, 40.0], [120.0, 80.0], [100.0, 30.0]])
    kps = ("a", "b", "c")
    cfg = OverlayConfig(label=False, radius=6, error_px=10.0)
    img = draw_overlay(None, det, np.ones(3), rep, kps, edges=[], config=cfg, size=size)
    assert img.shape == (120, 200, 3)
    gray = cfg.blank_gray
    assert (img[5, 5] == gray).all() and (img[110, 190] == gray).all()  # background far from everything
    # reprojections: white dots at their pixels
    for u, v in rep:
        assert (img[int(v), int(u)] > 200).all()
    # detection b: a ring of its colour around (150, 80), not filled
    ring = img[80, 150 + 6]
    assert not (ring == gray).all() and (img[80, 150] != 255).any()
    # a red error line between detection b and its reprojection 30 px away, none for a (0 px)
    assert img[80, 135, 2] > 200 and img[80, 135, 0] < 80
    # no line for the missing detection c: the pixel midway is background
    assert (img[55, 70] == gray).all()


def test_side_by_side_layout(scene):
    s, p2d = scene
    img = camera_overlay(p2d, s.truth, s.rig, "cam2", 3, config=OverlayConfig(layout="side_by_side"))
    w, h = s.rig.sizes[1]
    assert img.shape == (h, 2 * w, 3)
    # the left panel has detections only (coloured, not white dots), the right reprojections only (white)
    rep = s.rig.select(["cam2"]).project(s.truth.points[3])[0]
    inside = s.rig.select(["cam2"]).in_image(rep[None])[0]
    assert inside.sum() > 10
    u, v = np.round(rep[inside]).astype(int).T
    right = img[:, w:]
    assert (right[v, u] > 200).all(-1).mean() > 0.8


def test_overlay_video_with_and_without_video(scene, tmp_path):
    import cv2

    s, p2d = scene
    out = write_overlay_video(p2d, s.truth, s.rig, "cam1", tmp_path / "cam1.mp4", frames=range(5))
    cap = cv2.VideoCapture(str(out))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        assert frame.shape[:2] == (s.rig.sizes[0, 1], s.rig.sizes[0, 0])
    cap.release()
    assert n == 5
    # over a (synthetic) video: the video's pixels show through where nothing is drawn
    w, h = (int(x) for x in s.rig.sizes[0])
    src = tmp_path / "src.mp4"
    vw = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 60.0, (w, h))
    for _ in range(3):
        vw.write(np.full((h, w, 3), 180, np.uint8))
    vw.release()
    out2 = write_overlay_video(p2d, s.truth, s.rig, "cam1", tmp_path / "over.mp4", video=src, frames=[0, 1, 2])
    cap = cv2.VideoCapture(str(out2))
    ok, frame = cap.read()
    cap.release()
    assert ok and abs(int(frame[h - 5, w - 5].mean()) - 180) < 12
    with pytest.raises(MocapError, match="ends before"):
        write_overlay_video(p2d, s.truth, s.rig, "cam1", tmp_path / "x.mp4", video=src, frames=[0, 5])
    assert not (tmp_path / "x.mp4").exists()
    from mocap3d.io.video import video_codec

    for path in (out, out2):  # browsers play them
        assert video_codec(path) == {"codec": "h264", "pix_fmt": "yuv420p", "faststart": "yes"}


def test_overlay_video_cropped_to_the_subject(scene, tmp_path):
    import cv2

    from mocap3d.viz.overlay import OverlayConfig

    s, p2d = scene
    out = write_overlay_video(p2d, s.truth, s.rig, "cam1", tmp_path / "crop.mp4", frames=range(0, 20, 2),
                              config=OverlayConfig(crop_margin=30))
    cap = cv2.VideoCapture(str(out))
    ok, frame = cap.read()
    cap.release()
    w, h = (int(v) for v in s.rig.select(["cam1"]).sizes[0])
    assert ok and frame.shape[0] < h and frame.shape[1] < w and frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0
    proj = s.rig.select(["cam1"]).project(s.truth.points[0:20:2])[0].reshape(-1, 2)
    proj = proj[(proj >= 0).all(1) & (proj[:, 0] < w) & (proj[:, 1] < h)]
    span = np.percentile(proj, 99.5, axis=0) - np.percentile(proj, 0.5, axis=0)
    assert frame.shape[1] <= span[0] + 2 * 30 + 2 and frame.shape[0] <= span[1] + 2 * 30 + 2


def test_overlay_lines_coloured_by_error():
    from mocap3d.viz.overlay import OverlayConfig, draw_overlay, error_color_bgr

    assert error_color_bgr(0, 10) == (0, 200, 0) and error_color_bgr(50, 10) == (0, 0, 255)
    kp = ("a", "b")
    det = np.array([[100.0, 100.0], [300.0, 100.0]])
    rep = det + [[0.0, 40.0], [0.0, 2.0]]  # a: 40 px off (red line), b: 2 px (green)
    img = draw_overlay(None, det, np.ones(2), rep, kp, edges=[], config=OverlayConfig(radius=4), size=(400, 300))
    mid_a = img[120, 100].astype(int)  # halfway along a's line
    assert mid_a[2] > 200 and mid_a[1] < 60  # red (BGR)
    legend = img[230:300, 0:250]
    assert (legend > 200).any()  # the key's white text


def test_summary_plot(scene, tmp_path):
    s, p2d = scene
    err = reprojection_errors(p2d, s.truth, s.rig)
    path = plot_reprojection_summary(err, p2d.views, s.truth.keypoints, tmp_path / "errors.png", fps=60.0)
    import cv2

    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 300 and img.shape[1] > 500


def test_mismatched_inputs(scene):
    s, p2d = scene
    short = Poses3D(keypoints=s.truth.keypoints, points=s.truth.points[:5])
    with pytest.raises(MocapError, match="frames"):
        reprojection_errors(p2d, short, s.rig)
    with pytest.raises(MocapError, match="no 2D poses"):
        camera_overlay(p2d, s.truth, s.rig.select(["cam1", "cam2", "cam3", "cam4"]), "cam9", 0)
    with pytest.raises(MocapError, match="outside"):
        camera_overlay(p2d, s.truth, s.rig, "cam1", 99)


def test_cli_overlay(tmp_path):
    import cv2
    import pandas as pd
    from click.testing import CliRunner

    from mocap3d.cli import cli

    s = sample.make_sample(n_frames=6, seed=0)
    files = sample.write_sample(s, tmp_path / "sample")
    png, summary = tmp_path / "cam2.png", tmp_path / "errors.png"
    args = ["overlay", "-c", str(files["calibration"]), "-p", str(files["truth"]), "--camera", "cam2",
            "--frame", "2", "--out", str(png), "--summary", str(summary), *map(str, files["pose2d"])]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert cv2.imread(str(png)).shape[:2] == (s.rig.sizes[1, 1], s.rig.sizes[1, 0])
    table = pd.read_csv(summary.with_suffix(".csv"), index_col=0)
    # the sample's 2D noise is 1.5 px (plus 10% outliers): the median error against the truth is ~1.5 * 1.18 px
    assert 1.0 < table.loc["cam1", "all"] < 3.0
    res = CliRunner().invoke(cli, ["overlay", "-c", str(files["calibration"]), "-p", str(files["truth"]),
                                   *map(str, files["pose2d"])])
    assert res.exit_code == 1 and "nothing to do" in res.output
