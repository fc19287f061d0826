"""Matching 2D pose files to calibration cameras, and loading aligned views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocap3d.errors import PoseFileError
from mocap3d.io.matching import camera_for_file, load_views, match_files_to_cameras
from mocap3d.io.pose2d import save_dlc, save_openpose_folder
from mocap3d.poses import Track2D

BALANCING = "Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial"


# ----------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("name", "cameras", "expected"),
    [
        ("cam-A.h5", ["A", "B"], "A"),
        ("session1_A.h5", ["A", "B"], "A"),
        ("A/pose.h5", ["A", "B"], "A"),  # parent folder
        ("B/session1_A.h5", ["A", "B"], "A"),  # the file's own name wins over its folder
        ("cam_10.h5", ["cam_1", "cam_10"], "cam_10"),  # whole tokens: cam_1 is not a prefix match
        ("cam_1.h5", ["cam_1", "cam_10"], "cam_1"),
        ("cam_1.h5", ["cam", "cam_1"], "cam_1"),  # the most specific name wins
        ("cam_2.h5", ["cam", "cam_1"], "cam"),
        ("cam01_json", ["cam_01", "cam_02"], "cam_01"),  # Pose2Sim's demo: separators inside names do not matter
        ("cam_01.h5", ["cam01", "cam02"], "cam01"),
        ("session_a.h5", ["A", "B"], "A"),  # any case, when no exact-case match
        ("vid-camB.h5", ["A", "B"], "B"),  # anipose's default naming
        ("mouse-camA-DLC_resnet50.h5", ["camA", "camB"], "camA"),
        ("data.h5", ["A", "B"], None),  # the 'a' inside 'data' is not camera A
        ("camera1.h5", ["1"], None),
        ("cam_3.h5", ["cam_1", "cam_10"], None),
    ],
)
def test_default_rule(name, cameras, expected):
    assert camera_for_file(Path(name), cameras) == expected


def test_cam_regex():
    cams = ["A", "B", "C"]
    assert camera_for_file("2019-08-02-vid-camB.h5", cams, r"-cam([A-Z])$") == "B"
    assert camera_for_file("2019-08-02-vid-camC.analysis.h5", cams, r"cam([A-Z])") == "C"
    assert camera_for_file("x-A.h5", cams, r"-cam([A-Z])$") is None
    with pytest.raises(PoseFileError, match="not in the calibration"):
        camera_for_file("vid-camZ.h5", cams, r"-cam([A-Z])$")
    with pytest.raises(PoseFileError, match="not a valid regular expression"):
        camera_for_file("vid-camA.h5", cams, r"-cam([A-Z]$")


def test_result_is_in_rig_order_and_cameras_may_be_absent():
    files = ["rec_C.h5", "rec_A.h5"]
    got = match_files_to_cameras(files, ["A", "B", "C"])
    assert list(got) == ["A", "C"]
    assert got["C"] == Path("rec_C.h5")


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 1000))
def test_numbered_cameras_match_in_any_order(n, seed):
    """cam_1 .. cam_N: every file goes to its own camera, whatever the order the files come in."""
    cams = [f"cam_{i}" for i in range(1, n + 1)]
    files = [Path(f"trial3-cam_{i}-DLC.h5") for i in range(1, n + 1)]
    shuffled = list(np.random.default_rng(seed).permutation(files))
    got = match_files_to_cameras(shuffled, cams)
    assert list(got) == cams
    assert all(got[c] == Path(f"trial3-{c}-DLC.h5") for c in cams)


def test_errors_say_what_to_do():
    with pytest.raises(PoseFileError, match=r"cameras are: A, B.*--cam-regex"):
        match_files_to_cameras(["recording.h5"], ["A", "B"])
    with pytest.raises(PoseFileError, match=r"two files for camera 'A'"):
        match_files_to_cameras(["x_A.h5", "y_A.h5"], ["A", "B"])
    with pytest.raises(PoseFileError, match=r"matches several cameras \(A, B\)"):
        match_files_to_cameras(["A_B.h5"], ["A", "B"])
    with pytest.raises(PoseFileError, match="no 2D pose files"):
        match_files_to_cameras([], ["A", "B"])
    with pytest.raises(PoseFileError, match="does not match its name"):
        match_files_to_cameras(["x_A.h5"], ["A", "B"], cam_regex=r"-cam([A-Z])$")


# ----------------------------------------------------------------------------- load_views


def _track(frames: int, seed: int, keypoints=("nose", "ear", "tail")) -> Track2D:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 640, (frames, 1, len(keypoints), 2))
    pts[0, 0, -1] = np.nan
    return Track2D(pts, np.where(np.isnan(pts[..., 0]), 0, rng.uniform(0.2, 1, pts.shape[:3])), keypoints)


def test_load_views_aligns_in_rig_order(tmp_path):
    truth = {c: _track(10, i) for i, c in enumerate(["A", "B", "C"])}
    paths = [save_dlc(truth[c], tmp_path / f"vid-cam{c}DLC.h5") for c in ["C", "A"]]
    paths.append(save_dlc(truth["B"], tmp_path / "vid-camBDLC.csv"))
    p2d = load_views(paths, ["D", "C", "B", "A"], cam_regex=r"cam([A-D])DLC")
    assert p2d.views == ("C", "B", "A")  # the calibration's order, camera D absent
    np.testing.assert_array_equal(p2d.points[1], truth["B"].points[:, 0])


def test_load_views_default_rule_and_values(tmp_path):
    truth = {c: _track(10, i) for i, c in enumerate(["A", "B", "C"])}
    paths = [save_dlc(truth["C"], tmp_path / "vid-C.h5"), save_dlc(truth["A"], tmp_path / "vid-A.csv")]
    paths.append(save_dlc(truth["B"], tmp_path / "B" / "pose.h5"))
    p2d = load_views(paths, ["A", "B", "C", "D"])
    assert p2d.views == ("A", "B", "C")
    assert p2d.points.shape == (3, 10, 3, 2)
    for v, c in enumerate(p2d.views):
        np.testing.assert_array_equal(p2d.points[v], truth[c].points[:, 0])
        np.testing.assert_array_equal(p2d.scores[v], truth[c].scores[:, 0])


def test_load_views_mismatched_frames_and_keypoints(tmp_path):
    paths = [save_dlc(_track(10, 0), tmp_path / "s_A.h5"), save_dlc(_track(12, 1), tmp_path / "s_B.h5")]
    with pytest.raises(PoseFileError, match=r"different numbers of frames \(A: 10 .*B: 12"):
        load_views(paths, ["A", "B"])
    paths = [
        save_dlc(_track(10, 0, ("nose",)), tmp_path / "t_A.h5"),
        save_dlc(_track(10, 1, ("tail",)), tmp_path / "t_B.h5"),
    ]
    with pytest.raises(PoseFileError, match="no body part in common"):
        load_views(paths, ["A", "B"])


def test_load_views_openpose_folders(tmp_path):
    truth = {c: _track(4, i, tuple(f"kp{j}" for j in range(5))) for i, c in enumerate(["cam_1", "cam_2"])}
    folders = [save_openpose_folder(truth[c], tmp_path / f"{c.replace('_', '')}_json", c) for c in truth]
    p2d = load_views(folders[::-1], ["cam_1", "cam_2"])
    assert p2d.views == ("cam_1", "cam_2")
    np.testing.assert_array_equal(p2d.points[1], truth["cam_2"].points[:, 0])


def test_load_views_real_pose2sim(dataset):
    root = dataset("pose2sim-demo") / BALANCING / "pose-associated"
    folders = sorted(root.glob("cam*_json"), reverse=True)
    p2d = load_views(folders, ["cam_01", "cam_02", "cam_03", "cam_04"])
    assert p2d.views == ("cam_01", "cam_02", "cam_03", "cam_04")
    assert p2d.points.shape == (4, 100, 25, 2)
    assert p2d.sources[0].endswith("cam01_json")
