"""The stage is one function (issue #14): the pipeline and the command line call the same ``run(config, inputs, out,
*, overwrite=False)``, so they write the same files from the same inputs, and every stage refuses to replace an
existing output (or to write over an input) unless told."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import MocapError
from mocap3d.io.pose3d import load_h5
from mocap3d.pipeline import run_project
from mocap3d.pipeline.sample_project import make_sample_project

FRAMES = 90
#: What a triangulation records about where it came from: the pipeline records project-relative paths and the
#: session, the command line absolute paths; everything else (points, solver, units) is the same.
PROVENANCE = {"session", "calibration", "inputs", "sync_offsets"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    """One sample session taken through every stage of the pipeline (never modified: tests copy from it)."""
    root = tmp_path_factory.mktemp("stages") / "project"
    make_sample_project(root, n_sessions=1, n_frames=FRAMES)
    report = run_project(root, workers=0, progress=False)
    assert not report.failed, report.table()
    return next(p.parent.parent for p in root.rglob("pose-3d/*.h5"))


def _calibration(session: Path) -> Path:
    from mocap3d.pipeline.config import Session, find_calibration

    found = find_calibration(Session(session.parent, session))
    assert found is not None
    return found


def _cli(*args) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_pipeline_and_cli_write_identical_outputs(ran, tmp_path):
    session, stem = ran, ran.name
    config = next(p / "config.toml" for p in session.parents if (p / "config.toml").is_file())
    out = tmp_path / "cli"
    # filter2d: the project's [[filter2d]] steps on every camera
    _cli("filter-2d", "--config", config, "--out", out / "pose-2d-filtered", *sorted((session / "pose-2d").iterdir()))
    for theirs in sorted((session / "pose-2d-filtered").iterdir()):
        a, b = load_dlc_points(theirs), load_dlc_points(out / "pose-2d-filtered" / theirs.name)
        np.testing.assert_array_equal(a, b)
    # triangulate: the project's [triangulation] table, frame rate and units
    tri = tmp_path / "tri.toml"
    tri.write_text('[triangulation]\nmethod = "robust"\nreproj_threshold = 15.0\n')
    calibration = _calibration(session)
    _cli("triangulate", "-c", calibration, "--config", tri, "--fps", 60, "--units", "mm",
         "-o", out / "pose-3d" / f"{stem}.h5", *sorted((session / "pose-2d-filtered").iterdir()))  # fmt: skip
    mine, theirs = load_h5(out / "pose-3d" / f"{stem}.h5"), load_h5(session / "pose-3d" / f"{stem}.h5")
    for key in ("points", "error", "ncams", "cameras_used", "score"):
        np.testing.assert_array_equal(getattr(mine, key), getattr(theirs, key), err_msg=key)
    assert mine.keypoints == theirs.keypoints and mine.views == theirs.views and mine.fps == theirs.fps
    strip = lambda meta: {k: v for k, v in meta.items() if k not in PROVENANCE}  # noqa: E731
    assert strip(mine.metadata) == strip(theirs.metadata) and mine.metadata["units"] == "mm"
    assert theirs.metadata["session"] == "day1/walk01" and set(mine.metadata["inputs"]) == set(mine.views)
    # the later stages read the pipeline's own 3D file, so their outputs are the same bytes
    src = session / "pose-3d" / f"{stem}.h5"
    _cli("filter-3d", "--config", config, "--fps", 60, "--out", out / "pose-3d-filtered" / f"{stem}.h5", src)
    filtered = session / "pose-3d-filtered" / f"{stem}.h5"
    np.testing.assert_array_equal(load_h5(out / "pose-3d-filtered" / f"{stem}.h5").points, load_h5(filtered).points)
    assert load_h5(out / "pose-3d-filtered" / f"{stem}.h5").metadata == load_h5(filtered).metadata
    _cli("angles", filtered, "--config", config, "--out", out / "angles" / f"{stem}.csv")
    assert filecmp.cmp(out / "angles" / f"{stem}.csv", session / "angles" / f"{stem}.csv", shallow=False)
    _cli("export", filtered, "--fps", 60, "--units", "mm", "--out", out / "exports" / f"{stem}.trc")
    assert filecmp.cmp(out / "exports" / f"{stem}.trc", session / "exports" / f"{stem}.trc", shallow=False)


def load_dlc_points(path: Path) -> np.ndarray:
    from mocap3d.io.pose2d import load_track2d

    track = load_track2d(path)
    return np.concatenate([track.points.ravel(), track.scores.ravel()])


def _stages(session: Path, tmp_path: Path):
    """(name, run, config, inputs, a fresh output) of the file-level stages, on the session's files (calibrate
    needs board videos: its command's tests check its outputs)."""
    from mocap3d.analysis import angles_stage, export_stage, gait_stage
    from mocap3d.filters import filter2d_stage, filter3d_stage
    from mocap3d.filters.config import step_from_dict
    from mocap3d.sync import SyncConfig, sync_stage
    from mocap3d.triangulation import triangulate_stage

    stem = session.name
    pose2d = tuple(sorted((session / "pose-2d").iterdir()))
    calibration = _calibration(session)
    pose3d = session / "pose-3d-filtered" / f"{stem}.h5"
    median = step_from_dict({"type": "median", "window": 7}, "2d")
    butter = step_from_dict({"type": "butterworth", "cutoff": 6.0, "order": 4}, "3d")
    sync = SyncConfig(method="epipolar", max_offset=5, min_overlap=20, on_ambiguous="use")
    return [
        ("sync", sync_stage.run, sync_stage.SyncStageConfig(sync=sync), sync_stage.SyncInputs(pose2d, calibration),
         tmp_path / "offsets.toml"),
        ("triangulate", triangulate_stage.run, triangulate_stage.TriangulateStageConfig(units="mm"),
         triangulate_stage.TriangulateInputs(calibration, pose2d), tmp_path / "p.h5"),
        ("filter2d", filter2d_stage.run, filter2d_stage.Filter2DStageConfig(steps=(median,)), pose2d[:1],
         tmp_path / "cam.h5"),
        ("filter3d", filter3d_stage.run, filter3d_stage.Filter3DStageConfig(steps=(butter,), fps=60.0), [pose3d],
         tmp_path / "f.h5"),
        ("angles", angles_stage.run, angles_stage.AnglesStageConfig(angles={"knee": ["l_hip", "l_knee", "l_ankle"]}),
         [pose3d], tmp_path / "a.csv"),
        ("gait", gait_stage.run, gait_stage.GaitStageConfig(), [pose3d], tmp_path / "gait"),
        ("export", export_stage.run, export_stage.ExportStageConfig(fps=60.0), [pose3d], tmp_path / "e.trc"),
    ]  # fmt: skip


