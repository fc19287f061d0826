"""Several individuals after triangulation: filters, angles, gait, export, NWB, movement and sleap-io (issue #18).

Every command runs the single-animal library function on each individual; the
tests compare each individual's output with that function run on the
individual alone, so a mix-up between individuals (or a second implementation
that drifts) fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.multi.output import individual_names_in, load_individuals, read_individuals, save_individuals
from mocap3d.poses import Poses3D

FPS = 60.0


@pytest.fixture(scope="module")
def herd():
    from mocap3d.synthetic.herd import make_herd

    return make_herd(n_individuals=2, n_frames=150, seed=3)


@pytest.fixture(scope="module")
def noisy(herd) -> dict[str, Poses3D]:
    """The herd's true 3D with 3 mm noise and a few holes, as a triangulation would give it."""
    rng = np.random.default_rng(5)
    out = {}
    for name, t in herd.truth.items():
        pts = t.points + rng.normal(0, 3.0, t.points.shape)
        pts[rng.random(pts.shape[:2]) < 0.02] = np.nan
        out[name] = Poses3D(keypoints=t.keypoints, points=pts, fps=FPS, units="mm",
                            views=tuple(herd.rig.names), metadata={"individual": name})  # fmt: skip
    return out


@pytest.fixture
def multi_h5(noisy, tmp_path):
    [path] = save_individuals(noisy, tmp_path / "herd.h5")
    return path


