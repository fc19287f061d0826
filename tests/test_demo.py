"""The rendered sample (a body, not dots), its videos, and ``mocap3d demo`` end to end against the truth."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.io.video import video_codec
from mocap3d.sample import KEYPOINTS, make_rig, walk
from mocap3d.synthetic.body import (
    BodyRenderConfig,
    keypoint_visibility,
    load_truth,
    render_body_frame,
    render_body_videos,
)

SMALL = (320, 256)


def _frames(n=24):
    points, _, _ = walk(n_frames=n)
    return points


# ----------------------------------------------------------------------------- the rendered body
def test_projected_truth_lies_on_the_drawn_body_and_the_floor_is_not_body():
    rig = make_rig(4, size=SMALL)
    points = _frames()
    cfg = BodyRenderConfig(supersample=2, noise_sigma=0.0)
    visible = keypoint_visibility(rig, points, KEYPOINTS)
    pix = rig.project(points)
    hidden_in_image = 0
    for cam in range(rig.n_cameras):
        for f in (0, 11, 23):
            img, coverage = render_body_frame(rig, cam, points[f], KEYPOINTS, cfg)
            assert img.shape == (SMALL[1], SMALL[0], 3) and img.dtype == np.uint8
            uv = np.round(pix[cam, f]).astype(int)
            inside = rig.in_image(pix[cam, f][None])[0]
            # every keypoint in the image sits on a body pixel: its own part, or the part in front of it
            assert (coverage[uv[inside, 1], uv[inside, 0]] > 0.5).all()
            hidden_in_image += int((inside & ~visible[cam, f]).sum())
            # the body is a small part of the frame; far from every keypoint nothing is body (floor, walls)
            far = np.ones(coverage.shape, bool)
            for u, v in uv[inside]:
                far[max(v - 40, 0) : v + 40, max(u - 40, 0) : u + 40] = False
            assert 0.002 < coverage.mean() < 0.2
            assert coverage[far].max() == 0.0
    assert hidden_in_image > 0  # body parts hide each other: some keypoints in the image are occluded


def test_body_pixels_differ_from_the_empty_room():
    rig = make_rig(2, size=SMALL)
    points = _frames(1)[0]
    cfg = BodyRenderConfig(noise_sigma=0.0)
    img, coverage = render_body_frame(rig, 0, points, KEYPOINTS, cfg)
    away = points + np.array([0.0, 0.0, 50_000.0])  # the walker lifted out of every view: the empty room
    empty, none = render_body_frame(rig, 0, away, KEYPOINTS, cfg)
    assert none.max() == 0.0
    body = coverage > 0.99
    diff = np.abs(img.astype(int) - empty.astype(int)).sum(-1)
    assert (diff[body] > 20).mean() > 0.9  # the body is drawn where the renderer says it is
    assert np.median(diff[coverage == 0]) < 30  # and the room elsewhere (its shadow aside)


def test_visibility_sees_the_near_side_and_hides_the_far_side():
    rig = make_rig(4, size=SMALL)
    points = _frames(60)
    vis = keypoint_visibility(rig, points, KEYPOINTS)
    head = KEYPOINTS.index("head")
    assert vis[:, :, head].mean() > 0.95  # nothing covers the head
    l_sh, r_sh = KEYPOINTS.index("l_shoulder"), KEYPOINTS.index("r_shoulder")
    # a camera on the walker's left (+y) sees the left shoulder more often than the right, and vice versa
    for cam, centre in enumerate(rig.centers()):
        if abs(centre[1]) > 2000:
            near, far = (l_sh, r_sh) if centre[1] > 0 else (r_sh, l_sh)
            assert vis[cam, :, near].mean() > vis[cam, :, far].mean()


def test_videos_are_h264_with_truth_beside_and_resume(tmp_path):
    rig = make_rig(2, size=SMALL)
    points = _frames(6)
    paths = render_body_videos(rig, points, KEYPOINTS, tmp_path, fps=30, config=BodyRenderConfig(supersample=1),
                               progress=False)  # fmt: skip
    for path in paths.values():
        assert video_codec(path) == {"codec": "h264", "pix_fmt": "yuv420p", "faststart": "yes"}
        cap = cv2.VideoCapture(str(path))
        frames = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            assert frame.shape == (SMALL[1], SMALL[0], 3)
            frames += 1
        cap.release()
        assert frames == 6
    truth = load_truth(tmp_path)
    assert truth["points2d"].shape == (2, 6, len(KEYPOINTS), 2) and truth["visible"].shape == (2, 6, len(KEYPOINTS))
    np.testing.assert_allclose(truth["points2d"], rig.project(points))
    stamp = {p: p.stat().st_mtime_ns for p in paths.values()}
    again = render_body_videos(rig, points, KEYPOINTS, tmp_path, fps=30, config=BodyRenderConfig(supersample=1),
                               progress=False)  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in again.values()} == stamp  # up to date: not rendered again


# ----------------------------------------------------------------------------- the demo
def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _line(output: str, stage: str) -> str:
    found = [line for line in output.splitlines() if line.strip().startswith(f"{stage}:")]
    assert found, f"no '{stage}:' line in\n{output}"
    return found[0]


def _number(line: str, before: str) -> float:
    m = re.search(rf"{before} ([0-9.]+)", line)
    assert m, f"'{before} <number>' not in: {line}"
    return float(m.group(1))


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    res = _run("demo", "--quick", "--no-network", "--out", out)
    assert res.exit_code == 0, res.output
    return out, res.output


def test_quick_demo_every_stage_reports_its_error_against_the_truth(quick_demo):
    from mocap3d.io.exports import load_any_poses3d
    from mocap3d.io.pose3d import load_poses3d

    out, output = quick_demo
    report = json.loads((out / "report.json").read_text())
    lines = (out / "report.txt").read_text().splitlines()
    for stage in ("render", "calibrate", "analyse", "triangulate", "filter-3d", "angles", "gait", "export", "view"):
        assert _line(output, stage) in lines
    calib = _line(output, "calibrate")
    assert calib.split(": ")[1] == "good"
    assert _number(calib, "reprojection median") < 0.5
    assert report["calib_square_mm"] < 0.01 * 33  # the board's 33 mm squares measured within 1 %
    assert report["calib_scale_pct"] < 1.5
    # the 3D numbers printed are the ones the files give against the truth
    truth = load_poses3d(out / "truth" / "pose3d_true.h5")  # the rat-sized world: 0.15 x the rendered walker's
    np.testing.assert_allclose(truth.points, 0.15 * load_truth(out / "videos-raw")["points3d"], rtol=1e-9)
    assert 200 < report["subject_height_mm"] < 300
    for name, key in (("pose-3d/out.h5", "err3d"), ("pose-3d-filtered/out.h5", "filtered")):
        err = np.linalg.norm(load_poses3d(out / name).points - truth.points, axis=-1)
        assert report[f"{key}_median_mm"] == pytest.approx(np.nanmedian(err), rel=1e-9)
        assert report[f"{key}_p99_mm"] == pytest.approx(np.nanpercentile(err, 99), rel=1e-9)
    tri = _line(output, "triangulate")
    assert _number(tri, "vs truth median") == pytest.approx(report["err3d_median_mm"], abs=0.0051)
    assert report["triangulated"] > 0.85  # max_gap 10: long runs seen by fewer than 2 cameras stay missing
    # 640x512 frames, 1.5 px noise, a 24 cm subject 0.8 m away (1280x1024 in the full demo: about 1 mm)
    assert report["err3d_median_mm"] < 6 and report["err3d_p99_mm"] < 18
    assert report["angle_median_deg"] < 5
    assert report["gait_recall"] >= 0.6
    for ext in (".trc", ".c3d", ".nc"):
        back = load_any_poses3d(out / "exports" / f"out{ext}")
        assert back.n_frames == 60 and len(back.keypoints) == len(KEYPOINTS)
    assert (out / "report.png").stat().st_size > 10_000
    for picture in ("error_3d.png", "skeleton.png", "reprojection.png", "calibration/calibration_physical.png",
                    "calibration/calibration_rig.png", "calibration/calibration_coverage.png"):
        img = cv2.imread(str(out / picture))
        assert img is not None and img.shape[0] > 300 and img.std() > 10, picture
    calib = json.loads((out / "calibration" / "calibration_report.json").read_text())
    assert calib["physical_check"]["verdict"] == "good" and calib["physical_check"]["square_median"] < 0.33


def test_quick_demo_videos_play_in_a_browser(quick_demo):
    out, _ = quick_demo
    videos = [*sorted((out / "videos-raw").glob("*.mp4")), *sorted((out / "calibration").glob("*.mp4"))]
    assert len(videos) == 8
    videos.append(out / "overlay-cam1.mp4")
    if (out / "walk.mp4").exists():
        videos.append(out / "walk.mp4")
    for video in videos:
        assert video_codec(video) == {"codec": "h264", "pix_fmt": "yuv420p", "faststart": "yes"}, video


def _statuses(report) -> dict[str, str]:
    (session,) = report.sessions
    assert session.ok, session.error
    return {s.stage: s.status for s in session.stages}


def test_quick_demo_is_a_project_that_mocap3d_run_finds_complete(quick_demo):
    """The demo's folder is a project of one session: ``mocap3d run`` finds every stage the demo ran complete;
    an output deleted is made again by its stage alone, equal to the demo's."""
    from mocap3d.io.pose3d import load_poses3d
    from mocap3d.pipeline import run_project

    out, _ = quick_demo
    res = _run("run", out, "--workers", "0", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "nothing to do" in res.output
    statuses = _statuses(run_project(out, workers=0, progress=False))
    ran = {"calibrate", "triangulate", "filter3d", "angles", "gait", "export"}  # --no-network: 2D files from the truth
    assert {k for k, v in statuses.items() if v == "skipped"} == ran
    assert all(statuses[k] == "not needed" for k in statuses.keys() - ran)
    # the demo's settings are the project's: its calibration, in the truth's world frame, is the one triangulated
    record = json.loads((out / ".mocap3d" / "triangulate.json").read_text())
    assert record["params"]["triangulation"]["method"] == "optim" and "calibration/calibration.toml" in record["inputs"]
    assert record["params"]["triangulation"]["score_threshold"] == 0.5

    before = load_poses3d(out / "pose-3d" / "out.h5")
    (out / "pose-3d" / "out.h5").unlink()
    statuses = _statuses(run_project(out, workers=0, progress=False))
    assert statuses["triangulate"] == "done"
    assert statuses["calibrate"] == "skipped"
    # the same 3D points again: the dependents find their input unchanged (or, if not, run again)
    after = load_poses3d(out / "pose-3d" / "out.h5")
    np.testing.assert_array_equal(after.points, before.points)
    assert all(statuses[k] in ("skipped", "done") for k in ("filter3d", "angles", "gait", "export"))

    (out / "exports" / "out.c3d").unlink()
    statuses = _statuses(run_project(out, workers=0, progress=False))
    assert [k for k, v in statuses.items() if v == "done"] == ["export"]
    assert (out / "exports" / "out.c3d").is_file()


def test_demo_rejects_bad_settings(tmp_path):
    res = _run("demo", "--labels", "80", "--out", tmp_path)
    assert res.exit_code != 0 and "80" in res.output
    rig = tmp_path / "rig.toml"
    rig.write_text("[demo]\nlabel_per_camera = 3\n")
    res = _run("demo", "--rig", rig, "--out", tmp_path / "o")
    assert res.exit_code == 1 and "unknown [demo] key 'label_per_camera'" in res.output
    assert "Traceback" not in res.output


@pytest.mark.slow
def test_quick_demo_with_a_network(tmp_path):
    """Labels from the truth, a short training, every video analysed; the 2D error printed is the files' error."""
    from mocap3d.io.labels import find_label_files, load_labels
    from mocap3d.io.pose2d import load_track2d

    out = tmp_path / "net"
    res = _run("demo", "--quick", "--iterations", "40", "--labels", "10", "--out", out)
    labels = find_label_files(out / "network")
    assert len(labels) == 4 and all(len(load_labels(p).images) == 10 for p in labels)
    assert (out / "network" / "models" / "walker" / "model.pt").is_file()
    truth = load_truth(out / "videos-raw")
    errs = []
    for c, cam in enumerate(truth["cameras"]):
        track = load_track2d(out / "pose-2d" / f"cam-{cam}.h5")
        assert track.points.shape[0] == 60
        err = np.linalg.norm(track.points[:, 0] - truth["points2d"][c], axis=-1)
        mask = truth["visible"][c].copy()
        mask[np.unique(np.linspace(0, 59, 10).round().astype(int))] = False
        errs.append(err[mask])
    report = json.loads((out / "report.json").read_text())
    assert report["err2d_median_px"] == pytest.approx(np.median(np.concatenate(errs)), rel=1e-9)
    # the network was trained and run by the pipeline's stages: `mocap3d run` finds them complete
    from mocap3d.pipeline import run_project

    (session,) = run_project(out, workers=0, progress=False).sessions
    statuses = {s.stage: s.status for s in session.stages}
    assert statuses["train"] == "skipped" and statuses["analyze"] == "skipped", statuses
    assert json.loads((out / "network" / ".mocap3d" / "train.json").read_text())["outputs"]
    if res.exit_code == 0:
        assert report["triangulated"] > 0
    else:  # 40 iterations may not find the body yet: the demo says so in one sentence and stops
        assert res.exit_code == 1 and "stopped at triangulation" in res.output and "Traceback" not in res.output


def test_demo_from_2d_files(tmp_path):
    """``--from-2d``: the triangulation part alone, on generated 2D files (DLT vs the robust mode)."""
    from mocap3d.io.pose3d import load_h5

    res = _run("demo", "--from-2d", "--out", tmp_path / "demo")
    assert res.exit_code == 0, res.output
    for name in ("calibration.toml", "pose3d.h5", "pose3d.trc", "pose3d_robust.csv", "triangulation_error.png",
                 "skeleton.png", "report.txt"):  # fmt: skip
        assert (tmp_path / "demo" / name).is_file(), name
    robust = [line for line in res.output.splitlines() if line.strip().startswith("robust")][0]
    assert float(robust.split("median ")[1].split(" mm")[0]) < 12.0
    assert load_h5(tmp_path / "demo" / "pose3d.h5").fps == 60.0


def test_log_warnings_read_as_sentences():
    import logging

    from mocap3d.cli import SentenceFormatter

    record = logging.LogRecord("mocap3d.demo", logging.WARNING, __file__, 1, "the viewer movie was not rendered (%s)",
                               ("no display",), None)  # fmt: skip
    assert SentenceFormatter().format(record) == "Warning: The viewer movie was not rendered (no display)."
    assert SentenceFormatter(technical=True).format(record).startswith("WARNING mocap3d.demo: the viewer")


def test_view_pyramids_end_on_the_image_corners():
    from mocap3d.calibration.report import view_pyramid

    rig = make_rig(3, size=SMALL)
    for i in range(3):
        pyr = view_pyramid(rig, i, 500.0)
        np.testing.assert_allclose(pyr[0], rig.centers()[i])
        # with the lens distortion left out, the far corners are the image corners
        ideal = rig.replace(dist=np.zeros_like(rig.dist)).select([rig.names[i]]).project(pyr[1:])[0]
        np.testing.assert_allclose(ideal, [[0, 0], [SMALL[0], 0], [SMALL[0], SMALL[1]], [0, SMALL[1]]], atol=1e-6)
