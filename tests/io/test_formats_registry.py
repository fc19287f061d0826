"""The format registry: suffix, content sniffing, an explicit format that always wins; old names still work."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.errors import PoseFileError
from mocap3d.io import registry
from mocap3d.io.pose2d import save_dlc
from mocap3d.io.registry import find_format, load_poses3d, load_track2d, save_poses3d, save_track2d
from mocap3d.poses import Poses3D, Track2D


@pytest.fixture
def poses():
    rng = np.random.default_rng(1)
    return Poses3D(("a", "b"), rng.normal(size=(4, 2, 3)), fps=25.0, units="mm")


@pytest.fixture
def track():
    rng = np.random.default_rng(2)
    return Track2D(rng.normal(size=(5, 1, 3, 2)) * 100, rng.random((5, 1, 3)), ("p", "q", "r"))


def test_every_format_has_a_round_trip(tmp_path, poses, track):
    for fmt in registry.formats("3d"):
        if fmt.name == "nwb":
            pytest.importorskip("pynwb")
        out = save_poses3d(poses, tmp_path / f"x{fmt.suffixes[0]}")
        back = load_poses3d(out)
        np.testing.assert_allclose(back.points, poses.points, rtol=1e-6, err_msg=fmt.name)
    for fmt in registry.formats("2d"):
        if fmt.name == "nwb-2d":
            pytest.importorskip("pynwb")
        out = tmp_path / f"t_{fmt.name}{fmt.suffixes[0] if fmt.suffixes else ''}"
        kw = {"prefix": "cam"} if fmt.folder else {}
        save_track2d(track, out, fmt=fmt.name, **kw)
        back = load_track2d(out, fmt=fmt.name)
        np.testing.assert_allclose(back.points, track.points, rtol=1e-6, err_msg=fmt.name)


def test_content_decides_between_formats_sharing_a_suffix(tmp_path, poses, track):
    from mocap3d.io.sleap import save_sleap_analysis

    assert find_format(save_poses3d(poses, tmp_path / "r.h5"), "3d").name == "mocap3d-h5"
    assert find_format(save_dlc(track, tmp_path / "d.h5"), "2d").name == "dlc"
    assert find_format(save_sleap_analysis(track, tmp_path / "s.h5"), "2d").name == "sleap"
    assert find_format(save_dlc(track, tmp_path / "d.csv"), "2d").name == "dlc"
    assert find_format(save_poses3d(poses, tmp_path / "a.csv"), "3d").name == "anipose-csv"


def test_an_explicit_format_always_wins(tmp_path, poses):
    odd = save_poses3d(poses, tmp_path / "walk.dat", fmt="trc")
    assert odd.read_text().startswith("PathFileType")
    np.testing.assert_array_equal(load_poses3d(odd, fmt="trc").points, poses.points)
    nc = save_poses3d(poses, tmp_path / "walk.bin", fmt="netcdf")
    assert load_poses3d(nc, fmt="nc").units == "mm"
    with pytest.raises(PoseFileError, match="cannot tell the 3D pose format from '.dat'"):
        load_poses3d(odd)
    with pytest.raises(PoseFileError, match="unknown 3D pose format 'xls'; use one of: mocap3d-h5"):
        save_poses3d(poses, tmp_path / "x.trc", fmt="xls")


def test_the_old_dispatchers_are_the_registry(tmp_path, poses):
    from mocap3d.io.exports import load_any_poses3d, save_any_poses3d
    from mocap3d.io.pose3d import load_poses3d as old_load
    from mocap3d.io.pose3d import save_poses3d as old_save

    a = save_any_poses3d(poses, tmp_path / "a.trc")
    b = old_save(poses, tmp_path / "b.trc")
    la, lb = a.read_text().splitlines(), b.read_text().splitlines()
    assert la[1:] == lb[1:] and la[0].endswith("\tY-up") and lb[0].endswith("\tY-up")  # one set of defaults
    np.testing.assert_array_equal(load_any_poses3d(a).points, old_load(b).points)