def _run(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in res.output
    return res


# --- which files hold several individuals -------------------------------------------------------------------------


def test_files_with_several_individuals_are_told_apart(noisy, tmp_path):
    from mocap3d.io.exports import save_any_poses3d

    [h5] = save_individuals(noisy, tmp_path / "all.h5")
    [nc] = save_individuals(noisy, tmp_path / "all.nc")
    assert individual_names_in(h5) == individual_names_in(nc) == ["individual_0", "individual_1"]
    one = noisy["individual_0"]
    for suffix in (".h5", ".nc", ".csv", ".trc"):  # the single-animal files keep the single-animal path
        assert individual_names_in(save_any_poses3d(one, tmp_path / f"one{suffix}")) is None
    single_nc = save_individuals({"individual_0": one}, tmp_path / "single.nc")[0]
    assert individual_names_in(single_nc) is None and read_individuals(single_nc) is None
    assert individual_names_in(tmp_path / "missing.h5") is None


# --- filter-3d ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".h5", ".nc"])
def test_filter3d_filters_each_individual_into_one_file(noisy, multi_h5, tmp_path, suffix):
    from mocap3d.filters import apply_filters_3d
    from mocap3d.filters.config import step_from_dict

    out = tmp_path / f"filtered{suffix}"
    res = _run("filter-3d", "--filter", "butterworth", "--cutoff", 6, "--order", 4, "--out", out, multi_h5)
    assert res.exit_code == 0, res.output
    assert "individual_0" in res.output and "individual_1" in res.output
    back = load_individuals(out)
    assert list(back) == list(noisy)
    step = step_from_dict({"type": "butterworth", "cutoff": 6.0, "order": 4}, "3d")
    for name, p in noisy.items():
        alone = apply_filters_3d(p, [step])  # the single-animal function on this individual alone
        np.testing.assert_allclose(back[name].points, alone.points, atol=1e-9)
        assert back[name].metadata["filters"][-1]["name"] == "butterworth"
    # the two individuals are not mixed: each stays within noise of its own truth
    err = [np.nanmedian(np.linalg.norm(back[n].points - noisy[n].points, axis=-1)) for n in noisy]
    cross = np.nanmedian(np.linalg.norm(back["individual_0"].points - noisy["individual_1"].points, axis=-1))
    assert max(err) < 5.0 < 500.0 < cross
    again = _run("filter-3d", "--filter", "butterworth", "--cutoff", 6, "--order", 4, "--out", out, multi_h5)
    assert again.exit_code == 0 and "skipped" in again.output  # resumable: an existing output is kept


def test_filter3d_to_trc_writes_one_file_per_individual(multi_h5, noisy, tmp_path):
    from mocap3d.io.trc import load_trc

    res = _run("filter-3d", "--filter", "median", "--window", 5, "--out", tmp_path / "walk.trc", multi_h5)
    assert res.exit_code == 0, res.output
    for name in noisy:
        back = load_trc(tmp_path / f"walk_{name}.trc")
        assert back.n_frames == noisy[name].n_frames and back.units == "mm"
    assert not (tmp_path / "walk.trc").exists()


# --- angles and gait ----------------------------------------------------------------------------------------------


def test_angles_one_table_per_individual(multi_h5, noisy, tmp_path):
    from mocap3d.analysis.angles import compute_angles, parse_angles

    out = tmp_path / "angles.csv"
    res = _run("angles", multi_h5, "--angle", "l_knee=l_hip,l_knee,l_ankle", "--angle", "r_knee=r_hip,r_knee,r_ankle",
               "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    defs = parse_angles({"l_knee": ["l_hip", "l_knee", "l_ankle"], "r_knee": ["r_hip", "r_knee", "r_ankle"]})
    tables = {}
    for name, p in noisy.items():
        path = tmp_path / f"angles_{name}.csv"
        got = np.genfromtxt(path, delimiter=",", names=True)
        want = compute_angles(p, defs)
        np.testing.assert_allclose(got["l_knee"], want["l_knee"].to_numpy(), atol=1e-6, equal_nan=True)
        tables[name] = got["l_knee"]
    assert not np.allclose(tables["individual_0"], tables["individual_1"], equal_nan=True)
    assert not out.exists()
    again = _run("angles", multi_h5, "--angle", "l_knee=l_hip,l_knee,l_ankle", "-o", out)
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_gait_per_individual(herd, tmp_path):
    truth = {n: Poses3D(keypoints=t.keypoints, points=t.points, fps=FPS, units="mm") for n, t in herd.truth.items()}
    [path] = save_individuals(truth, tmp_path / "walkers.nc")
    out = tmp_path / "gait"
    res = _run("gait", path, "--out", out)
    assert res.exit_code == 0, res.output
    from mocap3d.analysis.gait import GaitConfig, analyze_gait

    for name, p in truth.items():
        strikes = np.genfromtxt(out / f"walkers_{name}_events.csv", delimiter=",", names=True, dtype=None,
                                encoding="utf-8")  # fmt: skip
        alone = analyze_gait(p, GaitConfig())
        assert len(strikes) == len(alone.events) > 0
        assert (out / f"walkers_{name}.png").is_file()


# --- export, NWB, movement ----------------------------------------------------------------------------------------


def test_export_multi_to_nc_and_per_individual_c3d(multi_h5, noisy, tmp_path):
    res = _run("export", multi_h5, "--out", tmp_path / "all.nc")
    assert res.exit_code == 0, res.output
    back = load_individuals(tmp_path / "all.nc")
    for name, p in noisy.items():
        np.testing.assert_array_equal(back[name].points, p.points)
    res = _run("export", multi_h5, "--out", tmp_path / "all.c3d")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.glob("all_*.c3d")) == ["all_individual_0.c3d", "all_individual_1.c3d"]
    res = _run("export", multi_h5, "--to", "trc", "--out", tmp_path / "x.trc")
    assert res.exit_code == 1 and "--to" in res.output


def _few_keypoints(individuals, keep=("pelvis", "l_knee", "r_knee", "head")):
    """The same individuals with four keypoints (pynwb writes one series per keypoint: slow)."""
    out = {}
    for name, p in individuals.items():
        idx = [p.keypoints.index(k) for k in keep]
        out[name] = Poses3D(keypoints=keep, points=p.points[:, idx], fps=p.fps, units=p.units, views=p.views)
    return out


def test_nwb_one_file_per_individual_read_by_pynwb_and_movement(noisy, tmp_path):
    pynwb = pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    noisy = _few_keypoints(noisy)
    written = save_individuals(noisy, tmp_path / "herd.nwb")
    assert [p.name for p in written] == ["herd_individual_0.nwb", "herd_individual_1.nwb"]
    for path, (name, p) in zip(written, noisy.items(), strict=True):
        with pynwb.NWBHDF5IO(str(path), mode="r") as io:
            nwb = io.read()
            assert nwb.identifier == name and nwb.subject.subject_id == name
            est = nwb.processing["behavior"]["PoseEstimation"]
            assert est.skeleton.subject.subject_id == name
            series = est.pose_estimation_series["l_knee"]
            assert series.unit == "meters" and series.conversion == 0.001 and series.rate == FPS
            np.testing.assert_array_equal(np.asarray(series.data), p.points[:, p.keypoints.index("l_knee")])
    load_poses = pytest.importorskip("movement.io.load_poses")
    import xarray as xr

    # movement's documented multi-individual read: one file per individual, merged
    ds = xr.merge([load_poses.from_nwb_file(p) for p in written], join="outer", compat="no_conflicts")
    assert sorted(ds["individuals"].values) == ["individual_0", "individual_1"]
    for name, p in noisy.items():
        got = ds["position"].sel(individuals=name, keypoints=list(p.keypoints)).transpose("time", "keypoints", "space")
        np.testing.assert_array_equal(got.values, p.points)


def test_nwb_with_several_pose_estimations_is_several_individuals(noisy, tmp_path):
    pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    noisy = _few_keypoints(noisy)
    from mocap3d.io.nwb import _write

    first = noisy["individual_0"]
    inds = [(n, p.points, np.where(np.isfinite(p.points).all(-1), 1.0, np.nan)) for n, p in noisy.items()]
    path = _write(tmp_path / "both.nwb", inds, first.keypoints, "meters", 0.001, {"rate": FPS, "starting_time": 0.0},
                  "two walkers")  # fmt: skip
    assert individual_names_in(path) == ["individual_0", "individual_1"]
    back = load_individuals(path)
    for name, p in noisy.items():
        np.testing.assert_array_equal(back[name].points, p.points)
        assert back[name].units == "mm"


def test_movement_reads_our_multi_netcdf_and_computes_per_individual_kinematics(noisy, tmp_path):
    kinematics = pytest.importorskip("movement.kinematics", reason="movement is not installed")
    import xarray as xr

    [path] = save_individuals(noisy, tmp_path / "herd.nc")
    ds = xr.open_dataset(path, engine="h5netcdf")  # movement's netCDF reading (movement.io.load_dataset's engine)
    speed = kinematics.compute_speed(ds["position"])
    for name, p in noisy.items():
        k = p.keypoints.index("pelvis")
        v = np.gradient(p.points[:, k], 1.0 / FPS, axis=0)
        got = speed.sel(individuals=name, keypoints="pelvis").values
        ok = np.isfinite(got) & np.isfinite(v).all(-1)
        np.testing.assert_allclose(got[ok], np.linalg.norm(v[ok], axis=-1), rtol=1e-6)
    ds.close()


def test_slp_with_tracks_round_trip_then_triangulate_individuals(herd, tmp_path):
    """Multi-animal 2D as SLEAP .slp (one track per label, labels swapped per camera) -> sleap-io -> 3D of each."""
    sio = pytest.importorskip("sleap_io")
    from mocap3d.io.calibration import save_calibration
    from mocap3d.io.sleap import load_slp, save_slp
    from mocap3d.poses import Track2D

    calib = save_calibration(herd.rig, tmp_path / "calibration.toml")
    files = []
    for v, cam in enumerate(herd.rig.names):
        track = Track2D(points=herd.points[v], scores=herd.scores[v], keypoints=herd.keypoints,
                        individuals=("mouse1", "mouse2"), source=cam)  # fmt: skip
        path = save_slp(track, tmp_path / f"{cam}.slp")
        labels = sio.load_slp(str(path))  # sleap-io's own reader
        assert [t.name for t in labels.tracks] == ["mouse1", "mouse2"]
        back = load_slp(path)
        assert back.individuals == ("mouse1", "mouse2")
        np.testing.assert_allclose(back.points, track.points, rtol=1e-6)
        files.append(path)
    out = tmp_path / "herd.h5"
    res = _run("triangulate", "-c", calib, "--fps", FPS, "--individuals", "2", "-o", out, *files)
    assert res.exit_code == 0, res.output
    got = load_individuals(out)
    for truth in herd.truth.values():
        errs = sorted(np.nanmedian(np.linalg.norm(p.points - truth.points, axis=-1)) for p in got.values())
        assert errs[0] < 20.0 < 500.0 < errs[1]


# --- viewer -------------------------------------------------------------------------------------------------------


def test_viewer_colours_individuals_apart(noisy, tmp_path):
    import os

    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    pytest.importorskip("pyvista")
    from mocap3d.viewer import ViewerConfig, individual_colors
    from mocap3d.viewer.scene import SkeletonScene

    rig = _look_at(noisy)
    cfg = ViewerConfig(show_floor=False, trail_frames=0, frame_label=False, point_size=12, show_cameras=False)
    frame = 10
    try:
        scene = SkeletonScene(noisy, rig=rig, config=cfg, off_screen=True)
    except Exception as exc:  # no OpenGL context at all on this machine
        pytest.skip(f"offscreen rendering unavailable: {exc}")
    try:
        scene.view_from_camera(rig, 0)
        scene.set_frame(frame)
        img = scene.screenshot()
    finally:
        scene.close()
    palette = individual_colors(2)
    assert np.linalg.norm(palette[0] - palette[1]) > 0.5
    found = []
    for i, (name, p) in enumerate(noisy.items()):
        uv = rig.project(p.points[frame], distort=False)[0]
        hits = []
        for u, v in uv[np.isfinite(uv).all(-1)]:
            ui, vi = int(round(u)), int(round(v))
            if not (3 <= ui < img.shape[1] - 3 and 3 <= vi < img.shape[0] - 3):
                continue
            patch = img[vi - 2 : vi + 3, ui - 2 : ui + 3].reshape(-1, 3) / 255.0
            d_own = np.linalg.norm(patch - palette[i], axis=-1).min()
            d_other = np.linalg.norm(patch - palette[1 - i], axis=-1).min()
            hits.append(d_own < 0.35 and d_own < d_other)
        assert len(hits) >= 8, f"{name}: too few keypoints in the picture"
        found.append(np.mean(hits))
    assert min(found) > 0.7, found  # most keypoints of each walker are drawn in that walker's own colour
    # the command line renders a multi-individual file too
    [path] = save_individuals(noisy, tmp_path / "herd.h5")
    res = _run("view", path, "--out", tmp_path / "herd.png", "--size", "320x240", "--frame", 5)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "herd.png").stat().st_size > 0