def _one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.rstrip().endswith((".", ")")), text
    return text


def test_every_stage_refuses_an_input_as_its_output(ran, tmp_path):
    session = tmp_path / ran.name
    shutil.copytree(ran, session)
    for name, run, config, inputs, _ in _stages(session, tmp_path):
        first = next(iter(getattr(inputs, "pose2d", getattr(inputs, "files", inputs))))
        before = first.read_bytes() if first.is_file() else None
        with pytest.raises(MocapError) as exc:
            run(config, inputs, first, overwrite=True)
        assert "input" in _one_sentence(exc) or "not a folder" in str(exc.value), (name, str(exc.value))
        if before is not None:
            assert first.read_bytes() == before, name  # never written over


def test_every_stage_refuses_an_existing_output_without_overwrite(ran, tmp_path):
    session = tmp_path / ran.name
    shutil.copytree(ran, session)
    for name, run, config, inputs, out in _stages(session, tmp_path):
        if name == "gait":  # an existing table of the gait stage's is enough to be refused
            out.mkdir()
            (out / f"{session.name}_events.csv").write_text("event,frame\n")
        else:
            assert run(config, inputs, out) == out, name
        first = out if out.is_file() else next(p for p in sorted(out.iterdir()) if p.is_file())
        stamp = _stamp(first)
        if name.startswith("filter"):  # a filter batch resumes: an existing output is kept, and said so
            lines: list[str] = []
            run(config, inputs, out, report=lines.append)
            assert any("skipped" in line for line in lines), (name, lines)
        else:
            with pytest.raises(MocapError) as exc:
                run(config, inputs, out)
            assert "exists; pass --overwrite" in _one_sentence(exc), (name, str(exc.value))
        assert _stamp(first) == stamp, name
        if name == "gait":
            continue  # the sample walker's feet are not what gait detection needs: replacing is not tried here
        run(config, inputs, out, overwrite=True)
        assert _stamp(first) != stamp, name  # replaced when told


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns
