"""The pipeline's 'train' stage: a project's network trained once, from its labelled frames, for every session."""

from __future__ import annotations

import json

import _nn_scene as scene

from mocap3d.nn.project import create_project, load_project
from mocap3d.pipeline import run_project
from mocap3d.pipeline.sample_project import make_sample_project


def _label(net, kps, images):
    scene.label_frames(net, images, kps)


def _train_statuses(root) -> list[str]:
    report = run_project(root, stages=["train"], workers=0, progress=False)
    assert not report.failed, report.table()
    return [next(o.status for o in s.stages if o.stage == "train") for s in report.sessions]


def test_train_stage_trains_once_for_all_sessions_and_again_when_labels_change(tmp_path):
    root = tmp_path / "project"
    make_sample_project(root, n_sessions=2, n_frames=40, groups=0)
    net = root / "net"
    images, kps = scene.frames(6, seed=3)
    _label(net, kps, images)
    create_project(net / "project.toml", "toy", ["head", "tail"], scorer="tester")
    project = load_project(net / "project.toml")
    project.network = scene.tiny_config(3)
    project.train_fraction = 1.0
    project.save()
    config = root / "config.toml"
    config.write_text(config.read_text() + '\n[network]\nproject = "net/project.toml"\n')

    # the first session trains it; the second finds the shared record complete
    assert _train_statuses(root) == ["done", "skipped"]
    model = net / "models" / "toy" / "model.pt"
    record = json.loads((net / ".mocap3d" / "train.json").read_text())
    assert list(record["outputs"]) == ["net/models/toy/model.pt"] and "net/project.toml" in record["inputs"]
    assert not (root / "walk01" / ".mocap3d" / "train.json").exists()
    stamp = model.stat().st_mtime_ns
    assert _train_statuses(root) == ["skipped", "skipped"]
    assert model.stat().st_mtime_ns == stamp

    # corrected labels: trained again (from scratch, not resumed from the finished run), once
    _label(net, kps + 1.0, images)
    assert _train_statuses(root) == ["done", "skipped"]
    assert model.stat().st_mtime_ns != stamp
    assert json.loads((net / ".mocap3d" / "train.json").read_text())["summary"][0].startswith("trained")

    # no [network] project: nothing to train
    config.write_text(config.read_text().replace('project = "net/project.toml"', 'model = "net/models/toy"'))
    assert _train_statuses(root) == ["not needed", "not needed"]


def test_a_missing_network_project_is_one_sentence(tmp_path):
    root = tmp_path / "project"
    make_sample_project(root, n_sessions=1, n_frames=40, groups=0)
    config = root / "config.toml"
    config.write_text(config.read_text() + '\n[network]\nproject = "nowhere/project.toml"\n')
    report = run_project(root, stages=["train"], workers=0, progress=False)
    (failed,) = report.failed
    assert "nowhere/project.toml" in failed.error and "mocap3d project create" in failed.error