def _look_at(individuals):
    """One camera 8 m away looking at the walkers' centre (a 640x480 pinhole)."""
    from mocap3d.camera import CameraRig, rotation_to_rodrigues

    pts = np.concatenate([p.points[10] for p in individuals.values()])
    target = np.nanmean(pts, axis=0)
    center = target + np.array([0.0, -8000.0, 3000.0])
    z = (target - center) / np.linalg.norm(target - center)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    r = np.stack([x, y, z])
    k = np.array([[500.0, 0, 320.0], [0, 500.0, 240.0], [0, 0, 1.0]])
    return CameraRig(names=("top",), sizes=[[640, 480]], K=[k], dist=np.zeros((1, 5)),
                     rvec=rotation_to_rodrigues(r[None]), tvec=(-r @ center)[None])  # fmt: skip


# --- outlier frames for labelling ---------------------------------------------------------------------------------


def test_outliers_compare_each_detection_with_the_nearest_individual(tmp_path):
    """Labels swapped per camera: only the planted 2D error counts, not the detections of the other walker."""
    import cv2

    from mocap3d.io.calibration import save_calibration
    from mocap3d.io.pose2d import save_dlc
    from mocap3d.label.outliers import OutlierConfig, find_outlier_frames, reprojection_errors_individuals
    from mocap3d.poses import Track2D
    from mocap3d.synthetic.herd import make_herd

    herd = make_herd(n_individuals=2, n_frames=60, seed=4, noise_px=0.3, outlier_fraction=0.0, missing_rate=0.0,
                     swap_rate=0.1)  # fmt: skip
    points = herd.points.copy()
    slot = int(np.flatnonzero(np.isfinite(points[1, 40, :, 3]).all(-1))[-1])
    points[1, 40, slot, 3] += [30.0, 40.0]  # 50 px off in camera 1, frame 40
    keypoints = herd.keypoints
    cfg = OutlierConfig(jump_px=1e9, min_likelihood=0.0, max_reproj_px=10.0, n_frames=5, min_gap=1)
    err = reprojection_errors_individuals(herd.truth, herd.rig, points, keypoints)
    picked = find_outlier_frames(points, herd.scores, err, cfg)
    assert picked.frames.tolist() == [40] and picked.counts["reprojection"][40] == 1
    # one individual's 3D against every slot (the single-animal rule, slot 0) flags the other walker's detections
    from mocap3d.label.outliers import reprojection_errors

    single = np.full(points.shape[:-1], np.nan)
    single[:, :, 0] = reprojection_errors(herd.truth["individual_0"].points, herd.rig, points[:, :, 0])
    assert (find_outlier_frames(points, herd.scores, single, cfg).counts["reprojection"] > 0).sum() > 5

    # the command line reads the several-individual 3D file and does the same
    calib = save_calibration(herd.rig, tmp_path / "calibration.toml")
    args = ["outliers", tmp_path / "project", "-c", calib, "--poses3d",
            save_individuals(herd.truth, tmp_path / "herd.h5")[0], "--jump", 1e9, "--likelihood", 0, "--min-gap", 1]
    for v, cam in enumerate(herd.rig.names):
        video = tmp_path / f"trial_{cam}.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
        for f in range(points.shape[1]):
            writer.write(np.full((48, 64, 3), 2 * f, np.uint8))
        writer.release()
        track = Track2D(points[v], herd.scores[v], keypoints, ("a", "b"), source=cam)
        args += ["--video", video, "--pose2d", save_dlc(track, tmp_path / f"trial_{cam}DLC.h5")]
    res = _run(*args)
    assert res.exit_code == 0, res.output
    assert "1 frames extracted (jump 0, likelihood 0, reprojection 1)" in res.output


