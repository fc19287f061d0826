"""2D pose files: round trips of every format, real DeepLabCut and Pose2Sim files, damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocap3d.errors import PoseFileError
from mocap3d.io.pose2d import (
    KEYPOINT_PRESETS,
    load_track2d,
    save_dlc,
    save_openpose_folder,
    save_sleap_analysis,
)
from mocap3d.poses import DEFAULT_INDIVIDUAL, Track2D

DLC_LABELS = "examples/openfield-Pranav-2018-10-30/labeled-data/m4s1"
BALANCING = "Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial"
MULTI = "Pose2Sim/S00_Demo_Session/S00_P01_MultiParticipants/S00_P01_T02_Participants1-2"

FILE_SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# ----------------------------------------------------------------------------- generators

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=8)


@st.composite
def tracks(draw, max_individuals: int = 3, names: bool = True) -> Track2D:
    """A Track2D with random values, random missing points (NaN, score 0) and scores in (0, 1]."""
    f = draw(st.integers(1, 6))
    n_ind = draw(st.integers(1, max_individuals))
    k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    points = rng.uniform(-50, 2000, size=(f, n_ind, k, 2))
    missing = rng.random((f, n_ind, k)) < draw(st.sampled_from([0.0, 0.3, 1.0]))
    points[missing] = np.nan
    scores = np.where(missing, 0.0, rng.uniform(1e-3, 1.0, size=(f, n_ind, k)))
    if names:
        kps = draw(st.lists(_name, min_size=k, max_size=k, unique=True))
        inds = draw(st.lists(_name, min_size=n_ind, max_size=n_ind, unique=True)) if n_ind > 1 else [DEFAULT_INDIVIDUAL]
    else:
        kps = [f"kp{i}" for i in range(k)]
        inds = [f"individual_{i}" for i in range(n_ind)]
    return Track2D(points, scores, kps, inds)


def assert_same_track(a: Track2D, b: Track2D, individuals: bool = True) -> None:
    assert b.keypoints == a.keypoints
    if individuals:
        assert b.individuals == a.individuals
    np.testing.assert_array_equal(np.isnan(b.points), np.isnan(a.points))
    np.testing.assert_array_equal(b.points, a.points)  # NaN compare equal in assert_array_equal
    np.testing.assert_array_equal(b.scores, a.scores)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
@FILE_SETTINGS
@given(track=tracks())
def test_dlc_round_trip(tmp_path, suffix, track):
    path = save_dlc(track, tmp_path / f"cam-A{suffix}")
    back = load_track2d(path)
    assert_same_track(track, back)
    assert back.source == str(path)


@FILE_SETTINGS
@given(track=tracks())
def test_sleap_round_trip(tmp_path, track):
    path = save_sleap_analysis(track, tmp_path / "cam-A.analysis.h5")
    assert_same_track(track, load_track2d(path))


@FILE_SETTINGS
@given(track=tracks(names=False))
def test_openpose_round_trip(tmp_path, track):
    folder = tmp_path / "cam01_json"
    save_openpose_folder(track, folder, "cam01")
    assert_same_track(track, load_track2d(folder))


def test_openpose_round_trip_with_preset(tmp_path):
    rng = np.random.default_rng(3)
    names = KEYPOINT_PRESETS["HALPE_26"]
    pts = rng.uniform(0, 1000, (5, 2, len(names), 2))
    pts[1, 0] = np.nan  # person 0 not seen in frame 1: written as {}
    pts[3, 1, :4] = np.nan
    track = Track2D(pts, np.where(np.isnan(pts[..., 0]), 0, 0.5), names, ["individual_0", "individual_1"])
    folder = save_openpose_folder(track, tmp_path / "out", "cam02")
    assert sorted(p.name for p in folder.iterdir())[:2] == ["cam02.0000.json", "cam02.0001.json"]
    assert json.loads((folder / "cam02.0001.json").read_text())["people"][0] == {}
    assert_same_track(track, load_track2d(folder, keypoint_preset="HALPE_26"))
    # a shorter export into the same folder replaces the longer one
    save_openpose_folder(Track2D(pts[:2], track.scores[:2], names, track.individuals), folder, "cam02")
    assert load_track2d(folder).n_frames == 2


# ----------------------------------------------------------------------------- layouts as the peers write them


def test_dlc_files_have_deeplabcut_layout(tmp_path):
    pts = np.arange(2 * 2 * 3 * 2, dtype=float).reshape(2, 2, 3, 2)
    track = Track2D(pts, np.full((2, 2, 3), 0.9), ["nose", "ear", "tail"], ["mouse1", "mouse2"])
    h5 = save_dlc(track, tmp_path / "multi.h5", scorer="DLC_resnet50")
    df = pd.read_hdf(h5, key="df_with_missing")
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.loc[1, ("DLC_resnet50", "mouse2", "tail", "y")] == pts[1, 1, 2, 1]
    assert df.loc[0, ("DLC_resnet50", "mouse1", "ear", "likelihood")] == 0.9
    single = Track2D(pts[:, :1], np.full((2, 1, 3), 0.9), ["nose", "ear", "tail"])
    csv = save_dlc(single, tmp_path / "single.csv", scorer="DLC_resnet50")
    lines = csv.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[:4]] == ["scorer", "bodyparts", "coords", "0"]
    assert lines[2].split(",")[1:4] == ["x", "y", "likelihood"]
    df = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    assert df[("DLC_resnet50", "tail", "x")].tolist() == pts[:, 0, 2, 0].tolist()


def test_sleap_file_has_sleap_layout(tmp_path):
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 100, (4, 2, 3, 2))  # frames, tracks, nodes, xy
    pts[2, 1] = np.nan  # track 1 absent in frame 2
    scores = rng.uniform(0.1, 1, (4, 2, 3))
    track = Track2D(pts, scores, ["head", "thorax", "abdomen"], ["female", "male"])
    path = save_sleap_analysis(track, tmp_path / "x.analysis.h5")
    with h5py.File(path, "r") as f:
        assert f["tracks"].shape == (2, 2, 3, 4)  # (tracks, 2, nodes, frames): SLEAP's transposed order
        assert f["tracks"][1, 0, 2, 3] == pts[3, 1, 2, 0] and f["tracks"][1, 1, 2, 3] == pts[3, 1, 2, 1]
        assert f["point_scores"].shape == (2, 3, 4)
        assert f["point_scores"][0, 1, 3] == scores[3, 0, 1]
        assert f["track_occupancy"].shape == (4, 2)
        assert f["track_occupancy"][2, 1] == 0 and f["track_occupancy"][2, 0] == 1
        assert f["instance_scores"].shape == (2, 4)
        assert [n.decode() for n in f["node_names"][()]] == ["head", "thorax", "abdomen"]
        assert [n.decode() for n in f["track_names"][()]] == ["female", "male"]
        # what SLEAP's own reader does: `.T` gives (frames, nodes, 2, tracks)
        np.testing.assert_array_equal(f["tracks"][()].T[3, 2, :, 1], pts[3, 1, 2])


def test_sleap_without_scores_or_track_names(tmp_path):
    """Analysis files exported from user labels have no point scores, and untracked ones no track names."""
    tracks_on_disk = np.random.default_rng(0).uniform(0, 10, (1, 2, 2, 3))
    tracks_on_disk[0, :, 1, 2] = np.nan
    path = tmp_path / "labels.h5"
    with h5py.File(path, "w") as f:
        f["tracks"] = tracks_on_disk
        f["track_names"] = np.zeros(0, dtype="S1")
        f["node_names"] = np.array([b"a", b"b"])
    t = load_track2d(path)
    assert t.individuals == ("track_0",) and t.keypoints == ("a", "b")
    np.testing.assert_array_equal(t.scores[:, 0], [[1, 1], [1, 1], [1, 0]])
    np.testing.assert_array_equal(t.points[1, 0, 1], tracks_on_disk[0, :, 1, 1])
    # a predictions export where frame 0 is a user-labelled instance: NaN point scores there
    scores_on_disk = np.full((1, 2, 3), 0.4)
    scores_on_disk[0, :, 0] = np.nan
    with h5py.File(path, "a") as f:
        f["point_scores"] = scores_on_disk
    np.testing.assert_array_equal(load_track2d(path).scores[:, 0], [[1, 1], [0.4, 0.4], [0.4, 0]])


def test_dlc_labels_csv_with_three_index_columns(tmp_path):
    """DeepLabCut >= 2.2 writes labels with a (labeled-data, video, image) row index."""
    text = (
        "scorer,,,me,me,me,me\n"
        "bodyparts,,,snout,snout,tail,tail\n"
        "coords,,,x,y,x,y\n"
        "labeled-data,vid1,img000.png,1.5,2.5,,\n"
        "labeled-data,vid1,img001.png,3.0,4.0,5.0,6.0\n"
    )
    path = tmp_path / "CollectedData_me.csv"
    path.write_text(text)
    t = load_track2d(path)
    assert t.keypoints == ("snout", "tail")
    np.testing.assert_array_equal(t.points[:, 0], [[[1.5, 2.5], [np.nan, np.nan]], [[3, 4], [5, 6]]])
    np.testing.assert_array_equal(t.scores[:, 0], [[1, 0], [1, 1]])


# ----------------------------------------------------------------------------- real data


@pytest.mark.parametrize("suffix", ["h5", "csv"])
def test_real_deeplabcut_labels(dataset, suffix):
    folder = dataset("deeplabcut") / DLC_LABELS
    t = load_track2d(folder / f"CollectedData_Pranav.{suffix}")
    assert t.points.shape == (116, 1, 4, 2)
    assert t.keypoints == ("snout", "leftear", "rightear", "tailbase")
    # first data row of the CSV: labeled-data/m4s1/img0000.png,21.521,265.428,33.819,265.941,...
    np.testing.assert_allclose(t.points[0, 0, :2], [[21.521, 265.428], [33.819, 265.941]])
    labelled = np.isfinite(t.points).all(-1)
    np.testing.assert_array_equal(t.scores, labelled.astype(float))  # labels have no likelihood: 1 where labelled
    df = pd.read_hdf(folder / "CollectedData_Pranav.h5")
    np.testing.assert_array_equal(t.points[:, 0, 3, 1], df[("Pranav", "tailbase", "y")].to_numpy())


def test_real_pose2sim_openpose_folders(dataset):
    root = dataset("pose2sim-demo") / BALANCING / "pose-associated"
    loaded = {c: load_track2d(root / f"{c}_json") for c in ("cam01", "cam02", "cam03", "cam04")}
    for t in loaded.values():
        assert t.points.shape == (100, 1, 25, 2)
        assert t.keypoints == KEYPOINT_PRESETS["BODY_25B"]
    first = json.loads((root / "cam01_json" / "cam01.0000.json").read_text())["people"][0]["pose_keypoints_2d"]
    np.testing.assert_array_equal(loaded["cam01"].points[0, 0, 0], first[:2])
    assert loaded["cam01"].scores[0, 0, 0] == first[2]
    assert loaded["cam01"].keypoints[18] == "Head"  # BODY_25B id 18 (Pose2Sim's skeleton)


def test_real_pose2sim_multi_person_and_raw_detections(dataset):
    assoc = load_track2d(dataset("pose2sim-demo") / MULTI / "pose-associated" / "cam01_json")
    assert assoc.points.shape[:2] == (100, 2)
    raw = load_track2d(dataset("pose2sim-demo") / BALANCING / "pose" / "cam01_json")
    assert raw.n_frames == 100 and raw.points.shape[1] >= 2  # the participant and a bystander


def test_openpose_zero_empty_and_ragged_people(tmp_path):
    folder = tmp_path / "camB_json"
    folder.mkdir()
    person = {"person_id": [-1], "pose_keypoints_2d": [10.0, 20.0, 0.9, 0.0, 0.0, 0.0, 30.0, 40.0, 0.5]}
    frames = [
        {"version": 1.3, "people": []},
        {"version": 1.3, "people": [{}, person]},
        {"version": 1.3, "people": [person, person, person]},
    ]
    for i, doc in enumerate(frames):
        # OpenPose's own naming, unpadded on purpose: frame numbers are read, not sorted as text
        (folder / f"vid_{i * 5}_keypoints.json").write_text(json.dumps(doc))
    t = load_track2d(folder)
    assert t.points.shape == (11, 3, 3, 2)  # frames 0, 5, 10: the missing numbers are empty frames
    assert np.isnan(t.points[0]).all() and np.isnan(t.points[1:5]).all()
    assert np.isnan(t.points[5, 0]).all() and np.isnan(t.points[5, 2]).all()
    np.testing.assert_array_equal(t.points[5, 1, 0], [10, 20])
    assert np.isnan(t.points[10, :, 1]).all()  # 0, 0, 0 is a missing keypoint
    np.testing.assert_array_equal(t.scores[10, :, 2], [0.5, 0.5, 0.5])
    assert t.keypoints == ("kp0", "kp1", "kp2")


def test_openpose_presets(tmp_path):
    track = Track2D(np.ones((1, 1, 25, 2)), np.ones((1, 1, 25)), KEYPOINT_PRESETS["BODY_25"])
    folder = save_openpose_folder(track, tmp_path / "c_json", "c")
    assert load_track2d(folder, keypoint_preset="BODY_25").keypoints[8] == "MidHip"
    assert load_track2d(folder).keypoints == KEYPOINT_PRESETS["BODY_25B"]
    with pytest.raises(PoseFileError, match="has 17"):
        load_track2d(folder, keypoint_preset="COCO_17")
    with pytest.raises(PoseFileError, match="BODY_25B"):
        load_track2d(folder, keypoint_preset="NOPE")


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def small_track():
    rng = np.random.default_rng(0)
    return Track2D(rng.uniform(0, 100, (200, 2, 3, 2)), rng.uniform(0.1, 1, (200, 2, 3)), ["a", "b", "c"], ["m", "f"])


@pytest.mark.parametrize("writer", ["dlc", "sleap"])
def test_truncated_h5_gives_pose_file_error(tmp_path, small_track, writer):
    path = tmp_path / "cam-A.h5"
    (save_dlc if writer == "dlc" else save_sleap_analysis)(small_track, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PoseFileError, match="cam-A.h5"):
        load_track2d(path)


def test_garbage_h5_and_csv(tmp_path):
    bad = tmp_path / "cam-A.h5"
    bad.write_bytes(b"\x00not an hdf5 file" * 10)
    with pytest.raises(PoseFileError, match="not a readable HDF5"):
        load_track2d(bad)
    csv = tmp_path / "cam-A.csv"
    csv.write_text("hello,world\n1,2\n")
    with pytest.raises(PoseFileError, match="not a DeepLabCut CSV"):
        load_track2d(csv)


def test_truncated_and_non_numeric_csv(tmp_path, small_track):
    path = save_dlc(small_track, tmp_path / "cam-A.csv")
    text = path.read_text()
    path.write_text(text[: int(len(text) * 0.6)])  # cut in the middle of a row
    with pytest.raises(PoseFileError, match="truncated"):
        load_track2d(path)
    lines = text.splitlines()
    lines[6] = lines[6].replace(lines[6].split(",")[3], "oops", 1)
    path.write_text("\n".join(lines))
    with pytest.raises(PoseFileError, match="non-numeric"):
        load_track2d(path)


def test_truncated_json(tmp_path, small_track):
    folder = save_openpose_folder(small_track, tmp_path / "cam1_json", "cam1")
    victim = folder / "cam1.0007.json"
    victim.write_text(victim.read_text()[:40])
    with pytest.raises(PoseFileError, match="cam1.0007.json"):
        load_track2d(folder)


def test_format_dispatch_and_errors(tmp_path, small_track):
    with pytest.raises(PoseFileError, match="no such file"):
        load_track2d(tmp_path / "missing.h5")
    odd = tmp_path / "cam-A.txt"
    odd.write_text("x")
    with pytest.raises(PoseFileError, match="DeepLabCut .h5/.csv, SLEAP"):
        load_track2d(odd)
    with pytest.raises(PoseFileError, match="use one of: dlc .*; sleap .*; openpose"):
        load_track2d(odd, fmt="c3d")
    # an explicit format overrides detection: a SLEAP file read as DeepLabCut fails clearly
    sleap = save_sleap_analysis(small_track, tmp_path / "s.h5")
    assert load_track2d(sleap).individuals == ("m", "f")
    with pytest.raises(PoseFileError, match="DeepLabCut"):
        load_track2d(sleap, fmt="dlc")
    empty = tmp_path / "empty_json"
    empty.mkdir()
    with pytest.raises(PoseFileError, match="no .json files"):
        load_track2d(empty)
    with pytest.raises(PoseFileError, match=r"\.h5 or \.csv"):
        save_dlc(small_track, tmp_path / "x.parquet")


def test_inputs_are_not_modified(tmp_path, small_track):
    path = save_dlc(small_track, tmp_path / "cam-A.h5")
    before = path.read_bytes(), path.stat().st_mtime_ns
    load_track2d(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["cam-A.h5"]  # no temporary files left


def test_dlc_multi_animal_with_unique_bodyparts(tmp_path):
    """maDLC projects put animal-independent body parts under the individual 'single'."""
    text = (
        "scorer,S,S,S,S,S,S,S,S,S\n"
        "individuals,m1,m1,m1,m2,m2,m2,single,single,single\n"
        "bodyparts,nose,nose,nose,nose,nose,nose,led,led,led\n"
        "coords,x,y,likelihood,x,y,likelihood,x,y,likelihood\n"
        "0,1,2,0.5,3,4,0.6,5,6,0.7\n"
        "1,,,,7,8,0.9,9,10,0.8\n"
    )
    path = tmp_path / "multi.csv"
    path.write_text(text)
    t = load_track2d(path)
    assert t.individuals == ("m1", "m2", "single") and t.keypoints == ("nose", "led")
    np.testing.assert_array_equal(t.points[1, :, 0], [[np.nan, np.nan], [7, 8], [np.nan, np.nan]])
    np.testing.assert_array_equal(t.points[0, 2, 1], [5, 6])
    np.testing.assert_array_equal(t.scores[:, :, 0], [[0.5, 0.6, 0], [0, 0.9, 0]])


def test_dlc_h5_in_fixed_format_and_other_key(tmp_path):
    cols = pd.MultiIndex.from_product([["S"], ["a"], ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"])
    df = pd.DataFrame([[1.0, 2.0, 0.5], [3.0, 4.0, 0.25]], columns=cols)
    df.to_hdf(tmp_path / "fixed.h5", key="poses", format="fixed")
    t = load_track2d(tmp_path / "fixed.h5")
    np.testing.assert_array_equal(t.points[:, 0, 0], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(t.scores[:, 0, 0], [0.5, 0.25])
    df.to_hdf(tmp_path / "fixed.h5", key="other", format="fixed")
    with pytest.raises(PoseFileError, match="df_with_missing"):
        load_track2d(tmp_path / "fixed.h5")


def test_single_json_file_points_to_its_folder(tmp_path):
    path = tmp_path / "cam01_json" / "cam01.0000.json"
    path.parent.mkdir()
    path.write_text('{"people": []}')
    with pytest.raises(PoseFileError, match="pass the folder"):
        load_track2d(path)


def test_3d_result_given_as_2d_input(tmp_path):
    from mocap3d.io.pose3d import save_h5
    from mocap3d.poses import Poses3D

    path = save_h5(Poses3D(keypoints=("a",), points=np.zeros((2, 1, 3))), tmp_path / "result_A.h5")
    with pytest.raises(PoseFileError, match="3D result"):
        load_track2d(path)


def test_dlc_h5_has_every_attribute_deeplabcut_files_have(dataset, tmp_path):
    """pandas 3 drops ``pandas_version``; without it pandas 2 (DeepLabCut's) cannot read the file."""
    ref = dataset("deeplabcut") / DLC_LABELS / "CollectedData_Pranav.h5"
    track = Track2D(np.ones((2, 1, 1, 2)), np.ones((2, 1, 1)), ["snout"])
    ours = save_dlc(track, tmp_path / "cam-A.h5")
    with h5py.File(ref, "r") as r, h5py.File(ours, "r") as o:
        for node in ("df_with_missing", "df_with_missing/table"):
            missing = set(r[node].attrs) - set(o[node].attrs)
            assert not missing, f"{node}: {missing}"
        assert o["df_with_missing"].attrs["pandas_version"] == r["df_with_missing"].attrs["pandas_version"]
        assert o["df_with_missing"].attrs["nan_rep"] == b"nan"


def test_dlc_csv_text_is_what_pandas_writes(tmp_path):
    """DeepLabCut writes its CSV with pandas' ``to_csv``; ours must be the same text, NaN and odd names included."""
    rng = np.random.default_rng(5)
    pts = rng.uniform(-5, 700, (30, 2, 2, 2))
    pts[3, 1] = np.nan
    scores = rng.random((30, 2, 2))
    track = Track2D(pts, scores, ["nose", 'ear "left", inner'], ["mouse1", "mouse2"])
    data = np.concatenate([pts, np.where(np.isnan(pts[..., :1]), np.nan, scores[..., None])], axis=-1)
    cols = pd.MultiIndex.from_product(
        [["DLC_x"], ["mouse1", "mouse2"], ["nose", 'ear "left", inner'], ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    expected = pd.DataFrame(data.reshape(30, -1), columns=cols).to_csv(lineterminator="\n")
    path = save_dlc(track, tmp_path / "a.csv", scorer="DLC_x")
    assert path.read_text() == expected
    assert_same_track(track, load_track2d(path))


# ----------------------------------------------------------------------------- the direct (h5py) DeepLabCut reader


def _pandas_columns(path: Path):
    """What the pandas route reads: the table's values and its column levels."""
    from mocap3d.io.pose2d import read_dlc_hdf

    df = read_dlc_hdf(path, PoseFileError)
    return df.to_numpy(dtype=np.float64), [np.asarray(df.columns.get_level_values(i)).astype(str)
                                           for i in range(df.columns.nlevels)]  # fmt: skip


def _assert_direct_is_pandas(path: Path) -> None:
    from mocap3d.io.pose2d import _read_dlc_h5_direct

    direct = _read_dlc_h5_direct(path)
    ref_values, ref_levels = _pandas_columns(path)
    if any(v == "nan" for level in ref_levels for v in level):  # pandas' stand-in for a missing label: its decoding
        assert direct is None
        return
    assert direct is not None, "a pandas table file should be read directly"
    values, levels = direct
    np.testing.assert_array_equal(values, ref_values)
    assert [list(v) for v in levels.values()] == [list(v) for v in ref_levels]


@FILE_SETTINGS
@given(track=tracks())
def test_dlc_h5_direct_read_equals_pandas(tmp_path, track):
    path = save_dlc(track, tmp_path / "cam-A.h5", scorer="DLC_resnet50")
    _assert_direct_is_pandas(path)
    assert_same_track(track, load_track2d(path))


def test_dlc_h5_direct_read_of_real_labels(dataset):
    _assert_direct_is_pandas(dataset("deeplabcut") / DLC_LABELS / "CollectedData_Pranav.h5")


def test_dlc_h5_other_layouts_go_through_pandas(tmp_path):
    """A fixed-format store or a table with a text column is not read directly, and still read correctly."""
    from mocap3d.io.pose2d import _read_dlc_h5_direct

    cols = pd.MultiIndex.from_product([["S"], ["a"], ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"])
    df = pd.DataFrame([[1.0, 2.0, 0.5], [3.0, 4.0, 0.25]], columns=cols)
    df.to_hdf(tmp_path / "fixed.h5", key="df_with_missing", format="fixed")
    assert _read_dlc_h5_direct(tmp_path / "fixed.h5") is None
    np.testing.assert_array_equal(load_track2d(tmp_path / "fixed.h5").points[:, 0, 0], [[1, 2], [3, 4]])
    mixed = df.copy()
    mixed[("S", "b", "x")] = ["p", "q"]
    mixed.to_hdf(tmp_path / "mixed.h5", key="df_with_missing", format="table")
    assert _read_dlc_h5_direct(tmp_path / "mixed.h5") is None
    with pytest.raises(PoseFileError, match="mixed.h5"):
        load_track2d(tmp_path / "mixed.h5")
