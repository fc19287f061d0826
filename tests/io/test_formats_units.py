"""Units travel with the data: from the calibration into Poses3D and every 3D format, read back, never guessed."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import CalibrationError, PoseFileError
from mocap3d.io.calibration import calibration_units, load_calibration, save_calibration
from mocap3d.io.registry import load_poses3d, save_poses3d
from mocap3d.poses import Poses3D, UnitsError, normalize_units

SUFFIXES = [".trc", ".c3d", ".nc", ".h5", ".nwb"]


def _poses(units):
    pts = np.arange(2 * 2 * 3, dtype=np.float64).reshape(2, 2, 3) / 7
    return Poses3D(("a", "b"), pts, fps=30.0, units=units)


def test_units_are_normalised_and_checked():
    assert normalize_units(" Meters ") == "m" and normalize_units("millimetres") == "mm"
    assert normalize_units("") is None and normalize_units(None) is None
    with pytest.raises(UnitsError, match="unknown length unit 'ft'"):
        normalize_units("ft")
    poses = _poses("m")
    assert poses.metadata["units"] == "m"  # stored in the metadata, so formats that keep it keep the units
    mm = poses.with_units("mm")
    np.testing.assert_allclose(mm.points, poses.points * 1000)
    with pytest.raises(PoseFileError, match="not known"):
        _poses(None).with_units("mm")


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("units", ["mm", "m", "cm"])
def test_every_3d_format_writes_and_reads_back_the_units(tmp_path, suffix, units):
    if suffix == ".nwb":
        pytest.importorskip("pynwb")
        pytest.importorskip("ndx_pose")
    poses = _poses(units)
    back = load_poses3d(save_poses3d(poses, tmp_path / f"x{suffix}"))
    assert back.units == units
    np.testing.assert_allclose(back.points, poses.points, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".trc", ".c3d", ".nwb"])
def test_formats_that_need_units_refuse_to_guess(tmp_path, suffix):
    if suffix == ".nwb":
        pytest.importorskip("pynwb")
    with pytest.raises(PoseFileError, match="needs the length unit"):
        save_poses3d(_poses(None), tmp_path / f"x{suffix}")


def test_formats_without_a_units_field_leave_them_unknown(tmp_path):
    assert load_poses3d(save_poses3d(_poses("mm"), tmp_path / "x.csv")).units is None  # anipose CSV has none
    assert load_poses3d(save_poses3d(_poses(None), tmp_path / "x.nc")).units is None


def test_calibration_units(tmp_path):
    from mocap3d.sample import make_sample

    rig = make_sample(n_frames=2, seed=0).rig
    path = save_calibration(rig, tmp_path / "calibration.toml", units="mm")
    assert calibration_units(path) == "mm"
    assert calibration_units(save_calibration(rig, tmp_path / "bare.toml")) is None  # anipose's own: unknown
    with pytest.raises(CalibrationError, match="unknown length unit"):
        calibration_units({"units": "furlong"})


def test_caliscope_calibration_written_in_metres_and_read_back(tmp_path):
    from mocap3d.sample import make_sample

    rig = make_sample(n_frames=2, seed=0).rig
    path = save_calibration(rig, tmp_path / "camera_array.toml", units="mm")
    import toml

    data = toml.load(path)
    assert sorted(data["cameras"]) == [str(i) for i in range(len(rig.names))]
    back = load_calibration(path)
    assert calibration_units(path) == "m"
    np.testing.assert_allclose(back.tvec, rig.tvec / 1000, rtol=1e-12)
    np.testing.assert_allclose(back.rvec, rig.rvec, atol=1e-12)
    np.testing.assert_allclose(back.K, rig.K)
    world = np.array([[100.0, 200.0, 900.0]])
    np.testing.assert_allclose(back.project(world / 1000), rig.project(world), atol=1e-9)
    with pytest.raises(CalibrationError, match="metres"):
        save_calibration(rig, tmp_path / "x" / "camera_array.toml")


def test_caliscope_own_file_is_metres(dataset):
    path = dataset("caliscope") / "tests/sessions/post_optimization/camera_array.toml"
    assert calibration_units(path) == "m"


def test_board_units_reach_the_calibration(tmp_path):
    from mocap3d.calibration.boards import board_units

    board = tmp_path / "board.toml"
    board.write_text('[board]\ntype = "checkerboard"\ncorners_x = 4\ncorners_y = 3\nsquare_length = 0.03\n'
                     'units = "m"\n')  # fmt: skip
    assert board_units(board) == "m"
    board.write_text('[board]\ntype = "checkerboard"\ncorners_x = 4\ncorners_y = 3\nsquare_length = 30\n')
    assert board_units(board) is None
