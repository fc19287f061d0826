"""3D pose outputs: anipose CSV, HDF5 and TRC round trips, Pose2Sim's reference TRC, damaged files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocap3d.camera import CameraRig
from mocap3d.errors import PoseFileError
from mocap3d.io.pose3d import (
    load_anipose_csv,
    load_h5,
    load_h5_calibration,
    load_poses3d,
    load_trc,
    save_anipose_csv,
    save_h5,
    save_poses3d,
    save_trc,
)
from mocap3d.poses import Poses3D

POSE3D = "Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial/pose-3d"
RAW_TRC = "S00_P00_T01_BalancingTrial_0-100.trc"

FILE_SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=8)


@st.composite
def poses3d(draw) -> Poses3D:
    """Random triangulation results: missing points have NaN xyz/error, ncams 0, score 0, no camera used."""
    f, k, v = draw(st.integers(1, 8)), draw(st.integers(1, 4)), draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    points = rng.normal(size=(f, k, 3)) * scale
    used = rng.random((f, k, v)) < 0.7
    used[..., :2] = True
    missing = rng.random((f, k)) < draw(st.sampled_from([0.0, 0.3, 1.0]))
    points[missing] = np.nan
    used[missing] = False
    return Poses3D(
        keypoints=tuple(draw(st.lists(_name, min_size=k, max_size=k, unique=True))),
        points=points,
        error=np.where(missing, np.nan, rng.uniform(0, 20, (f, k))),
        ncams=used.sum(-1),
        cameras_used=used,
        score=np.where(missing, 0.0, rng.uniform(0, 1, (f, k))),
        views=tuple(f"cam{i}" for i in range(v)),
        fps=draw(st.sampled_from([None, 30.0, 59.94, 120.0])),
        metadata={"method": "ransac", "score_threshold": 0.3, "cameras": ["cam0", "cam1"]},
    )


def assert_arrays(a: Poses3D, b: Poses3D, fields=("points", "error", "ncams", "score")) -> None:
    assert b.keypoints == a.keypoints
    for name in fields:
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)


# ----------------------------------------------------------------------------- round trips


@FILE_SETTINGS
@given(poses=poses3d())
def test_anipose_csv_round_trip(tmp_path, poses):
    back = load_poses3d(save_poses3d(poses, tmp_path / "out.csv"))
    assert_arrays(poses, back)


@FILE_SETTINGS
@given(poses=poses3d())
def test_h5_round_trip(tmp_path, poses):
    back = load_poses3d(save_poses3d(poses, tmp_path / "out.h5"))
    assert_arrays(poses, back, ("points", "error", "ncams", "score", "cameras_used"))
    assert back.views == poses.views and back.fps == poses.fps and back.metadata == poses.metadata
    assert load_h5_calibration(tmp_path / "out.h5") is None


@FILE_SETTINGS
@given(poses=poses3d(), yup=st.booleans())
def test_trc_round_trip(tmp_path, poses, yup):
    path = save_trc(poses, tmp_path / "out.trc", fps=poses.fps or 100.0, units="m", yup=yup)
    back = load_trc(path, yup=yup)
    assert_arrays(poses, back, ("points",))
    assert back.fps == (poses.fps or 100.0) and back.metadata["units"] == "m"


def test_h5_keeps_the_calibration(tmp_path):
    rig = CameraRig(
        names=("cam_10", "cam_2"),
        sizes=[[1920, 1080], [1280, 720]],
        K=[[[1500, 0, 960], [0, 1500, 540], [0, 0, 1]], [[900, 0, 640.5], [0, 901, 360.25], [0, 0, 1]]],
        dist=[[-0.1, 0.01, 0, 0, 0], [0.02, -0.003, 0.001, 0, 0]],
        rvec=[[0, 0, 0], [0.1, -0.2, 0.3]],
        tvec=[[0, 0, 0], [-500.0, 10.0, 20.0]],
        fisheye=[False, True],
    )
    poses = Poses3D(keypoints=("a",), points=np.ones((2, 1, 3)), views=rig.names, metadata={"units": "mm"})
    path = save_h5(poses, tmp_path / "r.h5", calibration=rig)
    back = load_h5_calibration(path)
    assert back.names == ("cam_10", "cam_2")  # order kept, not sorted
    for name in ("sizes", "K", "dist", "rvec", "tvec", "fisheye"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rig, name))
    assert load_h5(path).metadata["units"] == "mm"


# ----------------------------------------------------------------------------- layouts


def test_anipose_csv_columns_are_what_movement_validates(tmp_path):
    poses = Poses3D(keypoints=("left_ear", "nose"), points=np.arange(12.0).reshape(2, 2, 3), ncams=[[2, 3], [0, 4]])
    path = save_anipose_csv(poses, tmp_path / "x.csv")
    header = path.read_text().splitlines()[0].split(",")
    extra = ["fnum", "center_0", "center_1", "center_2"] + [f"M_{i}{j}" for i in range(3) for j in range(3)]
    assert all(c in header for c in extra)
    suffixes = ["_x", "_y", "_z", "_score", "_error", "_ncams"]
    for column in (c for c in header if c not in extra):  # movement's rule: base name + every suffix
        assert any(column.endswith(s) for s in suffixes)
        base = column.rsplit("_", 1)[0]
        assert all(f"{base}{s}" in header for s in suffixes)
    assert header[:6] == [
        "left_ear_x",
        "left_ear_y",
        "left_ear_z",
        "left_ear_error",
        "left_ear_ncams",
        "left_ear_score",
    ]
    # anipose writes _ncams as pandas writes floats
    row = path.read_text().splitlines()[2].split(",")
    assert row[header.index("nose_ncams")] == "4.0" and row[header.index("fnum")] == "1"
    assert row[header.index("M_11")] == "1.0" and row[header.index("M_01")] == "0.0"


def test_anipose_alignment_in_metadata(tmp_path):
    m = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    poses = Poses3D(
        keypoints=("a",), points=np.zeros((3, 1, 3)), metadata={"alignment_M": m, "alignment_center": [1.0, 2, 3]}
    )
    back = load_anipose_csv(save_anipose_csv(poses, tmp_path / "x.csv"))
    assert back.metadata == {"alignment_M": m, "alignment_center": [1.0, 2.0, 3.0]}


def test_trc_layout_yup_and_missing_points(tmp_path):
    pts = np.array([[[1.0, 2.0, 3.0], [np.nan, np.nan, np.nan]], [[4.0, 5.0, 6.5], [7.0, 8.0, 9.0]]])
    poses = Poses3D(keypoints=("Hip", "Knee"), points=pts, fps=50.0)
    path = save_trc(poses, tmp_path / "walk.trc", units="m", yup=True)
    lines = path.read_text().split("\n")
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\twalk.trc\tY-up"
    assert lines[2] == "50\t50\t2\t2\tm\t50\t0\t2"
    assert lines[3] == "Frame#\tTime\tHip\t\t\tKnee\t\t"
    assert lines[4] == "\t\tX1\tY1\tZ1\tX2\tY2\tZ2"
    assert lines[5] == "1\t0.0\t2.0\t3.0\t1.0\tNaN\tNaN\tNaN"  # Y-up: TRC (X, Y, Z) = world (Y, Z, X); time from 0
    assert lines[6] == "2\t0.02\t5.0\t6.5\t4.0\t8.0\t9.0\t7.0"
    back = load_trc(path, yup=True)
    np.testing.assert_array_equal(back.points, pts)


def test_trc_unit_conversion(tmp_path):
    poses = Poses3D(keypoints=("a",), points=np.array([[[1.5, -2.0, 0.25]]]), fps=60, metadata={"units": "m"})
    back = load_trc(save_trc(poses, tmp_path / "mm.trc", units="mm"))
    np.testing.assert_allclose(back.points, [[[1500.0, -2000.0, 250.0]]])
    assert back.units == "mm"


# ----------------------------------------------------------------------------- Pose2Sim's reference TRC


def test_reference_trc_reads_and_rewrites_identically(dataset, tmp_path):
    ref = dataset("pose2sim-demo") / POSE3D / RAW_TRC
    poses = load_trc(ref, axes="Z-up")  # the file's columns as they are
    assert poses.points.shape == (100, 21, 3) and poses.fps == 60.0 and poses.units == "m"
    assert poses.keypoints[:3] == ("RHip", "RKnee", "RAnkle") and poses.keypoints[-1] == "LWrist"
    # first data row, first marker, as printed in the file
    np.testing.assert_array_equal(poses.points[0, 0], [-0.06497214796810755, 0.9015045550714222, -1.4005886926185436])
    # an undeclared TRC is OpenSim's Y-up: read into the Z-up world, written back Y-up
    world = load_trc(ref)
    np.testing.assert_array_equal(world.points[..., [1, 2, 0]], poses.points)
    ref_lines = ref.read_text().splitlines()
    new_lines = save_trc(world, tmp_path / RAW_TRC).read_text().splitlines()
    assert new_lines[0] == ref_lines[0] + "\tY-up"  # the axes are declared
    assert new_lines[1:5] == ref_lines[1:5]
    # every coordinate and Frame# printed as Pose2Sim printed it; Time from 0 (Pose2Sim starts at 1/fps)
    assert [r.split("\t")[2:] for r in new_lines[5:]] == [r.split("\t")[2:] for r in ref_lines[5:]]
    assert [r.split("\t")[0] for r in new_lines[5:]] == [r.split("\t")[0] for r in ref_lines[5:]]
    assert [float(r.split("\t")[1]) for r in new_lines[5:]] == [i / 60 for i in range(100)]


def test_filtered_reference_trc_numbers(dataset, tmp_path):
    """Pose2Sim's filtered TRC prints Time with fewer digits; the coordinates still come back exactly."""
    ref = dataset("pose2sim-demo") / POSE3D / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc"
    poses = load_trc(ref)
    back = load_trc(save_trc(poses, tmp_path / "f.trc", units="m"))
    np.testing.assert_array_equal(back.points, poses.points)
    ref_rows = [r.split("\t")[2:] for r in ref.read_text().splitlines()[5:]]
    new_rows = [r.split("\t")[2:] for r in (tmp_path / "f.trc").read_text().splitlines()[5:]]
    assert ref_rows == new_rows


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def poses():
    rng = np.random.default_rng(0)
    return Poses3D(keypoints=("a", "b"), points=rng.normal(size=(300, 2, 3)), fps=30.0, units="m")


