"""A rendered mirror box: compositing, splitting (``mocap3d split-views``), calibration of its views, triangulation."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.calibration.boards import CharucoBoard, save_board
from mocap3d.calibration.detect import SamplingConfig, detect_videos
from mocap3d.calibration.mirror_sample import (
    composite_frame,
    load_mirror_ground_truth,
    make_mirror_box,
    reflect,
    render_mirror_sample,
)
from mocap3d.calibration.render import RenderConfig, board_corners_world
from mocap3d.calibration.report import umeyama
from mocap3d.cli import cli
from mocap3d.io.calibration import load_calibration
from mocap3d.mirror import MirrorLayout, MirrorView, load_layout
from mocap3d.triangulation import triangulate_dlt

BOARD = CharucoBoard(5, 4, 40.0, 30.0, "DICT_4X4_50")
N_FRAMES = 80


def _box():
    """A small mirror box (480x360, mirror in the right 192 px), same angles as the benchmark's 800x600 one."""
    return make_mirror_box(width=480, height=360, mirror_width=192, focal=420.0)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirror")
    box = _box()
    paths = render_mirror_sample(out / "sample", box, BOARD, n_frames=N_FRAMES, seed=2,
                                 config=RenderConfig(supersample=1), progress=False)
    return box, out, paths


def _invoke(args: list) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_compositing_takes_the_mirror_box_from_the_reflected_frame_flipped():
    layout = MirrorLayout((MirrorView("direct", 0, 0, 6, 4), MirrorView("mirror", 6, 0, 4, 4, "horizontal")))
    direct = np.arange(40).reshape(4, 10)
    reflected = 100 + np.arange(40).reshape(4, 10)
    frame = composite_frame(direct, reflected, layout)
    np.testing.assert_array_equal(frame[:, :6], direct[:, :6])
    np.testing.assert_array_equal(frame[:, 6:], reflected[:, 3::-1])  # frame x <- reflected (W - 1 - x)
    # and the mirror view (crop + flip back) is the reflected camera's image from its pixel (0, 0)
    np.testing.assert_array_equal(layout["mirror"].crop(frame[..., None])[..., 0], reflected[:, :4])


def test_a_true_corner_lands_where_the_real_camera_sees_its_reflection(sample):
    box, _, paths = sample
    truth = load_mirror_ground_truth(paths["ground_truth"].parent)
    X = board_corners_world(BOARD, truth["poses"])
    seen_in_mirror = box.camera.project(reflect(X, box.normal, box.offset))[0]  # the raw frame, through the lens
    np.testing.assert_allclose(truth["frame_corners"][1], seen_in_mirror, atol=1e-8)
    np.testing.assert_allclose(truth["frame_corners"][0], box.camera.project(X)[0], atol=1e-8)
    vis = truth["visible"]
    assert (vis.sum(-1) >= 6).all(0).mean() > 0.8  # the board is read in both views at once in most frames
    assert box.layout["mirror"].inside(truth["frame_corners"][1][vis[1]]).all()
    # the board never passes between the camera and the mirror: its direct image stays left of the mirror's box
    assert (box.camera.project(X)[0][..., 0] < box.layout["mirror"].x0 - 10).all()
    # the pixels: ChArUco corners detected in the split views lie on the true view pixels
    views = {v: paths["ground_truth"].parent / "views" / f"cam-box-{v}.mkv" for v in box.layout.names}
    code, out = _invoke(["split-views", "--layout", paths["layout"], "--out", views["direct"].parent, paths["video"]])
    assert code == 0, out
    assert "mirror ->" in out
    det = detect_videos(BOARD, views, sample=SamplingConfig(step=4), cache=None, progress=False)
    diff = det.corners - truth["corners"][:, det.frames]
    err = np.linalg.norm(diff, axis=-1)
    assert np.isfinite(err).sum() > 200
    # no offset (a crop or flip off by one pixel would show as a 1 px bias in x); the spread is the detector's on
    # these small 20 px squares rendered without anti-aliasing (measured: median 0.25 px direct, 0.31 px mirror, the
    # same as in the two full-frame cameras' videos)
    for v in range(2):
        assert np.abs(np.nanmean(diff[v].reshape(-1, 2), 0)).max() < 0.1
        assert np.nanmedian(err[v]) < 0.4, np.nanmedian(err[v])


def test_the_views_calibrate_and_triangulate_like_two_real_cameras(sample):
    box, out, paths = sample
    views_dir = out / "views2"
    code, msg = _invoke(["split-views", "--layout", paths["layout"], "--out", views_dir, paths["video"]])
    assert code == 0, msg
    board_file = save_board(BOARD, out / "board.toml")
    true = box.view_rig()
    rng = np.random.default_rng(0)
    X = box.target + rng.uniform(-60, 60, (300, 3))
    errors = {}
    for label, videos in (("mirror", [views_dir / "cam-box-direct.mkv", views_dir / "cam-box-mirror.mkv"]),
                          ("two", [paths[f"two_cameras/{n}"] for n in true.names])):
        code, msg = _invoke(["calibrate", "--board", board_file, "--out", out / f"{label}.toml", "--no-pictures",
                             "--step", "2", *videos])
        assert code == 0, msg
        rig = load_calibration(out / f"{label}.toml").select(true.names)  # cameras box-direct, box-mirror
        found = triangulate_dlt(rig.extrinsics(), rig.undistort_points(true.project(X), output="normalized"))
        _, r, t = umeyama(found, X, with_scale=False)
        errors[label] = np.linalg.norm(found @ r.T + t - X, axis=-1)
        assert np.abs(rig.K[:, 0, 0] / true.K[:, 0, 0] - 1).max() < 0.03  # measured 1.1-1.2% in both rigs
    mirror, two = np.median(errors["mirror"]), np.median(errors["two"])
    # measured (noise-free points 1 m away, after rigid alignment; this small, coarsely rendered sample): mirror
    # 0.50 mm, two real cameras 0.44 mm (the benchmark's 800x600 box: 0.03 mm each)
    assert mirror < 1.0 and mirror < 2 * two + 0.05, (mirror, two)


def test_split_views_errors_say_what_to_fix(sample, tmp_path):
    _, _, paths = sample
    layout = tmp_path / "layout.toml"
    layout.write_text('[[view]]\nname = "direct"\nbox = [0, 0, 300, 360]\n'
                      '[[view]]\nname = "mirror"\nbox = [300, 0, 200, 360]\nflip = "horizontal"\n')
    code, out = _invoke(["split-views", "--layout", layout, "--out", tmp_path / "v", paths["video"]])
    assert code == 1 and "'mirror' box [300, 0, 200, 360] reaches outside the 480x360 frame" in out
    assert "x0 + width <= 480" in out
    assert not (tmp_path / "v" / "cam-box-direct.mkv").exists()
    code, out = _invoke(["split-views", "--layout", layout, "--out", tmp_path / "v", tmp_path / "nope.mp4"])
    assert code == 1 and "not found" in out and "nope.mp4" in out
    code, out = _invoke(["split-views", "--layout", tmp_path / "missing.toml", "--out", tmp_path / "v",
                         paths["video"]])
    assert code == 1 and "layout file" in out and "missing.toml" in out
    code, out = _invoke(["split-views", "--help"])
    assert code == 0 and "Example" in out and "flip" in out


def test_layout_written_with_the_sample_reads_back(sample):
    box, _, paths = sample
    assert load_layout(paths["layout"]) == box.layout
    assert load_calibration(paths["true_views"]).names == ("box-direct", "box-mirror")
