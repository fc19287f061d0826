"""2D networks end to end through the CLI on a synthetic project, and the DeepLabCut project import.

The synthetic frames' keypoints are the exact disc centres drawn into them (tests/_nn_scene.py), so every
error below is against ground truth. One tiny network is trained once (through ``mocap3d train``) and
then evaluated, exported and used to analyse a lossless video of the labelled frames.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import _nn_scene as scene
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.io.labels import LabelSet, load_labels, load_predictions, merge_labels
from mocap3d.io.pose2d import load_track2d
from mocap3d.nn.project import load_project
from mocap3d.nn.run import evaluate_project
from mocap3d.nn.videos import video_info

torch.set_num_threads(2)
N_FRAMES = 8


def _invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("nn-project")
    images, kps = scene.frames(N_FRAMES, seed=3)
    scene.label_frames(root, images, kps)  # DeepLabCut's names
    video = root / "videos" / "cam-A.avi"
    scene.write_video(video, images)
    toml_path = root / "project.toml"
    out = _invoke("project", "create", toml_path, "--name", "toy", "--bodyparts", "head,tail", "--skeleton",
                  "head-tail", "--scorer", "tester", "videos/cam-A.avi")
    assert "2 body parts" in out
    project = load_project(toml_path)
    project.network = scene.tiny_config(140)
    project.train_fraction = 0.75  # 6 train, 2 test images
    project.save()
    out = _invoke("train", toml_path)
    assert "trained 140 iterations" in out
    return root, toml_path, video, kps


def test_tiny_network_overfits_synthetic_frames_and_a_rerun_does_not_retrain(trained):
    root, toml_path, _, _ = trained
    model = root / "models" / "toy" / "model.pt"
    stamp = model.stat().st_mtime_ns
    out = _invoke("train", toml_path)
    assert "resumed at 140" in out and model.stat().st_mtime_ns == stamp
    report = evaluate_project(load_project(toml_path), plots=False)
    assert report.evaluation.train.n_images == 6 and report.evaluation.test.n_images == 2
    assert report.evaluation.train.mean_error < 1.5  # an untrained network is off by tens of pixels
    assert report.evaluation.train.rms >= report.evaluation.train.mean_error


def test_evaluate_cli_writes_summary_and_pictures(trained, tmp_path):
    _, toml_path, _, _ = trained
    out = _invoke("evaluate", toml_path, "--out", tmp_path)
    assert "train: 6 images, mean error" in out and "test: 2 images" in out
    assert (tmp_path / "evaluation.txt").is_file()
    pics = sorted(p.name for p in (tmp_path / "predictions").glob("*.png"))
    assert len(pics) == N_FRAMES and sum(p.startswith("test_") for p in pics) == 2


def test_analyze_writes_dlc_files_that_the_triangulation_reads(trained, tmp_path):
    root, toml_path, video, kps = trained
    out = _invoke("analyze", "-p", toml_path, "-o", tmp_path, "--backend", "torch", "--labelled-video", video)
    h5 = tmp_path / "cam-ADLC_mocap3d_hrnet.h5"
    assert f"{N_FRAMES} frames" in out and h5.is_file() and h5.with_suffix(".csv").is_file()
    track = load_track2d(h5)  # the reader mocap3d triangulate uses
    assert track.keypoints == ("head", "tail") and track.n_frames == N_FRAMES
    err = np.linalg.norm(track.points[:, 0] - kps, axis=-1)
    assert np.median(err) < 1.5
    np.testing.assert_allclose(load_track2d(h5.with_suffix(".csv")).points, track.points, atol=1e-6)
    labelled = tmp_path / "cam-ADLC_mocap3d_hrnet_labeled.mp4"
    assert video_info(labelled)[:2] == (96, 80)
    from mocap3d.io.video import video_codec

    assert video_codec(labelled) == {"codec": "h264", "pix_fmt": "yuv420p", "faststart": "yes"}  # browsers play it
    # a second run skips the finished video
    assert "skipped" in _invoke("analyze", "-p", toml_path, "-o", tmp_path, video)
    # ONNX Runtime gives the same keypoints
    onnx_dir = tmp_path / "onnx"
    _invoke("analyze", "-p", toml_path, "-o", onnx_dir, "--backend", "onnx", "--no-csv", video)
    np.testing.assert_allclose(load_track2d(onnx_dir / h5.name).points, track.points, atol=0.05)
    # the default (auto) is ONNX Runtime on the CPU: model.onnx beside the model, the same keypoints
    auto_dir = tmp_path / "auto"
    _invoke("analyze", "-p", toml_path, "-o", auto_dir, "--no-csv", video)
    assert (root / "models" / "toy" / "model.onnx").is_file()
    np.testing.assert_allclose(load_track2d(auto_dir / h5.name).points, track.points, atol=0.05)


def test_auto_backend_is_onnx_on_the_cpu_and_torch_elsewhere(trained, tmp_path, monkeypatch):
    import shutil

    from mocap3d.nn.videos import _auto_backend

    root, *_ = trained
    model = tmp_path / "m" / "model.pt"
    model.parent.mkdir()
    shutil.copy(root / "models" / "toy" / "model.pt", model)
    assert _auto_backend(model, "cpu") == "onnx"
    assert _auto_backend(model, "cuda:0") == "torch"
    # a shared, read-only model folder (root ignores file modes, so the check is what is replaced)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert _auto_backend(model, "cpu") == "torch"


def test_export_onnx_cli(trained, tmp_path):
    root, *_ = trained
    out = _invoke("export-onnx", root / "models" / "toy" / "model.pt", "--out", tmp_path / "toy.onnx", "--size",
                  "96x80")
    assert (tmp_path / "toy.onnx").stat().st_size > 10_000 and "wrote" in out
    result = CliRunner().invoke(cli, ["export-onnx", str(root / "models" / "toy" / "model.pt"), "--size", "big"])
    assert result.exit_code != 0 and "WIDTHxHEIGHT" in result.output


def test_extract_frames_uniform_and_kmeans(trained, tmp_path):
    _, _, video, _ = trained
    _invoke("extract-frames", "-o", tmp_path / "u", "--method", "uniform", "--n", 4, video)
    folder = tmp_path / "u" / "labeled-data" / "cam-A"
    assert sorted(p.name for p in folder.glob("*.png")) == ["img0.png", "img2.png", "img5.png", "img7.png"]
    first = cv2.imread(str(folder / "img2.png"))
    assert first.shape == (80, 96, 3)
    index = (folder / "frames.csv").read_text().splitlines()
    assert index[0] == "image,frame,time_s" and index[2].startswith("img2.png,2,0.2")
    _invoke("extract-frames", "-o", tmp_path / "k", "--method", "kmeans", "--n", 3, video)
    assert len(list((tmp_path / "k" / "labeled-data" / "cam-A").glob("*.png"))) == 3


def test_analysis_feeds_outlier_extraction_and_corrections_merge_back(trained, tmp_path):
    """The network's .h5 goes through ``mocap3d outliers`` (the labelling tool's active-learning step)."""
    root, toml_path, video, kps = trained
    h5 = tmp_path / "cam-ADLC_mocap3d_hrnet.h5"
    _invoke("analyze", "-p", toml_path, "-o", tmp_path, "--no-csv", video)
    # a likelihood bound above 1 flags every frame: 3 frames, at least 3 apart
    _invoke("outliers", root, "--video", video, "--pose2d", h5, "--n-frames", 3, "--likelihood", 1.01,
            "--min-gap", 3)
    folder = root / "labeled-data" / "cam-A"
    machine = load_predictions(folder / "machinelabels-iter0.h5")
    assert len(machine.images) == 3
    rows = [int(re.search(r"(\d+)\.png$", name).group(1)) for name in machine.images]
    np.testing.assert_allclose(machine.points[:, 0], load_track2d(h5).points[rows, 0], atol=1e-6)
    # corrections merge into the training set (io.labels.merge_labels), labels not corrected stay
    fixed = machine.points.copy()
    fixed[1, 0, 0] = [50.0, 40.0]
    base = load_labels(folder / "CollectedData_tester.h5")
    merged = merge_labels(base, LabelSet(machine.images, machine.bodyparts, ("single",), fixed, "tester"))
    assert len(merged.images) == N_FRAMES
    np.testing.assert_allclose(merged.points[rows[1], 0, 0], [50.0, 40.0])
    untouched = [i for i in range(N_FRAMES) if i not in rows]
    np.testing.assert_allclose(merged.points[untouched, 0], kps[untouched])


def test_import_deeplabcut_openfield(dataset, tmp_path):
    dlc = dataset("deeplabcut/examples/openfield-Pranav-2018-10-30")
    out = _invoke("project", "import", dlc, "--out", tmp_path, "--preset", "scratch")
    assert "4 body parts (snout, leftear, rightear, tailbase), 1 label files" in out
    project = load_project(tmp_path / "project.toml")
    assert project.symmetric_pairs == [("leftear", "rightear")]
    assert project.train_fraction == 0.95 and project.pcutoff == 0.4 and project.scorer == "Pranav"
    assert project.network.model.backbone == "hrnet"
    assert project.video_paths()[0].is_file()
    data = project.training_set()
    assert len(data) == 116 and data.images[0].shape == (480, 640, 3)
    labels = load_labels(dlc / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5")
    np.testing.assert_array_equal(data.keypoints, labels.points[:, 0])


def test_cli_errors_are_messages(tmp_path):
    result = CliRunner().invoke(cli, ["train", str(tmp_path)])
    assert result.exit_code == 1 and "project.toml" in result.output and "Traceback" not in result.output
    bad = tmp_path / "p.toml"
    bad.write_text('[project]\nname = "x"\nbodyparts = ["a"]\nskeleton = [["a", "b"]]\n')
    result = CliRunner().invoke(cli, ["train", str(bad)])
    assert result.exit_code == 1 and "not body parts" in result.output


def test_distributed_training_with_two_gloo_processes(trained, tmp_path):
    """torchrun with two CPU processes (gloo): both train on their own batches, rank 0 writes the files."""
    _, toml_path, _, _ = trained
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "mocap3d",
           "train", str(toml_path), "--out", str(out), "--iterations", "6", "--fresh"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained 6 iterations") == 2  # one summary per process
    state = torch.load(out / "model.pt", weights_only=False)
    assert state["iteration"] == 6 and len(state["losses"]) == 2


def test_pipeline_analyzer_entry_point(trained, tmp_path):
    """``[network] analyzer = "mocap3d.nn:analyze"`` of the project pipeline: <stem>.h5 per video in out_dir."""
    from mocap3d.nn import analyze

    root, _, video, kps = trained
    written = analyze([video], tmp_path, model=root / "models" / "toy", backend="onnx")
    assert written == [tmp_path / "cam-A.h5"]
    err = np.linalg.norm(load_track2d(written[0]).points[:, 0] - kps, axis=-1)
    assert np.median(err) < 1.5
