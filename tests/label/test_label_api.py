"""The labelling tool through its real HTTP server on 127.0.0.1: proposals, epipolar curves, saving, conflicts."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from _label_helpers import get, post, sample_project, serving
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import LabelFileError
from mocap3d.io.labels import LabelSet, load_labels, save_labels
from mocap3d.io.pose2d import save_dlc
from mocap3d.label import GeometryConfig, LabelSession, LabelToolConfig, epipolar_curves, propose, start_in_thread
from mocap3d.poses import Track2D

OPENFIELD = "deeplabcut/examples/openfield-Pranav-2018-10-30"


@pytest.fixture
def sample(tmp_path, tmp_path_factory):
    return sample_project(tmp_path / "project", tmp_path_factory.getbasetemp())


@pytest.fixture
def served(sample):
    with serving(sample) as (session, url, _):
        yield session, url


def _label(url, frame_view, bodypart, xy, individual=0):
    status, data = post(url + "/api/label", {"video": frame_view["video"], "image": frame_view["image"],
                                             "individual": individual, "bodypart": bodypart,
                                             "xy": None if xy is None else list(map(float, xy)),
                                             "revision": frame_view["revision"]})  # fmt: skip
    if status == 200:
        frame_view["revision"] = data["revision"]
    return status, data


# --------------------------------------------------------------------------- multi-view help


def test_two_views_propose_the_third_within_2px(sample, served):
    """Every body part of every frame clicked in two views (to 0.1 px, as on a zoomed image): the third view's
    proposal against the truth, through the HTTP API."""
    _, url = served
    errors = []
    for f in range(len(sample.images)):
        _, frame = get(f"{url}/api/frame/{f}")
        assert [v["view"] for v in frame["views"]] == list(sample.rig.names)
        for k in range(len(sample.bodyparts)):
            for c in (0, 1):
                assert _label(url, frame["views"][c], k, np.round(sample.truth2d[c, f, k], 1))[0] == 200
        _, geo = get(f"{url}/api/geometry/{f}?individual=0")
        proposed = np.array(geo["proposed"][2], dtype=float)  # (bodyparts, 2)
        errors.append(np.linalg.norm(proposed - sample.truth2d[2, f], axis=-1))
        assert geo["flagged"][2] == [False] * len(sample.bodyparts)  # the third view has no labels to flag
    errors = np.concatenate(errors)
    assert errors.max() < 2.0, f"third-view proposals {np.median(errors):.2f} px median, {errors.max():.2f} px max"


def test_proposals_with_noisy_clicks(sample):
    """0.5 px of click noise in the two labelled views, every pair of cameras: the third view's proposal error."""
    rng = np.random.default_rng(3)
    errors = []
    for third in range(3):
        labels = sample.truth2d + rng.normal(0.0, 0.5, sample.truth2d.shape)
        labels[third] = np.nan
        proposed = propose(sample.rig, labels).proposed[third]
        errors.append(np.linalg.norm(proposed - sample.truth2d[third], axis=-1).ravel())
    errors = np.concatenate(errors)
    assert np.median(errors) < 1.0 and np.mean(errors < 2.0) > 0.9, (np.median(errors), errors.max())


def test_exact_labels_propose_the_exact_point(sample):
    labels = sample.truth2d[:, 0].copy()
    labels[2] = np.nan
    prop = propose(sample.rig, labels)
    np.testing.assert_allclose(prop.proposed[2], sample.truth2d[2, 0], atol=1e-6)
    np.testing.assert_allclose(prop.points3d, sample.truth3d[0], atol=1e-6)


def test_disagreement_flagged_in_three_views(sample, served):
    _, url = served
    _, frame = get(f"{url}/api/frame/1")
    k = sample.bodyparts.index("l_knee")
    for c in range(3):
        shift = np.array([0.0, 20.0]) if c == 1 else 0.0
        _label(url, frame["views"][c], k, sample.truth2d[c, 1, k] + shift)
    _, geo = get(f"{url}/api/geometry/1?individual=0")
    assert geo["flagged"][1][k] and geo["error"][1][k] > 5.0
    # only the inconsistent view is flagged (leave one view out), though the triangulation pulls all three
    assert not geo["flagged"][0][k] and not geo["flagged"][2][k]
    assert abs(geo["error"][1][k] - 20.0) < 1.0  # its distance from where the two good views put the point
    _label(url, frame["views"][1], k, sample.truth2d[1, 1, k])
    _, geo = get(f"{url}/api/geometry/1?individual=0")
    assert not any(geo["flagged"][c][k] for c in range(3)) and max(geo["error"][c][k] for c in range(3)) < 1e-6


