"""`mocap3d triangulate` and `mocap3d demo` through the real CLI: outputs, and every bad input's message."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import toml
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.io.pose2d import load_track2d, save_dlc
from mocap3d.io.pose3d import load_anipose_csv, load_h5, load_h5_calibration, load_trc
from mocap3d.sample import make_sample, write_sample


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    sample = make_sample(n_frames=60, seed=2)
    files = write_sample(sample, out)
    return sample, files


def run(args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def digest(paths):
    return {Path(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize("suffix", [".csv", ".h5", ".trc"])
def test_triangulate_writes_each_format(recording, tmp_path, suffix):
    sample, files = recording
    out = tmp_path / f"pose3d{suffix}"
    before = digest([files["calibration"], *files["pose2d"]])
    res = run(["triangulate", "-c", files["calibration"], "-o", out, "--fps", 60, "--units", "mm",
               *files["pose2d"]])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "triangulated" in res.output and str(out) in res.output
    assert digest(before) == before  # inputs untouched
    loaded = {".csv": load_anipose_csv, ".h5": load_h5, ".trc": lambda p: load_trc(p, yup=True)}[suffix](out)
    err = np.linalg.norm(loaded.points - sample.truth.points, axis=-1)
    assert np.nanmedian(err) < 15.0
    if suffix == ".h5":
        rig = load_h5_calibration(out)
        np.testing.assert_allclose(rig.K, sample.rig.K)
        assert loaded.metadata["triangulation"]["method"] == "robust"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_methods_and_config_file(recording, tmp_path):
    sample, files = recording
    cfg = tmp_path / "tri.toml"
    cfg.write_text(toml.dumps({"triangulation": {"method": "dlt", "score_threshold": 0.5}}))
    res = run(["triangulate", "-c", files["calibration"], "--config", cfg, "-o", tmp_path / "a.h5",
               *files["pose2d"]])  # fmt: skip
    assert res.exit_code == 0, res.output
    meta = load_h5(tmp_path / "a.h5").metadata["triangulation"]
    assert meta["method"] == "dlt" and meta["score_threshold"] == 0.5
    res = run(["triangulate", "-c", files["calibration"], "--config", cfg, "--method", "robust", "--min-cameras", 3,
               "-o", tmp_path / "b.h5", *files["pose2d"]])  # fmt: skip
    assert res.exit_code == 0, res.output
    b = load_h5(tmp_path / "b.h5")
    assert b.metadata["triangulation"]["method"] == "robust"
    ok = np.isfinite(b.points).all(-1)
    assert (b.ncams[ok] >= 3).all()


def _expect_error(args, *needles):
    res = run(args)
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    for needle in needles:
        assert needle in res.output, res.output
    return res


def test_camera_missing_from_calibration(recording, tmp_path):
    _, files = recording
    stray = tmp_path / "camZ.h5"
    stray.write_bytes(Path(files["pose2d"][0]).read_bytes())
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", files["pose2d"][1], stray],
                  "camZ.h5", "cam1, cam2, cam3, cam4", "--cam-regex")  # fmt: skip
    assert not (tmp_path / "o.csv").exists()


def test_different_frame_counts(recording, tmp_path):
    _, files = recording
    track = load_track2d(files["pose2d"][0])
    track.points, track.scores = track.points[:30], track.scores[:30]
    short = save_dlc(track, tmp_path / "cam1.h5")
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", short, *files["pose2d"][1:]],
                  "different numbers of frames", "cam1: 30")  # fmt: skip


def test_no_body_parts_in_common(recording, tmp_path):
    _, files = recording
    track = load_track2d(files["pose2d"][0])
    track.keypoints = tuple(f"other_{k}" for k in track.keypoints)
    other = save_dlc(track, tmp_path / "cam1.h5")
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", other, *files["pose2d"][1:]],
                  "no body part in common")  # fmt: skip


def test_all_points_below_score_threshold(recording, tmp_path):
    _, files = recording
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", "--score-threshold", 1.5,
                   *files["pose2d"]], "score", "--score-threshold")  # fmt: skip


def test_more_cameras_required_than_given(recording, tmp_path):
    _, files = recording
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", "--min-cameras", 3,
                   *files["pose2d"][:2]], "min_cameras is 3 but only 2 views", "--min-cameras")  # fmt: skip
    assert not (tmp_path / "o.csv").exists()


def test_truncated_and_unreadable_files(recording, tmp_path):
    _, files = recording
    data = Path(files["pose2d"][0]).read_bytes()
    broken = tmp_path / "cam1.h5"
    broken.write_bytes(data[: len(data) // 3])
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", broken, *files["pose2d"][1:]],
                  "cam1.h5")  # fmt: skip
    garbage = tmp_path / "cam2.csv"
    garbage.write_text("not,a\ndeeplabcut,file\n")
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.csv", garbage, files["pose2d"][0]],
                  "cam2.csv")  # fmt: skip


def test_impossible_calibration(recording, tmp_path):
    _, files = recording
    data = toml.loads(Path(files["calibration"]).read_text())
    data["cam_1"]["matrix"][0][0] = -1000.0
    bad = tmp_path / "calibration.toml"
    bad.write_text(toml.dumps(data))
    _expect_error(["triangulate", "-c", bad, "-o", tmp_path / "o.csv", *files["pose2d"]],
                  "impossible calibration values", "cam2", "focal")  # fmt: skip
    bad.write_text("[cam_0]\nname = 'x'\nmatrix = [[1, 0]]\n")
    _expect_error(["triangulate", "-c", bad, "-o", tmp_path / "o.csv", *files["pose2d"]], str(bad))
    _expect_error(["triangulate", "-c", tmp_path / "missing.toml", "-o", tmp_path / "o.csv", *files["pose2d"]],
                  "does not exist")  # fmt: skip


def test_output_problems(recording, tmp_path):
    _, files = recording
    _expect_error(["triangulate", "-c", files["calibration"], "-o", tmp_path / "o.xyz", *files["pose2d"]],
                  "o.xyz", ".csv", ".trc")  # fmt: skip
    _expect_error(["triangulate", "-c", files["calibration"], "-o", files["pose2d"][0], *files["pose2d"]],
                  "is one of the inputs")  # fmt: skip


def test_help_has_examples():
    res = run(["triangulate", "--help"])
    assert res.exit_code == 0 and "Examples" in res.output


def test_filter_steps_in_the_config_run_around_triangulation(recording, tmp_path):
    sample, files = recording
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text(
        '[triangulation]\nmethod = "robust"\n\n'
        '[[filter2d]]\ntype = "median"\nwindow = 7\noffset_threshold = 20.0\n\n'
        '[[filter3d]]\ntype = "butterworth"\ncutoff = 6.0\norder = 4\n'
    )
    plain = tmp_path / "plain.h5"
    filtered = tmp_path / "filtered.h5"
    assert run(["triangulate", "-c", files["calibration"], "-o", plain, "--fps", 60, *files["pose2d"]]).exit_code == 0
    res = run(["triangulate", "-c", files["calibration"], "--config", cfg, "--fps", 60, "-o", filtered,
               *files["pose2d"]])  # fmt: skip
    assert res.exit_code == 0, res.output
    a, b = load_h5(plain), load_h5(filtered)
    assert [s["name"] if "name" in s else s.get("type") for s in b.metadata["filters_2d"]]
    assert b.metadata.get("filters")  # 3D steps record themselves
    err_a = np.linalg.norm(a.points - sample.truth.points, axis=-1)
    err_b = np.linalg.norm(b.points - sample.truth.points, axis=-1)
    assert np.nanpercentile(err_b, 90) < np.nanpercentile(err_a, 90)


def test_outputs_get_ordinary_permissions(recording, tmp_path):
    import os
    import stat

    _, files = recording
    out = tmp_path / "p.csv"
    assert run(["triangulate", "-c", files["calibration"], "-o", out, *files["pose2d"]]).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