@pytest.mark.parametrize("suffix", [".csv", ".trc"])
def test_truncated_text_files(tmp_path, poses, suffix):
    path = save_poses3d(poses, tmp_path / f"x{suffix}")
    text = path.read_text()
    path.write_text(text[: int(len(text) * 0.55)])
    with pytest.raises(PoseFileError, match="truncated"):
        load_poses3d(path)


def test_damaged_and_foreign_files(tmp_path, poses):
    path = save_poses3d(poses, tmp_path / "x.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PoseFileError, match="x.h5"):
        load_poses3d(path)
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["points"] = np.zeros((1, 1, 3))
    with pytest.raises(PoseFileError, match="not a mocap3d 3D pose file"):
        load_h5(tmp_path / "other.h5")
    (tmp_path / "x.csv").write_text("time,value\n0,1\n")
    with pytest.raises(PoseFileError, match="not an anipose 3D CSV"):
        load_anipose_csv(tmp_path / "x.csv")
    (tmp_path / "bad.trc").write_text("hello\n")
    with pytest.raises(PoseFileError, match="not a TRC file"):
        load_trc(tmp_path / "bad.trc")
    with pytest.raises(PoseFileError, match=r"cannot tell the 3D pose format from '\.xyz'.*anipose-csv \(\.csv\)"):
        save_poses3d(poses, tmp_path / "x.xyz")
    with pytest.raises(PoseFileError, match="no such file"):
        load_poses3d(tmp_path / "missing.trc")


def test_trc_needs_a_frame_rate(tmp_path):
    with pytest.raises(PoseFileError, match="frame rate"):
        save_trc(Poses3D(keypoints=("a",), points=np.zeros((1, 1, 3))), tmp_path / "x.trc")


def test_failed_write_leaves_previous_file(tmp_path, poses):
    path = save_poses3d(poses, tmp_path / "x.h5")
    before = path.read_bytes()
    bad = Poses3D(keypoints=("a",), points=np.zeros((1, 1, 3)), metadata={"x": object()})
    with pytest.raises(PoseFileError, match="metadata"):
        save_h5(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]


@pytest.mark.parametrize("suffix", [".csv", ".h5", ".trc"])
def test_one_call_for_every_suffix(tmp_path, poses, suffix):
    """Options a format cannot store are dropped, so a CLI can pass the same keywords for any --out."""
    path = save_poses3d(poses, tmp_path / f"x{suffix}", fps=30.0, units="m", yup=False, calibration=None)
    np.testing.assert_array_equal(load_poses3d(path).points, poses.points)
    with pytest.raises(TypeError, match="colour"):
        save_poses3d(poses, tmp_path / f"y{suffix}", colour="red")
