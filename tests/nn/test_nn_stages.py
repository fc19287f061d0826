"""The train and analyze stages (issue #14): ``mocap3d train``/``mocap3d analyze`` and the project pipeline call the
same ``run(config, inputs, out, *, overwrite=False)``; training resumes or keeps without ``overwrite`` and starts
afresh with it; analysis skips finished videos unless ``overwrite`` and never writes over an input."""

from __future__ import annotations

import json
import shutil

import _nn_scene as scene
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import MocapError
from mocap3d.io.pose2d import load_track2d
from mocap3d.nn import analyze_stage, train_stage
from mocap3d.nn.analyze_stage import AnalyzeInputs, AnalyzeStageConfig
from mocap3d.nn.train_stage import TrainStageConfig, default_model_dir

torch.set_num_threads(2)
ITERATIONS = 6  # the toy network's checkpoint_every is 5: snapshots at 5 and 6


def _cli(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _weights(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _same_network(a, b) -> None:
    sa, sb = _weights(a), _weights(b)
    assert sa["iteration"] == sb["iteration"] and sa["losses"] == sb["losses"]
    assert sa["model"].keys() == sb["model"].keys()
    for key in sa["model"]:
        torch.testing.assert_close(sa["model"][key], sb["model"][key], rtol=0, atol=0, msg=key)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A toy project trained through the command line into its default folder (never modified by the tests)."""
    root = tmp_path_factory.mktemp("toy")
    toml_path, video, kps = scene.toy_project(root, ITERATIONS)
    out = _cli("train", toml_path)
    assert f"trained {ITERATIONS} iterations" in out and "started from random weights" in out
    model = root / "models" / "toy" / "model.pt"
    assert default_model_dir(toml_path) == model.parent and model.is_file()
    return toml_path, video, model


def test_train_cli_and_stage_train_the_same_network(toy, tmp_path):
    toml_path, _, model = toy
    lines: list[str] = []
    written = train_stage.run(TrainStageConfig(progress=False), toml_path, tmp_path / "net", report=lines.append)
    assert written == tmp_path / "net" / "model.pt"
    _same_network(written, model)
    assert sorted(p.name for p in written.parent.iterdir()) == sorted(p.name for p in model.parent.iterdir())
    assert lines[0] == "started from random weights" and lines[1].startswith(f"trained {ITERATIONS} iterations")
    assert lines[-1] == f"wrote {written}"
    # the command's overrides are the config's
    out = _cli("train", toml_path, "--out", tmp_path / "cli4", "--iterations", 4, "--batch-size", 2)
    train_stage.run(TrainStageConfig(iterations=4, batch_size=2, progress=False), toml_path, tmp_path / "stage4")
    assert "trained 4 iterations" in out
    _same_network(tmp_path / "cli4" / "model.pt", tmp_path / "stage4" / "model.pt")


def test_train_resumes_without_overwrite_and_starts_afresh_with_it(toy, tmp_path):
    toml_path, _, model = toy
    out = tmp_path / "net"
    config = TrainStageConfig(iterations=4, progress=False)
    train_stage.run(config, toml_path, out)
    stamp = (out / "model.pt").stat().st_mtime_ns
    # finished: kept, not trained again
    lines: list[str] = []
    train_stage.run(config, toml_path, out, report=lines.append)
    assert "(resumed at 4)" in lines[1] and (out / "model.pt").stat().st_mtime_ns == stamp
    assert lines[-1] == f"kept {out / 'model.pt'}: trained to the end already (--fresh to train it again)"
    # more iterations: continued from the snapshot
    lines.clear()
    train_stage.run(config.replace(iterations=ITERATIONS), toml_path, out, report=lines.append)
    assert lines[0] == "started from snapshot snapshot-0000004.pt (iteration 4)" and "(resumed at 4)" in lines[1]
    assert _weights(out / "model.pt")["iteration"] == ITERATIONS
    # overwrite: the old snapshots go, and the network is the one a first run trains
    lines.clear()
    train_stage.run(config.replace(iterations=ITERATIONS), toml_path, out, overwrite=True, report=lines.append)
    assert "resumed" not in lines[1] and not (out / "snapshot-0000004.pt").exists()
    _same_network(out / "model.pt", model)
    # a network without snapshots cannot be resumed: refused, kept
    for snapshot in out.glob("snapshot-*.pt"):
        snapshot.unlink()
    stamp = (out / "model.pt").stat().st_mtime_ns
    with pytest.raises(MocapError, match="no snapshot to resume from; pass --fresh"):
        train_stage.run(config, toml_path, out)
    assert (out / "model.pt").stat().st_mtime_ns == stamp
    result = CliRunner().invoke(cli, ["train", str(toml_path), "--out", str(out)])
    assert result.exit_code == 1 and "no snapshot" in result.output and "Traceback" not in result.output


def test_train_refuses_an_input_as_its_output(toy, tmp_path):
    toml_path, _, model = toy
    before = toml_path.read_bytes()
    with pytest.raises(MocapError, match="not a folder"):
        train_stage.run(TrainStageConfig(progress=False), toml_path, toml_path, overwrite=True)
    assert toml_path.read_bytes() == before
    copy = tmp_path / "net" / "model.pt"
    copy.parent.mkdir()
    shutil.copy(model, copy)
    with pytest.raises(MocapError, match="is the model.pt this training writes"):
        train_stage.run(TrainStageConfig(init_from=copy, progress=False), toml_path, copy.parent, overwrite=True)
    _same_network(copy, model)


def test_analyze_cli_and_stage_write_the_same_files(toy, tmp_path):
    toml_path, video, model = toy
    _cli("analyze", "-p", toml_path, "-o", tmp_path / "cli", "--backend", "torch", video)
    lines: list[str] = []
    config = AnalyzeStageConfig(backend="torch", progress=False)
    out = analyze_stage.run(config, AnalyzeInputs((video,), toml_path), tmp_path / "stage", report=lines.append)
    assert out == tmp_path / "stage" and len(lines) == 1 and lines[0].startswith("cam-A.avi: 8 frames")
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert names == sorted(p.name for p in out.iterdir()) == ["cam-ADLC_mocap3d_hrnet.csv",
                                                              "cam-ADLC_mocap3d_hrnet.h5"]  # fmt: skip
    assert (out / names[0]).read_bytes() == (tmp_path / "cli" / names[0]).read_bytes()
    a, b = load_track2d(out / names[1]), load_track2d(tmp_path / "cli" / names[1])
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.scores, b.scores)
    # without --out: beside each video; the network alone (--model, no project) names the body parts
    beside = tmp_path / "videos" / video.name
    beside.parent.mkdir()
    shutil.copy(video, beside)
    _cli("analyze", "--model", model.parent, "--backend", "torch", "--no-csv", beside)
    np.testing.assert_array_equal(load_track2d(beside.parent / names[1]).points, a.points)
    assert load_track2d(beside.parent / names[1]).keypoints == ("head", "tail")


def test_analyze_skips_existing_outputs_unless_overwrite_and_never_writes_over_an_input(toy, tmp_path):
    toml_path, video, _ = toy
    config = AnalyzeStageConfig(backend="torch", save_csv=False, progress=False)
    inputs = AnalyzeInputs((video,), toml_path)
    analyze_stage.run(config, inputs, tmp_path)
    h5 = tmp_path / "cam-ADLC_mocap3d_hrnet.h5"
    stamp = h5.stat().st_mtime_ns
    lines: list[str] = []
    analyze_stage.run(config, inputs, tmp_path, report=lines.append)
    assert lines == [f"cam-A.avi: {h5} exists, skipped (--overwrite to redo)"] and h5.stat().st_mtime_ns == stamp
    assert "skipped" in _cli("analyze", "-p", toml_path, "-o", tmp_path, "--no-csv", video)
    analyze_stage.run(config, inputs, tmp_path, overwrite=True)
    assert h5.stat().st_mtime_ns != stamp
    # a video as the output folder (a shell wildcard), two videos into one name, a file of another kind
    before = video.read_bytes()
    with pytest.raises(MocapError, match="is a file \\(a video\\), not a folder"):
        analyze_stage.run(config, inputs, video, overwrite=True)
    assert video.read_bytes() == before
    twin = tmp_path / "other" / video.name
    twin.parent.mkdir()
    shutil.copy(video, twin)
    with pytest.raises(MocapError, match="would both be analysed into"):
        analyze_stage.run(config, AnalyzeInputs((video, twin), toml_path), tmp_path / "both")
    assert not (tmp_path / "both").exists()
    table = tmp_path / "tables"
    table.mkdir()
    (table / "cam-ADLC_mocap3d_hrnet.h5").write_bytes(b"not HDF5")  # not a 2D pose file of ours
    with pytest.raises(MocapError, match="does not replace it, even with --overwrite"):
        analyze_stage.run(config, inputs, table, overwrite=True)
    # the labelled video of an input video is never written over
    labelled = tmp_path / "lab" / "cam-ADLC_mocap3d_hrnet_labeled.mp4"
    labelled.parent.mkdir()
    shutil.copy(video, labelled)
    with pytest.raises(MocapError, match="one of the inputs"):
        analyze_stage.run(config.replace(labelled_video=True), AnalyzeInputs((video, labelled), toml_path),
                          labelled.parent, overwrite=True)  # fmt: skip
    assert labelled.read_bytes() == before


def test_pipeline_trains_and_analyses_through_the_stages(toy, tmp_path, monkeypatch):
    from mocap3d.pipeline import run_project
    from mocap3d.pipeline.sample_project import make_sample_project

    _, video, _ = toy
    root = tmp_path / "project"
    (session,) = make_sample_project(root, n_sessions=1, n_frames=40, groups=0)
    net_toml, _, _ = scene.toy_project(root / "net", ITERATIONS)
    shutil.rmtree(session / "pose-2d")
    (session / "videos-raw").mkdir()
    shutil.copy(video, session / "videos-raw" / "cam1.avi")
    config = root / "config.toml"
    config.write_text(config.read_text() + '\n[network]\nproject = "net/project.toml"\nbackend = "torch"\n')
    calls: list[tuple[str, object]] = []

    def spy(name, run):
        def wrapped(config, inputs, out, **kwargs):
            calls.append((name, out))
            return run(config, inputs, out, **kwargs)

        return wrapped

    monkeypatch.setattr(train_stage, "run", spy("train", train_stage.run))
    monkeypatch.setattr(analyze_stage, "run", spy("analyze", analyze_stage.run))
    report = run_project(root, stages=["train", "analyze"], workers=0, progress=False)
    assert not report.failed, report.table()
    model_dir = root / "net" / "models" / "toy"
    assert calls == [("train", model_dir), ("analyze", session / "pose-2d")]
    summary = json.loads((root / "net" / ".mocap3d" / "train.json").read_text())["summary"]
    assert summary[0].startswith(f"trained {ITERATIONS} iterations, final loss") and len(summary) == 1
    _same_network(model_dir / "model.pt", toy[2])  # the same project trained by the command line
    mine = tmp_path / "mine"
    analyze_stage.run(AnalyzeStageConfig(model=model_dir, backend="torch", progress=False),
                      AnalyzeInputs((session / "videos-raw" / "cam1.avi",)), mine)  # fmt: skip
    theirs = load_track2d(session / "pose-2d" / "cam1.h5")
    np.testing.assert_array_equal(theirs.points, load_track2d(mine / "cam1DLC_mocap3d_hrnet.h5").points)
    assert sorted(p.name for p in (session / "pose-2d").iterdir()) == ["cam1.h5"]