def _fundamental(rig, a, b):
    """F with x_b^T F x_a = 0 for ideal pixels, from the projection matrices (textbook formula)."""
    P = rig.projection_matrices()
    center = np.append(rig.centers()[a], 1.0)
    e = P[b] @ center
    ex = np.array([[0, -e[2], e[1]], [e[2], 0, -e[0]], [-e[1], e[0], 0]])
    return ex @ P[b] @ np.linalg.pinv(P[a])


def test_epipolar_curve_is_where_the_calibration_says(sample, served):
    """Each curve vertex, undistorted, lies on the pinhole epipolar line; the curve passes the true point."""
    _, url = served
    rig = sample.rig
    k = sample.bodyparts.index("r_wrist")
    # A point towards the images' corners, where the lens bends lines most.
    point = sample.truth3d[0, k] + np.array([700.0, -500.0, 900.0])
    seen = rig.project(point)
    assert rig.in_image(seen).all()
    _, frame = get(f"{url}/api/frame/0")
    _label(url, frame["views"][0], k, seen[0])
    _, geo = get(f"{url}/api/geometry/0?individual=0&bodypart={k}")
    assert geo["epipolar"][1] is None and geo["epipolar"][2] is None  # only labelled views cast curves
    label_ideal = rig.undistort_points(seen[:, None])[0, 0]
    for target in (1, 2):
        lines = [np.array(line) for line in geo["epipolar"][0][target]]
        assert lines, "no curve drawn"
        pts = np.concatenate(lines)
        inside = pts[rig.in_image(np.broadcast_to(pts, (3,) + pts.shape))[target]]
        span = np.ptp(inside, axis=0)
        assert span.max() > 0.8 * rig.sizes[target].max()  # drawn across the image
        assert (np.diff(np.concatenate(lines), axis=0) ** 2).sum(1).max() ** 0.5 < 30  # no long straight cuts
        stacked = np.full((3, len(pts), 2), np.nan)
        stacked[target] = pts
        ideal = rig.undistort_points(stacked)[target]
        line = _fundamental(rig, 0, target) @ np.append(label_ideal, 1.0)
        dist = np.abs(np.c_[ideal, np.ones(len(ideal))] @ line) / np.hypot(*line[:2])
        assert np.nanmax(dist) < 0.02  # rounding of the sent vertices to 0.01 px
        # The true point lies on the drawn curve (segments between samples a few px apart).
        assert _distance_to_polylines(seen[target], lines) < 0.1
        # The lens matters: the drawn curve is away from the pinhole line (what a straight line would show).
        raw = np.abs(np.c_[pts, np.ones(len(pts))] @ line) / np.hypot(*line[:2])
        assert raw.max() > 2.0


def test_epipolar_curves_of_every_sample_point(sample):
    """Every body part, frame and source view: each vertex undistorts onto the pinhole epipolar line (no piece
    of the curve where the lens model folds back), and the curve passes through the true point."""
    rig = sample.rig
    worst_line, worst_truth = 0.0, 0.0
    for f in range(len(sample.images)):
        ideal = rig.undistort_points(sample.truth2d[:, f])  # (C, K, 2)
        for src in range(3):
            for k in range(len(sample.bodyparts)):
                curves = epipolar_curves(rig, src, sample.truth2d[src, f, k])
                for target in set(range(3)) - {src}:
                    pts = np.concatenate(curves[target])
                    stacked = np.full((3, len(pts), 2), np.nan)
                    stacked[target] = pts
                    und = rig.undistort_points(stacked)[target]
                    line = _fundamental(rig, src, target) @ np.append(ideal[src, k], 1.0)
                    off_line = np.abs(np.c_[und, np.ones(len(und))] @ line) / np.hypot(*line[:2])
                    worst_line = max(worst_line, off_line.max())
                    worst_truth = max(worst_truth, _distance_to_polylines(sample.truth2d[target, f, k], curves[target]))
    assert worst_line < 1e-6 and worst_truth < 0.05, (worst_line, worst_truth)


def _distance_to_polylines(point, lines):
    a = np.concatenate([line[:-1] for line in lines])
    b = np.concatenate([line[1:] for line in lines])
    t = np.clip(np.einsum("ij,ij->i", point - a, b - a) / np.einsum("ij,ij->i", b - a, b - a), 0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * (b - a) - point, axis=1)))


def test_epipolar_of_a_pixel_nobody_can_see():
    from mocap3d.sample import make_rig

    rig = make_rig(n_cameras=2)
    curves = epipolar_curves(rig, 0, np.array([1e7, 1e7]), GeometryConfig())
    assert curves == [[], []]


# --------------------------------------------------------------------------- saving and reloading


def test_labels_saved_as_deeplabcut_files_at_once(sample, served):
    session, url = served
    _, frame = get(f"{url}/api/frame/2")
    view = frame["views"][1]
    before = view["revision"]
    status, data = _label(url, view, 4, [123.456, 654.321])
    assert status == 200 and data["revision"] != before
    h5 = sample.project / "labeled-data" / "walk_cam2" / "CollectedData_sample.h5"
    for path in (h5, h5.with_suffix(".csv")):
        labels = load_labels(path)
        row = labels.images.index(view["image"])
        np.testing.assert_array_equal(labels.points[row, 0, 4], [123.456, 654.321])
        assert labels.labelled.sum() == 1 and labels.bodyparts == sample.bodyparts and labels.scorer == "sample"
    # A new session (the page reloaded, the server restarted) reads the same label back.
    again = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    assert again.frame(2)["views"][1]["labels"][0][4] == [123.456, 654.321]
    # Delete.
    assert _label(url, view, 4, None)[0] == 200
    assert not load_labels(h5).labelled.any()
    assert sorted(p.name for p in h5.parent.iterdir() if p.name.startswith(".")) == []  # no temporary files left


def test_two_tabs_writing_at_once_get_a_conflict(sample, served):
    _, url = served
    _, tab_a = get(f"{url}/api/frame/0")
    _, tab_b = get(f"{url}/api/frame/0")
    assert _label(url, tab_a["views"][0], 0, [10.0, 20.0])[0] == 200
    status, data = _label(url, tab_b["views"][0], 0, [99.0, 99.0])
    assert status == 409 and "another tab" in data["error"] and data["revision"] == tab_a["views"][0]["revision"]
    h5 = sample.project / "labeled-data" / "walk_cam1" / "CollectedData_sample.h5"
    row = load_labels(h5).images.index(tab_a["views"][0]["image"])
    np.testing.assert_array_equal(load_labels(h5).points[row, 0, 0], [10.0, 20.0])
    # After reloading (the page does it), tab B writes normally.
    tab_b["views"][0]["revision"] = data["revision"]
    assert _label(url, tab_b["views"][0], 1, [5.0, 6.0])[0] == 200
    assert load_labels(h5).labelled.sum() == 2


def test_file_changed_by_another_program(sample, served):
    _, url = served
    _, frame = get(f"{url}/api/frame/0")
    view = frame["views"][0]
    assert _label(url, view, 0, [10.0, 20.0])[0] == 200
    h5 = sample.project / "labeled-data" / "walk_cam1" / "CollectedData_sample.h5"
    other = load_labels(h5)
    pts = other.points.copy()
    row = other.images.index(view["image"])
    pts[row, 0, 2] = [300.0, 400.0]
    save_labels(other.with_points(pts), h5)  # e.g. DeepLabCut's GUI saving the same file
    status, data = _label(url, view, 1, [1.0, 2.0])
    assert status == 409 and "changed on disk" in data["error"]
    np.testing.assert_array_equal(load_labels(h5).points[row, 0, 2], [300.0, 400.0])
    _, frame = get(f"{url}/api/frame/0")
    assert frame["views"][0]["labels"][0][2] == [300.0, 400.0] and frame["views"][0]["labels"][0][0] == [10.0, 20.0]


