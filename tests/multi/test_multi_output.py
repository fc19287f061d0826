"""All individuals in one output, and the command line for several individuals."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import PoseFileError
from mocap3d.multi.output import individual_paths, load_individuals, save_individuals
from mocap3d.poses import Poses3D


def _poses(n=2, frames=12, kps=("a", "b", "c")):
    rng = np.random.default_rng(0)
    out = {}
    for i in range(n):
        pts = rng.normal(0, 500, (frames, len(kps), 3))
        pts[3, 1] = np.nan
        out[f"individual_{i}"] = Poses3D(keypoints=kps, points=pts, error=rng.random((frames, len(kps))),
                                         ncams=np.full((frames, len(kps)), 3), score=rng.random((frames, len(kps))),
                                         cameras_used=np.ones((frames, len(kps), 2), bool), views=("c1", "c2"),
                                         fps=30.0, metadata={"who": i})  # fmt: skip
    return out


@pytest.mark.parametrize("suffix", [".nc", ".h5"])
def test_one_file_holds_every_individual(tmp_path, suffix):
    poses = _poses()
    [path] = save_individuals(poses, tmp_path / f"all{suffix}")
    back = load_individuals(path)
    assert list(back) == list(poses)
    for name, p in poses.items():
        np.testing.assert_array_equal(back[name].points, p.points)
        assert back[name].keypoints == p.keypoints and back[name].fps == 30.0


def test_netcdf_is_movements_layout(tmp_path):
    import xarray as xr

    poses = _poses(3)
    [path] = save_individuals(poses, tmp_path / "all.nc")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["position"].dims == ("time", "space", "keypoints", "individuals")
        assert list(ds["individuals"].values) == ["individual_0", "individual_1", "individual_2"]
        np.testing.assert_array_equal(ds["position"].sel(individuals="individual_2").transpose("time", "keypoints",
                                      "space").values, poses["individual_2"].points)  # fmt: skip
        assert ds.attrs["ds_type"] == "poses" and ds.attrs["fps"] == 30.0


def test_netcdf_round_trip_through_movement(tmp_path):
    """movement reads its netCDF with xarray; its inter-individual distances then work on our file."""
    distances = pytest.importorskip("movement.kinematics", reason="movement is not installed")
    import xarray as xr

    poses = _poses(2)
    [path] = save_individuals(poses, tmp_path / "all.nc")
    ds = xr.load_dataset(path)
    assert list(ds["individuals"].values) == list(poses)
    got = distances.compute_pairwise_distances(ds["position"], dim="individuals",
                                               pairs={"individual_0": "individual_1"})  # fmt: skip
    a, b = poses["individual_0"].points, poses["individual_1"].points
    # movement's result (time, keypoints of 0, keypoints of 1); its diagonal is each keypoint's distance
    diag = np.stack([got.values[:, k, k] for k in range(a.shape[1])], -1)
    np.testing.assert_allclose(diag, np.linalg.norm(a - b, axis=-1))


def test_formats_without_individuals_get_one_file_each(tmp_path):
    from mocap3d.io.pose3d import load_trc

    poses = _poses()
    with pytest.raises(PoseFileError, match="needs the length unit"):  # never guessed
        save_individuals(poses, tmp_path / "trial.trc")
    assert not list(tmp_path.iterdir())
    written = save_individuals(poses, tmp_path / "trial.trc", units="mm")
    assert [p.name for p in written] == ["trial_individual_0.trc", "trial_individual_1.trc"]
    assert individual_paths(tmp_path / "x.nc", ["a", "b"]) == {"a": tmp_path / "x.nc", "b": tmp_path / "x.nc"}
    back = load_trc(written[1], yup=True)
    np.testing.assert_allclose(back.points, poses["individual_1"].points, atol=1e-3)


@pytest.fixture(scope="module")
def herd_files(tmp_path_factory):
    """Two walkers as multi-animal DeepLabCut files whose labels are swapped differently in every camera."""
    from mocap3d.io.calibration import save_calibration
    from mocap3d.io.pose2d import save_dlc
    from mocap3d.poses import Track2D
    from mocap3d.synthetic.herd import make_herd

    herd = make_herd(n_individuals=2, n_frames=90, seed=7, swap_rate=0.05)
    out = tmp_path_factory.mktemp("herd")
    calib = save_calibration(herd.rig, out / "calibration.toml")
    files = []
    for v, cam in enumerate(herd.rig.names):
        track = Track2D(points=herd.points[v], scores=herd.scores[v], keypoints=herd.keypoints,
                        individuals=("mouse1", "mouse2"), source=cam)  # fmt: skip
        files.append(save_dlc(track, out / f"{cam}.h5"))
    return herd, calib, files


def test_cli_refuses_one_individual_of_disagreeing_files(herd_files, tmp_path):
    _, calib, files = herd_files
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "-o", str(tmp_path / "one.csv"),
                                   *map(str, files)])  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "--individuals all" in res.output
    assert not (tmp_path / "one.csv").exists()


def test_cli_individuals_all_writes_every_individual(herd_files, tmp_path):
    herd, calib, files = herd_files
    out = tmp_path / "all.nc"
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "--fps", "60", "--individuals", "all", "-o",
                                   str(out), *map(str, files)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "ms per frame" in res.output and "identity uncertain" in res.output
    back = load_individuals(out)
    assert len(back) == 2
    for truth in herd.truth.values():
        errs = [np.nanmedian(np.linalg.norm(p.points - truth.points, axis=-1)) for p in back.values()]
        assert min(errs) < 20.0 and max(errs) > 500.0  # mm: one individual is this walker, the other is not
    # a second run without --overwrite keeps the file
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "--individuals", "2", "-o", str(out),
                                   *map(str, files)])  # fmt: skip
    assert res.exit_code == 1 and "--overwrite" in res.output


def test_cli_individuals_rejects_nonsense(herd_files, tmp_path):
    _, calib, files = herd_files
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "--individuals", "some", "-o",
                                   str(tmp_path / "x.nc"), *map(str, files)])  # fmt: skip
    assert res.exit_code == 1 and "--individuals" in res.output and "Traceback" not in res.output


def test_cli_individual_and_individuals_together_is_one_sentence(herd_files, tmp_path):
    _, calib, files = herd_files
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "--individual", "mouse1", "--individuals", "all",
                                   "-o", str(tmp_path / "x.nc"), *map(str, files)])  # fmt: skip
    assert res.exit_code == 1 and "only one of them" in res.output


def test_cli_config_file_individuals_key(herd_files, tmp_path):
    """``[triangulation] individuals`` in --config acts as --individuals (the project pipeline's key)."""
    _, calib, files = herd_files
    cfg = tmp_path / "tri.toml"
    cfg.write_text('[triangulation]\nmethod = "robust"\nindividuals = 2\n')
    out = tmp_path / "all.h5"
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "--config", str(cfg), "-o", str(out),
                                   *map(str, files)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert list(load_individuals(out)) == ["individual_0", "individual_1"]
    cfg.write_text('[triangulation]\nindividuals = "most"\n')
    res = CliRunner().invoke(cli, ["triangulate", "-c", str(calib), "--config", str(cfg), "-o",
                                   str(tmp_path / "x.h5"), *map(str, files)])  # fmt: skip
    assert res.exit_code == 1 and "individuals" in res.output and "Traceback" not in res.output
