"""TRC: OpenSim 4.6's own reader loads every file mocap3d writes, with our values; axes, units and time."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import PoseFileError
from mocap3d.io.registry import load_poses3d, save_poses3d
from mocap3d.io.trc import load_trc, save_trc
from mocap3d.poses import Poses3D

KEYPOINTS = ("hip", "knee", "ankle", "toe")


def _poses(units: str | None = "mm", gaps: str = "last", n_frames: int = 6) -> Poses3D:
    rng = np.random.default_rng(3)
    scale = {"mm": 1000.0, "m": 1.0, None: 1.0, "cm": 100.0}[units]
    pts = rng.normal(size=(n_frames, len(KEYPOINTS), 3)) * scale
    if gaps == "last":
        pts[0, -1] = np.nan  # the frame ends in a gap: the case OpenSim refused
        pts[2:4, -1] = np.nan
    elif gaps == "first":
        pts[1, 0] = np.nan
    elif gaps == "all":
        pts[3] = np.nan
    elif gaps == "every":
        pts[1, 0] = pts[2, 1] = pts[3, 2] = pts[4, 3] = np.nan
    return Poses3D(KEYPOINTS, pts, fps=50.0, units=units)


def _opensim_table(path):
    opensim = pytest.importorskip("opensim")
    table = opensim.TimeSeriesTableVec3(str(path))
    flat = table.flatten()  # keep every SWIG object referenced: a temporary's matrix outlives it and crashes
    matrix = flat.getMatrix()
    values = np.array(matrix.to_numpy(), copy=True).reshape(table.getNumRows(), -1, 3)
    return table, values, np.array(list(table.getIndependentColumn()))


@pytest.mark.parametrize("gaps", ["last", "first", "all", "every", "none"])
@pytest.mark.parametrize("units", ["mm", "m"])
@pytest.mark.parametrize("axes", ["Y-up", "Z-up"])
def test_opensim_reads_every_trc_we_write(tmp_path, gaps, units, axes):
    poses = _poses(units, gaps)
    path = save_trc(poses, tmp_path / "walk.trc", axes=axes)
    table, values, time = _opensim_table(path)
    assert list(table.getColumnLabels()) == list(KEYPOINTS)
    assert table.getTableMetaDataAsString("Units") == units
    assert float(table.getTableMetaDataAsString("DataRate")) == 50.0
    expected = poses.points[..., [1, 2, 0]] if axes == "Y-up" else poses.points
    np.testing.assert_array_equal(values, expected)  # NaN where missing, the same doubles elsewhere
    np.testing.assert_allclose(time, np.arange(poses.n_frames) / 50.0, rtol=0, atol=1e-15)
    back = load_trc(path)  # axes and units come from the file
    np.testing.assert_array_equal(back.points, poses.points)
    assert back.units == units and back.metadata["trc_axes"] == axes


def test_missing_values_are_nan_not_empty_fields(tmp_path):
    text = save_trc(_poses(), tmp_path / "w.trc").read_text().splitlines()
    assert text[5].endswith("\tNaN\tNaN\tNaN")
    assert all("\t\t" not in row for row in text[5:])
    # a whitespace-splitting reader gets every value in its column
    assert {len(row.split()) for row in text[5:]} == {2 + 3 * len(KEYPOINTS)}


def test_zup_export_comes_back_upright_and_keeps_its_axes(tmp_path):
    poses = _poses()
    zup = save_poses3d(poses, tmp_path / "z.trc", axes="Z-up")
    assert zup.read_text().splitlines()[0].endswith("\tZ-up")
    back = load_poses3d(zup)
    np.testing.assert_array_equal(back.points, poses.points)
    # converted to C3D, the vertical stays the world's Z
    from mocap3d.io.c3d import load_c3d

    c3d = load_c3d(save_poses3d(back, tmp_path / "z.c3d"))
    np.testing.assert_allclose(c3d.points, poses.points, rtol=1e-6, atol=1e-3)
    # rewritten as TRC without saying, it keeps Z-up (the axes it was read with)
    again = save_poses3d(back, tmp_path / "z2.trc")
    assert again.read_text().splitlines()[0].endswith("\tZ-up")
    # an explicit choice wins over the file's declaration
    np.testing.assert_array_equal(load_trc(zup, axes="Y-up").points, poses.points[..., [2, 0, 1]])


def test_time_starts_at_zero_like_netcdf_and_csv(tmp_path):
    poses = _poses()
    poses.metadata["frame_start"] = 10
    rows = save_trc(poses, tmp_path / "t.trc").read_text().splitlines()[5:]
    assert [r.split("\t")[0] for r in rows[:2]] == ["11", "12"]  # Frame#: TRC's 1-based counter
    assert float(rows[0].split("\t")[1]) == 10 / 50.0  # Time = frame / fps, frames 0-based
    assert load_trc(tmp_path / "t.trc").metadata["frame_start"] == 10
    from mocap3d.io.netcdf import poses_to_movement_dataset

    ds = poses_to_movement_dataset(poses)
    assert float(ds["time"][0]) == float(rows[0].split("\t")[1])


def test_units_are_written_from_the_data_and_converted(tmp_path):
    poses = _poses("m")
    text = save_trc(poses, tmp_path / "m.trc").read_text().splitlines()
    assert text[2].split("\t")[4] == "m"
    mm = load_trc(save_trc(poses, tmp_path / "mm.trc", units="mm"))
    assert mm.units == "mm"
    np.testing.assert_allclose(mm.points, poses.points * 1000, rtol=1e-15)


def test_unknown_units_are_one_sentence_not_a_guess(tmp_path):
    with pytest.raises(PoseFileError, match="length unit .* not known.*--units"):
        save_trc(_poses(None), tmp_path / "x.trc")
    assert not (tmp_path / "x.trc").exists()
    # the caller who knows them names them
    assert load_trc(save_trc(_poses(None), tmp_path / "x.trc", units="cm")).units == "cm"
    with pytest.raises(PoseFileError, match="unknown length unit 'ft'"):
        save_trc(_poses("m"), tmp_path / "y.trc", units="ft")


def test_opensim_reads_our_trc_through_trcfileadapter(tmp_path):
    opensim = pytest.importorskip("opensim")
    path = save_trc(_poses("mm", "every"), tmp_path / "a.trc")
    adapter = opensim.TRCFileAdapter()
    tables = adapter.read(str(path))
    markers = tables["markers"]
    assert markers.getNumRows() == 6 and markers.getNumColumns() == len(KEYPOINTS)


def test_cli_zup_trc_to_c3d_keeps_the_vertical(tmp_path):
    """The issue's case: `export --zup` TRC, exported again to C3D, keeps the world's Z as the vertical."""
    from click.testing import CliRunner

    from mocap3d.cli import cli
    from mocap3d.io.c3d import load_c3d

    poses = _poses("mm", "every")
    src = save_poses3d(poses, tmp_path / "walk.h5")
    runner = CliRunner()
    res = runner.invoke(cli, ["export", str(src), "--out", str(tmp_path / "z.trc"), "--zup"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["export", str(tmp_path / "z.trc"), "--out", str(tmp_path / "z.c3d")])
    assert res.exit_code == 0, res.output
    back = load_c3d(tmp_path / "z.c3d")
    assert back.units == "mm"
    np.testing.assert_allclose(back.points, poses.points, rtol=1e-6, atol=1e-3)
    unknown = save_poses3d(_poses(None), tmp_path / "u.h5")
    res = runner.invoke(cli, ["export", str(unknown), "--out", str(tmp_path / "u.trc")])
    assert res.exit_code == 1 and "--units" in res.output and "Traceback" not in res.output
