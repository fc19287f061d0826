"""Camera synchronisation: known offsets applied to the sample rig's cameras are recovered (issue #7)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import toml
from click.testing import CliRunner

from mocap3d.cli import cli
from mocap3d.errors import MocapError
from mocap3d.io.pose3d import load_h5
from mocap3d.pipeline import run_project
from mocap3d.pipeline.sample_project import make_sample_project
from mocap3d.pipeline.sync import (
    SyncConfig,
    apply_offsets,
    epipolar_offsets,
    flash_offsets,
    keypoint_offsets,
    load_offsets,
    save_offsets,
    video_brightness,
)
from mocap3d.poses import Track2D
from mocap3d.sample import make_sample

FRAMES, MARGIN = 240, 30


def _unsynced(seed: int, starts: list[int]):
    """The sample with camera ``c`` recorded from frame ``starts[c]`` of the truth: offsets ``starts - starts[0]``."""
    sample = make_sample(n_frames=FRAMES + 2 * MARGIN, seed=seed)
    names = sample.rig.names
    pts = {c: sample.poses2d.points[i, starts[i] : starts[i] + FRAMES] for i, c in enumerate(names)}
    scs = {c: sample.poses2d.scores[i, starts[i] : starts[i] + FRAMES] for i, c in enumerate(names)}
    truth = {c: starts[i] - starts[0] for i, c in enumerate(names)}
    return sample, pts, scs, truth


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_epipolar_recovers_integer_offsets_exactly(seed):
    starts = list(np.random.default_rng(100 + seed).integers(0, 2 * MARGIN, 4))
    sample, pts, scs, truth = _unsynced(seed, starts)
    result = epipolar_offsets(pts, scs, sample.rig, SyncConfig(method="epipolar", max_offset=2 * MARGIN))
    assert result.offsets == truth
    assert not result.any_ambiguous, result.lines()
    for cam in sample.rig.names[1:]:
        assert result.confidence[cam] < 2.0  # px: the 1.5 px detection noise, at the right lag
        assert result.rival[cam] < 0.7


def test_epipolar_reference_camera_and_sign():
    sample, pts, scs, truth = _unsynced(5, [30, 33, 30, 22])  # cam2 starts 3 frames late, cam4 8 frames early
    assert truth == {"cam1": 0, "cam2": 3, "cam3": 0, "cam4": -8}
    result = epipolar_offsets(pts, scs, sample.rig, SyncConfig(method="epipolar", reference="cam2"))
    assert result.offsets == {"cam1": -3, "cam2": 0, "cam3": -3, "cam4": -11}


def test_epipolar_flags_a_motionless_subject():
    sample = make_sample(n_frames=200, seed=0)
    rng = np.random.default_rng(0)
    still = sample.poses2d.points[:, 100:101]  # one pose, held
    pts = {c: np.repeat(still[i], 200, 0) + rng.normal(0, 1.0, (200, 19, 2)) for i, c in enumerate(sample.rig.names)}
    scs = {c: np.ones((200, 19)) for c in sample.rig.names}
    result = epipolar_offsets(pts, scs, sample.rig, SyncConfig(method="epipolar"))
    assert all(result.ambiguous[c] for c in sample.rig.names[1:])
    assert "too little motion" in result.reasons["cam2"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_keypoint_speeds_within_three_frames(seed):
    """Pose2Sim's cue on the sample rig: within 3 frames, not exact.

    The walker approaches cam1/cam4 and leaves cam2/cam3, so its image speeds
    differ between the two sides (measured on 8 seeds: 0-3 frames off, biased
    by -1 frame across sides); the epipolar method is exact on the same data.
    """
    starts = list(np.random.default_rng(200 + seed).integers(MARGIN - 12, MARGIN + 12, 4))
    _, pts, scs, truth = _unsynced(seed, starts)
    result = keypoint_offsets(pts, scs, SyncConfig(method="keypoints", max_offset=25))
    errors = [result.offsets[c] - truth[c] for c in truth]
    assert max(abs(e) for e in errors) <= 3, (errors, result.lines())


def test_keypoint_speeds_exact_on_identical_views_and_periodic_motion_flagged():
    t = np.arange(300)
    rng = np.random.default_rng(0)
    # a non-periodic 'reach' motion of 5 body parts, seen by two cameras with different scales
    path = np.cumsum(rng.normal(0, 1, (300, 5, 2)), axis=0)
    pts = {"a": path[20:260], "b": 1.7 * path[27:267] + 40}
    scs = {"a": np.ones((240, 5)), "b": np.ones((240, 5))}
    result = keypoint_offsets(pts, scs, SyncConfig(method="keypoints", smooth_window=1, max_offset=40))
    assert result.offsets == {"a": 0, "b": 7} and not result.any_ambiguous
    # a perfectly periodic motion (period 40 frames) searched over +-60 frames: two lags fit equally
    wave = np.stack([np.zeros((300, 5)), np.sin(2 * np.pi * t / 40)[:, None] * np.arange(1, 6)], -1) * 30
    pts = {"a": wave[:240], "b": wave[5:245]}
    result = keypoint_offsets(pts, scs, SyncConfig(method="keypoints", smooth_window=1, max_offset=60))
    assert result.ambiguous["b"] and "scores" in result.reasons["b"]
    assert result.offsets["b"] % 40 == 5


def _flashes(events: dict[str, list[int]], n: int = 120, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for cam, frames in events.items():
        b = 80 + rng.normal(0, 0.8, n) + 5 * np.sin(np.arange(n) / 9)  # room light drifts a little
        for f in frames:
            b[f : f + 6] += 60  # the flash lasts 6 frames
        out[cam] = b
    return out


def test_flash_offsets_exact_and_second_flash_flagged():
    result = flash_offsets(_flashes({"A": [40], "B": [33], "C": [51]}))
    assert result.offsets == {"A": 0, "B": 7, "C": -11}  # B started 7 frames later: it saw the flash earlier
    assert not result.any_ambiguous and result.confidence["B"] > 20
    result = flash_offsets(_flashes({"A": [40], "B": [33, 90]}))
    assert result.ambiguous["B"] and "second brightness rise" in result.reasons["B"]
    result = flash_offsets({"A": np.full(50, 80.0) + np.random.default_rng(1).normal(0, 1, 50), "B": np.full(50, 80.0)})
    assert result.ambiguous["B"]  # no flash at all: nothing rises above the noise


def test_flash_from_videos(tmp_path):
    cv2 = pytest.importorskip("cv2")
    events = {"cam1": 12, "cam2": 9, "cam3": 17}
    paths = {}
    for cam, at in events.items():
        path = tmp_path / f"{cam}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
        for i in range(40):
            frame = np.full((48, 64, 3), 200 if at <= i < at + 4 else 60, np.uint8)
            writer.write(frame)
        writer.release()
        paths[cam] = path
    brightness = {c: video_brightness(p) for c, p in paths.items()}
    assert all(len(b) == 40 for b in brightness.values())
    result = flash_offsets(brightness)
    assert result.offsets == {"cam1": 0, "cam2": 3, "cam3": -5}
    with pytest.raises(MocapError, match="cannot open|no readable frame"):
        video_brightness(tmp_path / "missing.avi")


def test_apply_offsets_realigns_frames():
    sample = make_sample(n_frames=100, seed=0)
    names = sample.rig.names
    starts = [10, 13, 10, 4]
    p2d = sample.poses2d
    tracks = {
        c: Track2D(points=p2d.points[i, s : s + 80, None], scores=p2d.scores[i, s : s + 80, None],
                   keypoints=p2d.keypoints)
        for i, (c, s) in enumerate(zip(names, starts, strict=True))
    }
    offsets = {c: s - starts[0] for c, s in zip(names, starts, strict=True)}
    out = apply_offsets(tracks, offsets)
    for i, c in enumerate(names):
        assert out[c].n_frames == 80
        shown = np.arange(80) + starts[0]  # truth frames the reference timeline covers
        seen = (shown >= starts[i]) & (shown < starts[i] + 80)
        np.testing.assert_array_equal(out[c].points[seen, 0], sample.poses2d.points[i, shown[seen]])
        assert np.isnan(out[c].points[~seen]).all() and (out[c].scores[~seen] == 0).all()


def test_offsets_file_round_trip(tmp_path):
    result = flash_offsets(_flashes({"A": [40], "B": [33]}))
    path = save_offsets(result, tmp_path / "sync" / "offsets.toml")
    assert load_offsets(path) == {"A": 0, "B": 7}
    assert toml.load(path)["ambiguous"] == {"A": False, "B": False}
    (tmp_path / "bad.toml").write_text("[offsets]\nB = 'seven'\n")
    with pytest.raises(MocapError, match="whole frame"):
        load_offsets(tmp_path / "bad.toml")


# --- in the pipeline ----------------------------------------------------------------------------------------------

OFFSETS = {"cam2": 4, "cam3": -6, "cam4": 9}


@pytest.fixture(scope="module")
def unsynced_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("sync") / "project"
    make_sample_project(root, n_sessions=2, n_frames=FRAMES, groups=0, offsets=OFFSETS)
    return root


def _error_mm(session) -> float:
    poses = load_h5(session / "pose-3d" / f"{session.name}.h5")
    truth = load_h5(session / "ground_truth.h5")
    return float(np.nanmedian(np.linalg.norm(poses.points - truth.points, axis=-1)))


def test_pipeline_sync_stage_applies_offsets_before_triangulation(unsynced_project, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(unsynced_project, plain)
    assert not run_project(plain, stages=["filter2d", "triangulate"], workers=0, progress=False).failed
    synced = tmp_path / "synced"
    shutil.copytree(unsynced_project, synced)
    config = synced / "config.toml"
    config.write_text(config.read_text().replace('method = "none"', 'method = "epipolar"'))
    report = run_project(synced, workers=0, progress=False)
    assert not report.failed, report.table()
    for name in ("walk01", "walk02"):
        assert load_offsets(synced / name / "sync" / "offsets.toml") == {"cam1": 0, **OFFSETS}
        meta = load_h5(synced / name / "pose-3d" / f"{name}.h5").metadata
        assert meta["sync_offsets"] == {"cam1": 0, **OFFSETS}
        assert _error_mm(synced / name) < 12.0  # mm, as a synchronised recording
        assert _error_mm(plain / name) > 2 * _error_mm(synced / name)


def test_pipeline_ambiguous_sync_fails_the_session_with_its_reason(unsynced_project, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(unsynced_project, root)
    config = root / "config.toml"
    config.write_text(config.read_text().replace('method = "none"', 'method = "epipolar"\nmax_epipolar_px = 0.5'))
    report = run_project(root, stages=["sync"], workers=0, progress=False)
    assert len(report.failed) == 2
    assert "ambiguous" in report.failed[0].error and "max_epipolar_px" in report.failed[0].error
    assert not (root / "walk01" / "sync" / "offsets.toml").exists()


def test_cli_sync(unsynced_project, tmp_path):
    session = unsynced_project / "walk01"
    files = sorted(str(p) for p in (session / "pose-2d").glob("*.h5"))
    runner = CliRunner()
    out = tmp_path / "offsets.toml"
    res = runner.invoke(cli, ["sync", "-c", str(session / "calibration.toml"), "--out", str(out), *files])
    assert res.exit_code == 0, res.output
    assert "cam2: +4 frames" in res.output and "cam4: +9 frames" in res.output
    assert load_offsets(out) == {"cam1": 0, **OFFSETS}
    res = runner.invoke(cli, ["sync", "--method", "epipolar", *files])
    assert res.exit_code == 1 and "needs --calibration" in res.output
    res = runner.invoke(cli, ["sync", "--method", "keypoints", "--max-offset", "20", *files])
    assert res.exit_code == 0 and "cam3:" in res.output


def test_pipeline_flash_sync_from_videos(unsynced_project, tmp_path):
    cv2 = pytest.importorskip("cv2")
    root = tmp_path / "p"
    shutil.copytree(unsynced_project, root)
    for name in ("walk01", "walk02"):
        folder = root / name / "videos-raw"
        folder.mkdir()
        for cam, offset in {"cam1": 0, **OFFSETS}.items():
            at = 20 - offset  # a camera that started `offset` frames late sees the flash `offset` frames earlier
            writer = cv2.VideoWriter(str(folder / f"{cam}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 60, (64, 48))
            for i in range(50):
                writer.write(np.full((48, 64, 3), 220 if at <= i < at + 3 else 50, np.uint8))
            writer.release()
    config = root / "config.toml"
    config.write_text(config.read_text().replace('method = "none"', 'method = "flash"'))
    report = run_project(root, stages=["sync", "filter2d", "triangulate"], workers=0, progress=False)
    assert not report.failed, report.table()
    for name in ("walk01", "walk02"):
        assert load_offsets(root / name / "sync" / "offsets.toml") == {"cam1": 0, **OFFSETS}
        assert _error_mm(root / name) < 12.0