def test_http_errors_and_images(sample, served):
    _, url = served
    status, body = get(f"{url}/image/0/0")
    assert status == 200 and body == (sample.project / "labeled-data" / "walk_cam1" / sample.images[0]).read_bytes()
    assert get(f"{url}/image/0/99")[0] == 400
    assert get(f"{url}/api/frame/99")[0] == 400 and "does not exist" in get(f"{url}/api/frame/99")[1]["error"]
    assert get(f"{url}/nothing")[0] == 404
    status, data = post(f"{url}/api/label", {"video": 0})
    assert status == 400 and "expected JSON with video" in data["error"]
    status, data = post(f"{url}/api/label", {"video": 0, "image": "labeled-data/x/y.png", "bodypart": 0,
                                             "xy": [1, 2], "revision": "none"})  # fmt: skip
    assert status == 400 and "is not an image of walk_cam1" in data["error"]
    status, body = get(url + "/")
    assert status == 200 and b"mocap3d label" in body
    _, info = get(f"{url}/api/session")
    knee, ankle = sample.bodyparts.index("l_knee"), sample.bodyparts.index("l_ankle")
    assert [knee, ankle] in info["skeleton"] or [ankle, knee] in info["skeleton"]  # config.yaml's skeleton
    _, progress = get(f"{url}/api/progress")
    assert progress["frames"] == [[0, 3 * len(sample.bodyparts)]] * 3


# --------------------------------------------------------------------------- projects as users have them


