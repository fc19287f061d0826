"""netCDF in movement's layout and NWB (ndx-pose): read by movement, pynwb and ndx-pose themselves."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.io.netcdf import load_netcdf, save_netcdf
from mocap3d.poses import Poses3D, Track2D


def _poses() -> Poses3D:
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(10, 3, 3)) * 500
    pts[4, 2] = np.nan
    score = np.where(np.isfinite(pts).all(-1), rng.random((10, 3)), 0.0)
    return Poses3D(("nose", "hip", "tail"), pts, score=score, fps=40.0, units="mm", metadata={"frame_start": 20})


def test_movement_builds_the_same_dataset_from_our_netcdf(tmp_path):
    xr = pytest.importorskip("xarray")
    load_poses = pytest.importorskip("movement.io.load_poses")
    poses = _poses()
    path = save_netcdf(poses, tmp_path / "walk.nc")
    ds = xr.open_dataset(path, engine="h5netcdf")
    ref = load_poses.from_numpy(  # movement's own constructor, with its validators
        position_array=poses.points.transpose(0, 2, 1)[..., None],
        confidence_array=np.where(np.isfinite(poses.points).all(-1), poses.score, np.nan)[..., None],
        individual_names=["individual_0"], keypoint_names=list(poses.keypoints), fps=40.0,
    )  # fmt: skip
    assert ds["position"].dims == ref["position"].dims
    np.testing.assert_array_equal(ds["position"].values, ref["position"].values)
    np.testing.assert_array_equal(ds["confidence"].values, ref["confidence"].values)
    # time: frame / fps with 0-based frames (frame_start 20 -> 0.5 s), as TRC's Time and anipose's fnum
    np.testing.assert_allclose(ds["time"].values, (np.arange(10) + 20) / 40.0)
    assert ds.attrs["units"] == "mm" and ds.attrs["time_unit"] == "seconds" and ds.attrs["ds_type"] == "poses"
    from movement.kinematics import compute_velocity

    vel = compute_velocity(ds["position"])
    assert vel.shape == ds["position"].shape
    back = load_netcdf(path)
    assert back.units == "mm" and back.metadata["frame_start"] == 20
    np.testing.assert_array_equal(back.points, poses.points)


def test_nwb_3d_read_by_pynwb_ndx_pose_and_movement(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    from mocap3d.io.nwb import load_nwb_poses3d, save_nwb_poses3d

    poses = _poses()
    path = save_nwb_poses3d(poses, tmp_path / "walk.nwb")
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwb = io.read()
        est = nwb.processing["behavior"]["PoseEstimation"]
        series = est.pose_estimation_series["hip"]
        assert series.unit == "meters" and series.conversion == 0.001 and series.rate == 40.0
        assert series.starting_time == 0.5
        np.testing.assert_array_equal(np.asarray(series.data), poses.points[:, 1])
        assert list(est.skeleton.nodes[:]) == list(poses.keypoints)
    back = load_nwb_poses3d(path)
    assert back.units == "mm" and back.fps == 40.0 and back.metadata["frame_start"] == 20
    np.testing.assert_array_equal(back.points, poses.points)
    load_poses = pytest.importorskip("movement.io.load_poses")
    ds = load_poses.from_nwb_file(path)
    got = ds["position"].sel(individuals="individual_0", keypoints=list(poses.keypoints))  # movement sorts them
    np.testing.assert_array_equal(got.transpose("time", "keypoints", "space").values, poses.points)


def test_nwb_2d_several_individuals(tmp_path):
    pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    from mocap3d.io.nwb import load_nwb_track2d, save_nwb_track2d

    rng = np.random.default_rng(9)
    pts = rng.normal(size=(6, 2, 3, 2)) * 100
    pts[1, 0, 2] = np.nan
    track = Track2D(pts, rng.random((6, 2, 3)), ("a", "b", "c"), ("mouse1", "mouse2"))
    back = load_nwb_track2d(save_nwb_track2d(track, tmp_path / "t.nwb", fps=30.0))
    assert back.individuals == ("mouse1", "mouse2")
    np.testing.assert_array_equal(back.points, track.points)
    np.testing.assert_array_equal(back.scores, track.scores)
