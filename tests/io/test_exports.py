"""C3D and netCDF (movement layout) exports: exact round trips and the layout other tools read."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import PoseFileError
from mocap3d.io.exports import load_c3d, load_netcdf, poses_to_movement_dataset, save_c3d, save_netcdf
from mocap3d.poses import Poses3D


def _poses(n_frames=40, n_kp=5, seed=0, fps=60.0):
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n_frames, n_kp, 3)) * 700.0
    pts[3, 1] = np.nan
    pts[10:14, 4] = np.nan
    err = rng.random((n_frames, n_kp))
    valid = np.isfinite(pts).all(-1)
    return Poses3D(
        keypoints=tuple(f"kp{i}" for i in range(n_kp)), points=pts, error=np.where(valid, err, np.nan),
        ncams=np.where(valid, 3, 0), score=np.where(valid, rng.random((n_frames, n_kp)), 0.0),
        views=("cam_a", "cam_b", "cam_c"), fps=fps, metadata={"method": "dlt", "threshold": 0.5}, units="mm",
    )


def test_c3d_round_trip_exact(tmp_path):
    poses = _poses()
    path = save_c3d(poses, tmp_path / "walk.c3d")
    back = load_c3d(path)
    assert back.keypoints == poses.keypoints
    assert back.fps == 60.0
    assert back.metadata["units"] == "mm"
    # C3D stores 32-bit floats: the round trip is exact at float32 precision
    np.testing.assert_array_equal(back.points, poses.points.astype(np.float32).astype(np.float64))
    assert np.isnan(back.points[3, 1]).all() and np.isnan(back.points[10:14, 4]).all()
    # and float32-representable data round-trips bit for bit
    poses32 = Poses3D(keypoints=poses.keypoints, points=back.points, fps=60.0, units="mm")
    again = load_c3d(save_c3d(poses32, tmp_path / "again.c3d"))
    np.testing.assert_array_equal(again.points, back.points)


def test_c3d_read_by_ezc3d_as_other_tools_do(tmp_path):
    ezc3d = pytest.importorskip("ezc3d")
    poses = _poses()
    c3d = ezc3d.c3d(str(save_c3d(poses, tmp_path / "walk.c3d", units="mm")))
    assert list(c3d["parameters"]["POINT"]["LABELS"]["value"]) == list(poses.keypoints)
    assert c3d["parameters"]["POINT"]["UNITS"]["value"] == ["mm"]
    assert c3d["header"]["points"]["size"] == len(poses.keypoints)
    assert c3d["header"]["points"]["frame_rate"] == 60.0
    np.testing.assert_allclose(c3d["data"]["points"][:3, 0, 0], poses.points[0, 0], rtol=1e-7)


def test_c3d_needs_fps(tmp_path):
    poses = _poses(fps=None)
    with pytest.raises(PoseFileError, match="frame rate"):
        save_c3d(poses, tmp_path / "x.c3d")
    save_c3d(poses, tmp_path / "x.c3d", fps=100.0)
    assert load_c3d(tmp_path / "x.c3d").fps == 100.0


def test_netcdf_round_trip_exact(tmp_path):
    poses = _poses()
    back = load_netcdf(save_netcdf(poses, tmp_path / "walk.nc"))
    np.testing.assert_array_equal(back.points, poses.points)
    np.testing.assert_array_equal(back.error, poses.error)
    np.testing.assert_array_equal(back.ncams, poses.ncams)
    np.testing.assert_array_equal(back.score, poses.score)
    assert back.keypoints == poses.keypoints and back.views == poses.views and back.fps == 60.0
    assert back.metadata["method"] == "dlt" and back.metadata["threshold"] == 0.5
    assert not list(tmp_path.glob(".*"))


def test_netcdf_layout_is_movements():
    xr = pytest.importorskip("xarray")
    poses = _poses()
    ds = poses_to_movement_dataset(poses)
    assert isinstance(ds, xr.Dataset)
    assert ds["position"].dims == ("time", "space", "keypoints", "individuals")
    assert ds["confidence"].dims == ("time", "keypoints", "individuals")
    assert list(ds["space"].values) == ["x", "y", "z"]
    assert ds.attrs["ds_type"] == "poses" and ds.attrs["time_unit"] == "seconds" and ds.attrs["fps"] == 60.0
    np.testing.assert_allclose(ds["time"].values, np.arange(40) / 60.0)
    # movement marks missing confidence as NaN, and the position of a missing point is NaN
    assert np.isnan(ds["confidence"].values[3, 1, 0]) and np.isnan(ds["position"].values[3, :, 1, 0]).all()
    # a velocity computed the way movement's kinematics does (gradient along time) works on the file
    vel = ds["position"].differentiate("time")
    expected = np.gradient(poses.points[:, 0, 0], 1 / 60.0)
    np.testing.assert_allclose(vel.sel(space="x", keypoints="kp0").values[:, 0], expected)


def test_netcdf_without_fps_uses_frames(tmp_path):
    poses = _poses(fps=None)
    ds = poses_to_movement_dataset(poses)
    assert ds.attrs["time_unit"] == "frames" and "fps" not in ds.attrs
    back = load_netcdf(save_netcdf(poses, tmp_path / "x.nc"))
    assert back.fps is None


def test_netcdf_reads_a_plain_movement_file(tmp_path):
    """A file as movement itself writes (position/confidence only, several individuals)."""
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(2)
    pos = rng.normal(size=(10, 3, 2, 2))
    ds = xr.Dataset(
        {"position": (("time", "space", "keypoints", "individuals"), pos),
         "confidence": (("time", "keypoints", "individuals"), rng.random((10, 2, 2)))},
        coords={"time": np.arange(10) / 30.0, "space": ["x", "y", "z"], "keypoints": ["a", "b"],
                "individuals": ["mouse1", "mouse2"]},
        attrs={"fps": 30.0, "time_unit": "seconds", "source_software": "DeepLabCut", "ds_type": "poses"},
    )
    ds.to_netcdf(tmp_path / "m.nc", engine="h5netcdf")
    p = load_netcdf(tmp_path / "m.nc", individual="mouse2")
    np.testing.assert_array_equal(p.points, pos[..., 1].transpose(0, 2, 1))
    with pytest.raises(PoseFileError, match="not found"):
        load_netcdf(tmp_path / "m.nc", individual="rat")


def test_bad_files(tmp_path):
    (tmp_path / "bad.c3d").write_text("not a c3d")
    (tmp_path / "bad.nc").write_text("not netcdf")
    with pytest.raises(PoseFileError):
        load_c3d(tmp_path / "bad.c3d")
    with pytest.raises(PoseFileError):
        load_netcdf(tmp_path / "bad.nc")
    with pytest.raises(PoseFileError, match="does not exist"):
        load_netcdf(tmp_path / "missing.nc")


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def sample_files(tmp_path_factory):
    sample = pytest.importorskip("mocap3d.sample")
    out = tmp_path_factory.mktemp("sample")
    s = sample.make_sample(n_frames=12, seed=0)
    return s, sample.write_sample(s, out)


@pytest.mark.parametrize("suffix", [".c3d", ".nc", ".trc", ".csv"])
def test_cli_export_formats(sample_files, tmp_path, suffix):
    from click.testing import CliRunner

    from mocap3d.cli import cli
    from mocap3d.io.exports import load_any_poses3d

    s, files = sample_files
    out = tmp_path / f"walk{suffix}"
    res = CliRunner().invoke(cli, ["export", str(files["truth"]), "--out", str(out), "--fps", "60"])
    assert res.exit_code == 0, res.output
    back = load_any_poses3d(out)
    assert back.keypoints == s.truth.keypoints
    tol = {".c3d": 1e-3, ".nc": 0.0, ".trc": 1e-4, ".csv": 1e-6}[suffix]  # float32 / printed digits
    np.testing.assert_allclose(back.points, s.truth.points, atol=tol, rtol=0)


def test_cli_export_with_alignment(sample_files, tmp_path):
    from click.testing import CliRunner

    from mocap3d.cli import cli
    from mocap3d.io.exports import load_any_poses3d

    s, files = sample_files
    cfg = tmp_path / "config.toml"
    cfg.write_text('[triangulation]\naxes = [["y", "r_hip", "l_hip"], ["z", "pelvis", "neck"]]\n'
                   'reference_point = "pelvis"\n')
    out = tmp_path / "aligned.nc"
    res = CliRunner().invoke(cli, ["export", str(files["truth"]), "--align", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    back = load_any_poses3d(out)
    kp = back.keypoints
    # the pelvis is the origin on median; the walker walks along +x, its left hip on +y
    assert np.abs(np.median(back.points[:, kp.index("pelvis")], axis=0)).max() < 1e-6
    assert np.median(back.points[:, kp.index("l_hip"), 1]) > 50
    res = CliRunner().invoke(cli, ["export", str(files["truth"]), "--out", str(tmp_path / "x.xyz")])
    assert res.exit_code == 1 and "cannot tell the 3D pose format from '.xyz'" in res.output


# ------------------------------------------------------------ Pose2Sim reference TRC
_P2S_TRC = ("Pose2Sim/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial/pose-3d/"
            "S00_P00_T01_BalancingTrial_0-100.trc")


@pytest.mark.parametrize("via", ["", ".nc", ".c3d", ".csv", ".h5"])
def test_pose2sim_trc_through_every_format(dataset, tmp_path, via):
    """Pose2Sim's own TRC, converted through a format and back to TRC, keeps its header, axes and numbers."""
    from click.testing import CliRunner

    from mocap3d.cli import cli

    ref = dataset("pose2sim-demo") / _P2S_TRC
    src = ref
    if via:
        src = tmp_path / f"mid{via}"
        res = CliRunner().invoke(cli, ["export", str(ref), "--out", str(src), "--units", "m"])
        assert res.exit_code == 0, res.output
    out = tmp_path / ref.name  # the same file name: Pose2Sim writes it on line 1
    res = CliRunner().invoke(cli, ["export", str(src), "--out", str(out), "--fps", "60", "--units", "m"])
    assert res.exit_code == 0, res.output
    ref_lines = ref.read_text().splitlines()
    out_lines = out.read_text().splitlines()
    assert out_lines[0] == ref_lines[0] + "\tY-up"  # the same line 1, the axes declared
    assert out_lines[1:5] == ref_lines[1:5]  # keys, values (60 Hz, 21 markers, m), names, X1 Y1 Z1...
    ref_vals = np.genfromtxt(ref_lines[5:], delimiter="\t")
    out_vals = np.genfromtxt(out_lines[5:], delimiter="\t")
    np.testing.assert_array_equal(out_vals[:, 0], ref_vals[:, 0])  # Frame#
    np.testing.assert_allclose(out_vals[:, 1], np.arange(100) / 60, rtol=0, atol=1e-15)  # our time starts at 0
    if via in ("", ".nc", ".h5"):  # float64 all the way: the very same coordinate text
        assert [r.split("\t")[2:] for r in out_lines[5:]] == [r.split("\t")[2:] for r in ref_lines[5:]]
    else:  # C3D stores float32, the CSV prints fewer digits
        np.testing.assert_allclose(out_vals[:, 2:], ref_vals[:, 2:], rtol=0, atol=1e-6, equal_nan=True)