def test_label_file_with_other_body_parts_is_refused(sample):
    folder = sample.project / "labeled-data" / "walk_cam1"
    theirs = LabelSet.empty([f"labeled-data/walk_cam1/{sample.images[0]}"], ["head", "whisker"], "sample")
    theirs = theirs.with_points(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    h5, csv_path = save_labels(theirs, folder / "CollectedData_sample.h5")
    before = h5.read_bytes(), csv_path.read_bytes()
    with pytest.raises(LabelFileError, match=r"whisker.*Nothing was changed"):
        LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    assert (h5.read_bytes(), csv_path.read_bytes()) == before
    result = CliRunner().invoke(cli, ["label", str(sample.project), "--dry-run"])
    assert result.exit_code == 1 and "whisker" in result.output and "Traceback" not in result.output


def test_fewer_body_parts_and_moved_images_keep_every_label(sample):
    folder = sample.project / "labeled-data" / "walk_cam1"
    images = [f"labeled-data/walk_cam1/{name}" for name in sample.images] + ["labeled-data/walk_cam1/gone.png"]
    theirs = LabelSet.empty(images, ["neck", "head"], "sample")
    pts = theirs.points.copy()
    pts[0, 0, 1] = [11.0, 12.0]
    pts[3, 0, 0] = [13.0, 14.0]  # on an image that is no longer on disk
    save_labels(theirs.with_points(pts), folder / "CollectedData_sample.h5")
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    warnings = "\n".join(session.info()["warnings"])
    assert "not on disk (labeled-data/walk_cam1/gone.png)" in warnings and "columns for" in warnings
    view = session.frame(0)["views"][0]
    assert view["labels"][0][sample.bodyparts.index("head")] == [11.0, 12.0]
    session.set_point(0, view["image"], 0, 5, [50.0, 60.0], view["revision"])
    saved = load_labels(folder / "CollectedData_sample.h5")
    assert saved.bodyparts == sample.bodyparts and "labeled-data/walk_cam1/gone.png" in saved.images
    np.testing.assert_array_equal(saved.points[saved.images.index(images[3]), 0, sample.bodyparts.index("neck")],
                                  [13.0, 14.0])  # fmt: skip
    assert saved.labelled.sum() == 3


def test_refinement_predictions_as_starting_points(tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp(), predictions_noise_px=1.0)
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    assert session.info()["refinement"]
    frame = session.frame(1)
    pred = np.array(frame["views"][2]["predictions"][0], dtype=float)
    assert np.abs(pred - sample.truth2d[2, 1]).max() < 6.0 and frame["views"][2]["likelihood"][0][0] == 0.9
    assert frame["views"][2]["labels"][0] == [None] * len(sample.bodyparts)  # predictions are not labels


def test_analysis_file_rows_matched_by_frame_number(tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    points = np.full((200, 1, len(sample.bodyparts), 2), np.nan)
    points[100, 0] = sample.truth2d[0, 1]  # img0100.png is frame 100 of the video
    save_dlc(Track2D(points, np.full(points.shape[:-1], 0.7), sample.bodyparts, ("individual0",)),
             sample.project / "labeled-data" / "walk_cam1" / "walk_cam1DLC_resnet50.h5")  # fmt: skip
    session = LabelSession.open(sample.project)  # no calibration: one view per frame
    frames = [f["name"] for f in session.info()["frames"]]
    frame = session.frame(frames.index("walk_cam1/img0100.png"))
    np.testing.assert_allclose(np.array(frame["views"][0]["predictions"][0], dtype=float), sample.truth2d[0, 1])


def test_deeplabcut_example_project(dataset, tmp_path):
    """DeepLabCut's own project: one edit rewrites its label file with every other label unchanged."""
    src = dataset(OPENFIELD)
    project = tmp_path / "openfield"
    folder = project / "labeled-data" / "m4s1"
    folder.mkdir(parents=True)
    shutil.copy(src / "config.yaml", project / "config.yaml")
    for path in (src / "labeled-data" / "m4s1").iterdir():
        if path.suffix == ".png":
            os.symlink(path, folder / path.name)
        else:
            shutil.copy(path, folder / path.name)
    original = load_labels(folder / "CollectedData_Pranav.h5")
    session = LabelSession.open(project)
    info = session.info()
    assert len(info["frames"]) == 116 and info["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    assert info["warnings"] == [] and not info["calibrated"] and info["skeleton"] == []
    view = session.frame(7)["views"][0]
    assert view["labels"][0] == original.points[7, 0].tolist()
    session.set_point(0, view["image"], 0, 3, [1.5, 2.5], view["revision"])
    for suffix in (".h5", ".csv"):
        saved = load_labels(folder / f"CollectedData_Pranav{suffix}")
        expected = original.points.copy()
        expected[7, 0, 3] = [1.5, 2.5]
        assert saved.images == original.images and saved.index_style == "string"
        np.testing.assert_array_equal(saved.points, expected)


def test_cli_dry_run_and_sample(tmp_path):
    result = CliRunner().invoke(cli, ["label", "--sample", str(tmp_path / "s"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 frames (3 views each) in 3 folder(s); 19 body parts" in result.output
    result = CliRunner().invoke(cli, ["label", str(tmp_path / "nothing"), "--dry-run"])
    assert result.exit_code == 1 and "no such project or folder" in result.output
    result = CliRunner().invoke(cli, ["label", "--help"])
    assert result.exit_code == 0 and "mocap3d label --sample" in result.output


def test_multi_animal_project(tmp_path):
    """A maDLC project (config.yaml with individuals): each individual's points are labelled and saved apart."""
    import cv2
    import yaml

    project = tmp_path / "mice"
    folder = project / "labeled-data" / "cage"
    folder.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(folder / f"img{i:03d}.png"), np.zeros((60, 80, 3), np.uint8))
    config = {"scorer": "bob", "multianimalproject": True, "individuals": ["m1", "m2"],
              "multianimalbodyparts": ["nose", "tail"], "bodyparts": "MULTI!", "uniquebodyparts": []}  # fmt: skip
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    session = LabelSession.open(project)
    info = session.info()
    assert info["multi_animal"] and info["individuals"] == ["m1", "m2"] and info["bodyparts"] == ["nose", "tail"]
    view = session.frame(1)["views"][0]
    rev = session.set_point(0, view["image"], 1, 0, [7.0, 8.0], view["revision"])["revision"]
    session.set_point(0, view["image"], 0, 1, [1.0, 2.0], rev)
    labels = load_labels(folder / "CollectedData_bob.h5")
    assert labels.multi_animal and labels.individuals == ("m1", "m2")
    assert labels.images == ("labeled-data/cage/img001.png",)  # rows only for labelled images, as DeepLabCut
    np.testing.assert_array_equal(labels.points[0, 1, 0], [7.0, 8.0])
    np.testing.assert_array_equal(labels.points[0, 0, 1], [1.0, 2.0])
    assert labels.labelled.sum() == 2
    assert session.frame(1)["views"][0]["labels"] == [[None, [1.0, 2.0]], [[7.0, 8.0], None]]


def test_folders_without_config_take_the_names_of_a_label_file(sample):
    """No config.yaml: one camera's label file names the body parts; the other folders start empty."""
    (sample.project / "config.yaml").unlink()
    folder = sample.project / "labeled-data" / "walk_cam2"
    theirs = LabelSet.empty([f"labeled-data/walk_cam2/{n}" for n in sample.images], ["head", "neck"], "sample")
    save_labels(theirs.with_points(np.full((3, 1, 2, 2), 5.0)), folder / "CollectedData_sample.h5")
    session = LabelSession.open(sample.project)
    assert session.bodyparts == ("head", "neck") and session.scorer == "sample"
    assert len(session.frames) == 9
    result = CliRunner().invoke(cli, ["label", str(sample.project), "--dry-run"])
    assert result.exit_code == 0 and "9 frames (1 view each) in 3 folder(s); 2 body parts" in result.output


# --------------------------------------------------------------------------- frames from the whole video


def test_browse_the_video_and_add_a_frame(sample):
    import cv2
    from _label_helpers import grey, write_videos

    videos = write_videos(sample)
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    server, url = start_in_thread(session)
    try:
        _, info = get(f"{url}/api/session")
        assert [(v["source"], v["source_frames"]) for v in info["videos"]] == [(p.name, 30) for p in videos]
        status, body = get(f"{url}/video/1/12")
        assert status == 200
        frame12 = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert abs(float(frame12.mean()) - grey(12)) < 3 and frame12.shape == (1024, 1280)
        status, data = post(f"{url}/api/add-frame", {"frame": 0, "number": 12})
        assert status == 200 and len(data["session"]["frames"]) == 4
        _, frame = get(f"{url}/api/frame/{data['index']}")
        assert [v["image"] for v in frame["views"]] == [f"labeled-data/{v}/img12.png" for v in sample.videos]
        for v in sample.videos:
            image = cv2.imread(str(sample.project / "labeled-data" / v / "img12.png"), cv2.IMREAD_GRAYSCALE)
            assert abs(float(image.mean()) - grey(12)) < 3
        # no row until something is labelled on it; then one
        h5 = sample.project / "labeled-data" / "walk_cam2" / "CollectedData_sample.h5"
        assert not h5.exists()
        assert _label(url, frame["views"][1], 3, [100.0, 200.0])[0] == 200
        assert load_labels(h5).images == ("labeled-data/walk_cam2/img12.png",)
        # adding it again goes to the same frame and rewrites nothing
        written = (sample.project / "labeled-data" / "walk_cam1" / "img12.png").stat().st_mtime_ns
        assert post(f"{url}/api/add-frame", {"frame": 0, "number": 12})[1]["index"] == data["index"]
        assert (sample.project / "labeled-data" / "walk_cam1" / "img12.png").stat().st_mtime_ns == written
        for body, words in (({"frame": 0, "number": 30}, "frames 0 to 29"), ({"frame": 0, "number": -1}, "not -1"),
                            ({"frame": 9, "number": 1}, "frame 9 does not exist"), ({"frame": 0}, "'number'")):
            status, err = post(f"{url}/api/add-frame", body)
            assert status == 400 and words in err["error"], err
    finally:
        server.shutdown()
        server.server_close()
    videos[2].unlink()
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    with pytest.raises(LabelFileError, match="walk_cam3: its video was not found"):
        session.add_frame(0, 5)
    assert not (sample.project / "labeled-data" / "walk_cam1" / "img05.png").exists()  # nothing half-added
