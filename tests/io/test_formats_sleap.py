"""SLEAP through sleap-io: .slp and every analysis HDF5 layout read, our files opened and re-saved by sleap-io."""

from __future__ import annotations

import numpy as np
import pytest

from mocap3d.io.pose2d import load_track2d
from mocap3d.io.sleap import load_sleap_analysis, load_slp, save_sleap_analysis, save_slp
from mocap3d.poses import Track2D

sio = pytest.importorskip("sleap_io")


def _track() -> Track2D:
    rng = np.random.default_rng(11)
    pts = rng.normal(size=(7, 2, 4, 2)) * 100 + 300
    pts[2, 1] = np.nan
    pts[3, 0, 1] = np.nan
    scores = np.where(np.isfinite(pts).all(-1), rng.random((7, 2, 4)), 0.0)
    return Track2D(pts, scores, ("head", "thorax", "abdomen", "tail"), ("female", "male"))


def _same(a: Track2D, b: Track2D) -> None:
    assert a.keypoints == b.keypoints and a.individuals == b.individuals
    np.testing.assert_allclose(a.points, b.points, rtol=1e-6)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)


@pytest.mark.parametrize("preset", ["matlab", "standard"])
def test_every_sleap_io_analysis_layout_is_read(tmp_path, preset):
    track = _track()
    labels = sio.load_slp(str(save_slp(track, tmp_path / "in.slp")))
    path = tmp_path / f"{preset}.h5"
    sio.save_analysis_h5(labels, str(path), preset=preset)
    _same(load_sleap_analysis(path), track)
    _same(load_track2d(path), track)  # detected as SLEAP by content


def test_our_analysis_file_opens_in_sleap_io_and_becomes_a_slp(tmp_path):
    track = _track()
    path = save_sleap_analysis(track, tmp_path / "cam1.analysis.h5", video_path="videos/cam1.mp4")
    labels = sio.load_analysis_h5(str(path))
    assert labels.videos[0].filename == "videos/cam1.mp4"
    assert [t.name for t in labels.tracks] == ["female", "male"]
    arr = labels.numpy(return_confidence=True)
    np.testing.assert_allclose(arr[..., :2], track.points, rtol=1e-6)
    slp = tmp_path / "cam1.slp"
    sio.save_slp(labels, str(slp))  # failed before: no video path
    _same(load_slp(slp), track)


def test_slp_tracks_and_untracked_instances(tmp_path):
    skeleton = sio.Skeleton(["a", "b"])
    video = sio.Video(filename="v.mp4")
    track = sio.Track("t0")
    frames = [
        sio.LabeledFrame(video=video, frame_idx=0, instances=[
            sio.PredictedInstance.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]), skeleton=skeleton, track=track,
                                             point_scores=np.array([0.9, 0.8]), score=0.85),
            sio.Instance.from_numpy(np.array([[5.0, 6.0], [np.nan, np.nan]]), skeleton=skeleton),
        ]),
        sio.LabeledFrame(video=video, frame_idx=2, instances=[
            sio.Instance.from_numpy(np.array([[7.0, 8.0], [9.0, 10.0]]), skeleton=skeleton),
        ]),
    ]  # fmt: skip
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=[track])
    path = tmp_path / "mixed.slp"
    sio.save_slp(labels, str(path))
    got = load_track2d(path)
    assert got.individuals == ("t0", "untracked_0") and got.keypoints == ("a", "b") and got.n_frames == 3
    np.testing.assert_allclose(got.points[0, 0], [[1, 2], [3, 4]])
    np.testing.assert_allclose(got.scores[0, 0], [0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose(got.points[0, 1, 0], [5, 6])
    assert np.isnan(got.points[0, 1, 1]).all() and got.scores[0, 1, 1] == 0
    np.testing.assert_allclose(got.points[2, 1], [[7, 8], [9, 10]])
    assert np.isnan(got.points[1]).all()


def test_transposed_dims_are_followed_not_refused(tmp_path):
    import h5py

    track = _track()
    path = save_sleap_analysis(track, tmp_path / "a.h5")
    with h5py.File(path, "a") as f:  # rewrite tracks as (node, frame, xy, track) and say so
        data = f["tracks"][()].transpose(2, 3, 1, 0)
        del f["tracks"]
        f["tracks"] = data
        f["tracks"].attrs["dims"] = '["node", "frame", "xy", "track"]'
    _same(load_sleap_analysis(path), track)