# --- bad input: one sentence, exit 1 ------------------------------------------------------------------------------


def test_bad_multi_inputs_are_one_sentence(multi_h5, tmp_path):
    import h5py

    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(multi_h5.read_bytes())
    with h5py.File(damaged, "a") as f:
        del f["points"]
    for args in (["filter-3d", "--filter", "median", "--window", 5, "--out", tmp_path / "f.h5", damaged],
                 ["angles", damaged, "--angle", "k=l_hip,l_knee,l_ankle", "-o", tmp_path / "a.csv"],
                 ["gait", damaged, "--out", tmp_path / "gait"],
                 ["export", damaged, "--out", tmp_path / "e.nc"],
                 ["view", damaged, "--out", tmp_path / "v.png"],
                 ["export", multi_h5, "--out", tmp_path / "e.xyz"],
                 ["angles", multi_h5, "--angle", "k=l_hip,nose,l_ankle", "-o", tmp_path / "b.csv"]):  # fmt: skip
        res = _run(*args)
        assert res.exit_code == 1, (args, res.output)
        assert res.output.startswith("Error:") and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "b_individual_0.csv").exists()


@pytest.mark.parametrize("fmt", ["dlc", "sleap"])
def test_movement_reads_our_multi_animal_2d_files(herd, tmp_path, fmt):
    """Our multi-animal 2D writers (DeepLabCut .h5 with individuals, SLEAP analysis with tracks), read by movement."""
    load_poses = pytest.importorskip("movement.io.load_poses")
    from mocap3d.io.pose2d import save_dlc
    from mocap3d.io.sleap import save_sleap_analysis
    from mocap3d.poses import Track2D

    track = Track2D(points=herd.points[0], scores=herd.scores[0], keypoints=herd.keypoints,
                    individuals=("mouse1", "mouse2"))  # fmt: skip
    if fmt == "dlc":
        ds = load_poses.from_dlc_file(save_dlc(track, tmp_path / "cam1DLC.h5"), fps=FPS)
    else:
        ds = load_poses.from_sleap_file(save_sleap_analysis(track, tmp_path / "cam1.analysis.h5"), fps=FPS)
    assert list(ds["individuals"].values) == ["mouse1", "mouse2"]
    got = ds["position"].sel(keypoints=list(herd.keypoints)).transpose("time", "individuals", "keypoints", "space")
    np.testing.assert_allclose(got.values, track.points, rtol=1e-6)
