"""SLEAP files: analysis HDF5 (read and write) and labels ``.slp`` (through ``sleap-io``).

Analysis HDF5
    Datasets ``tracks``, ``point_scores``, ``instance_scores``,
    ``tracking_scores``, ``track_occupancy``, ``node_names``,
    ``track_names``, ``edge_inds``, ``video_path``... Their axis order
    depends on the writer: SLEAP and sleap-io's default ``"matlab"`` preset
    store ``tracks`` as (track, xy, node, frame); sleap-io's ``"standard"``
    preset as (frame, track, node, xy). sleap-io records the order in each
    dataset's ``dims`` attribute (a JSON list), which the reader follows;
    files without it are SLEAP's transposed layout (or, with the file
    attribute ``transpose = False``, SLEAP's old (frame, node, xy, track)).
    The writer uses the matlab layout with ``dims`` attributes, and writes
    ``video_path`` (sleap-io needs it to turn the file into a ``.slp``).
    SLEAP scores are not probabilities (they may exceed 1) and are passed
    through unchanged.
labels ``.slp``
    Read and written with ``sleap-io`` (``pip install sleap-io``). Tracked
    instances become individuals named after their tracks; untracked ones
    (a file without tracks, or instances left without a track) become
    ``untracked_0, untracked_1, ...`` in each frame's order. User-labelled
    instances win over predictions of the same track, as in sleap-io.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PoseFileError
from ..poses import Track2D
from .atomic import atomic_path

__all__ = ["load_sleap", "save_sleap", "load_sleap_analysis", "save_sleap_analysis", "load_slp", "save_slp",
           "sniff_sleap"]  # fmt: skip

log = logging.getLogger(__name__)

_CANONICAL = ("frame", "track", "node", "xy")
_MATLAB = {"tracks": ("track", "xy", "node", "frame"), "point_scores": ("track", "node", "frame"),
           "instance_scores": ("track", "frame"), "tracking_scores": ("track", "frame"),
           "track_occupancy": ("frame", "track")}  # fmt: skip


def _h5py():
    import h5py  # local: importing mocap3d.io should stay light

    return h5py


def _sleap_io():
    try:
        import sleap_io
    except ImportError:
        raise PoseFileError("SLEAP .slp files need the `sleap-io` package: pip install sleap-io") from None
    return sleap_io


def sniff_sleap(path: Path) -> bool:
    """Whether ``path`` is a SLEAP ``.slp`` or an HDF5 with a ``tracks`` dataset (SLEAP analysis)."""
    if path.suffix.lower() == ".slp":
        return True
    try:
        h5py = _h5py()
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return "tracks" in f or "track_occupancy" in f
    except OSError:
        return False


def load_sleap(path: str | Path, video: int | str | None = None) -> Track2D:
    """Read a SLEAP ``.slp`` (:func:`load_slp`) or analysis HDF5 (:func:`load_sleap_analysis`)."""
    path = Path(path)
    if path.suffix.lower() == ".slp":
        return load_slp(path, video=video)
    return load_sleap_analysis(path)


def save_sleap(track: Track2D, path: str | Path, video_path: str | None = None) -> Path:
    """Write a SLEAP ``.slp`` (:func:`save_slp`) or analysis HDF5 (:func:`save_sleap_analysis`), by suffix."""
    path = Path(path)
    if path.suffix.lower() == ".slp":
        return save_slp(track, path, video_path=video_path)
    return save_sleap_analysis(track, path, video_path=video_path)


def _decode(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).ravel()]


def _dims(dataset, name: str, legacy_transposed: bool) -> tuple[str, ...]:
    raw = dataset.attrs.get("dims")
    if raw is not None:
        try:
            dims = tuple(json.loads(raw if isinstance(raw, str) else bytes(raw).decode()))
        except (ValueError, TypeError) as exc:
            raise PoseFileError(f"'{name}' has an unreadable 'dims' attribute ({raw!r}): {exc}.") from None
        return dims
    if legacy_transposed:
        return _MATLAB[name]
    return {"tracks": ("frame", "node", "xy", "track"), "point_scores": ("frame", "node", "track"),
            "instance_scores": ("frame", "track"), "tracking_scores": ("frame", "track"),
            "track_occupancy": ("frame", "track")}[name]  # fmt: skip


def _canonical(arr: np.ndarray, dims: tuple[str, ...], path: Path, name: str) -> np.ndarray:
    """``arr`` reordered to (frame, track, node, xy) restricted to its own dims."""
    want = [d for d in _CANONICAL if d in dims]
    if len(dims) != arr.ndim or sorted(dims) != sorted(want):
        raise PoseFileError(
            f"{path}: '{name}' has shape {arr.shape} but its dims say {list(dims)}; the file is damaged or not a "
            "SLEAP analysis file."
        )
    return arr.transpose([dims.index(d) for d in want])


def load_sleap_analysis(path: str | Path) -> Track2D:
    """Read a SLEAP analysis HDF5 file in any of its layouts (see the module docstring).

    Missing point scores (no ``point_scores`` dataset, or NaN scores of
    user-labelled instances in a predictions export) become 1 where a point
    exists. Tracks without names are called ``track_0, track_1...`` as SLEAP does.
    """
    path = Path(path)
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            if "tracks" not in f:
                raise PoseFileError(f"{path}: no 'tracks' dataset; not a SLEAP analysis file (File > Export Analysis).")
            legacy = bool(f.attrs.get("transpose", True))
            tracks_raw = np.asarray(f["tracks"][()], dtype=np.float64)
            tracks_dims = _dims(f["tracks"], "tracks", legacy)
            scores_raw = scores_dims = None
            if "point_scores" in f:
                scores_raw = np.asarray(f["point_scores"][()], dtype=np.float64)
                scores_dims = _dims(f["point_scores"], "point_scores", legacy)
            node_names = _decode(f["node_names"][()]) if "node_names" in f else None
            track_names = _decode(f["track_names"][()]) if "track_names" in f else []
    except PoseFileError:
        raise
    except Exception as exc:
        raise PoseFileError(
            f"{path}: cannot read this SLEAP analysis file ({type(exc).__name__}: {exc}); it is probably truncated "
            "or corrupt. Export it again from SLEAP."
        ) from exc
    if tracks_raw.ndim != 4:
        raise PoseFileError(f"{path}: 'tracks' must have 4 dimensions (frame, track, node, xy in some order), got "
                            f"shape {tracks_raw.shape}.")  # fmt: skip
    points = _canonical(tracks_raw, tracks_dims, path, "tracks")  # (frames, tracks, nodes, 2)
    if points.shape[-1] != 2:
        raise PoseFileError(f"{path}: 'tracks' has {points.shape[-1]} coordinates per point along its 'xy' axis "
                            f"(dims {list(tracks_dims)}, shape {tracks_raw.shape}); expected 2.")  # fmt: skip
    n_frames, n_tracks, n_nodes, _ = points.shape
    seen = np.isfinite(points).all(-1)
    if scores_raw is None or scores_dims is None:
        scores = np.where(seen, 1.0, 0.0)
    else:
        scores = _canonical(scores_raw, scores_dims, path, "point_scores")
        if scores.shape != (n_frames, n_tracks, n_nodes):
            raise PoseFileError(f"{path}: 'point_scores' {scores_raw.shape} does not match 'tracks' "
                                f"{tracks_raw.shape} (dims {list(tracks_dims)}).")  # fmt: skip
        # SLEAP leaves point_scores NaN for user-labelled instances, whose points are as good as it gets.
        scores = np.where(seen & np.isnan(scores), 1.0, scores)
    if node_names is None or len(node_names) != n_nodes:
        node_names = [f"node{i}" for i in range(n_nodes)]
    if len(track_names) != n_tracks:
        track_names = [f"track_{i}" for i in range(n_tracks)]
    return Track2D(points, scores, tuple(node_names), tuple(track_names), source=str(path))


def save_sleap_analysis(track: Track2D, path: str | Path, video_path: str | None = None) -> Path:
    """Write a SLEAP analysis HDF5 file in SLEAP's (matlab) layout, with sleap-io's ``dims`` attributes.

    ``video_path`` is the video the keypoints were detected in (default: the
    output's name with ``.mp4``, the name SLEAP gives analysis files of a
    video, so that sleap-io can build a ``.slp`` from the file).
    ``instance_scores`` is the mean point score of each instance (SLEAP's own
    instance score comes from its network; Track2D does not keep it), NaN where
    the track is absent; ``tracking_scores`` is NaN; ``edge_inds`` is empty
    (Track2D carries no skeleton edges).
    """
    h5py = _h5py()
    path = Path(path)
    video = video_path if video_path else path.with_suffix(".mp4").name
    seen = np.isfinite(track.points).all(-1)  # (F, T, N)
    occupied = seen.any(-1)  # (F, T)
    with np.errstate(invalid="ignore", divide="ignore"):
        inst = np.where(occupied, (track.scores * seen).sum(-1) / np.maximum(seen.sum(-1), 1), np.nan)
    point_scores = np.where(occupied[..., None], track.scores, np.nan)
    datasets = {
        "tracks": track.points.transpose(1, 3, 2, 0),  # (T, 2, N, F)
        "point_scores": point_scores.transpose(1, 2, 0),  # (T, N, F)
        "instance_scores": inst.T,  # (T, F)
        "tracking_scores": np.full(inst.T.shape, np.nan),
        "track_occupancy": occupied.astype(np.uint8),  # (F, T): SLEAP's quirk, frames first
    }
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["preset"] = "matlab"
        f.attrs["transpose"] = True
        for name, arr in datasets.items():
            ds = f.create_dataset(name, data=np.ascontiguousarray(arr), compression="gzip", compression_opts=4)
            ds.attrs["dims"] = json.dumps(list(_MATLAB[name]))
        f.create_dataset("track_names", data=np.array([n.encode() for n in track.individuals], dtype="S"))
        f.create_dataset("node_names", data=np.array([n.encode() for n in track.keypoints], dtype="S"))
        f.create_dataset("edge_names", data=np.zeros((0, 2), dtype="S1"))
        f.create_dataset("edge_inds", data=np.zeros((0, 2), dtype=np.int64))
        f.create_dataset("labels_path", data=track.source)
        f.create_dataset("video_path", data=str(video))
        f.create_dataset("video_ind", data=0)
        f.create_dataset("provenance", data=json.dumps({"software": "mocap3d"}))
    return path


def load_slp(path: str | Path, video: int | str | None = None) -> Track2D:
    """Read a SLEAP labels ``.slp`` file with sleap-io: one video's instances as a :class:`Track2D`.

    ``video`` (index or file name) picks the video of a multi-video project;
    a single-video file needs none. Tracked instances come first (one
    individual per track), then untracked ones (``untracked_i``: the i-th
    untracked instance of each frame).
    """
    sio = _sleap_io()
    path = Path(path)
    try:
        labels = sio.load_slp(str(path), open_videos=False)
    except Exception as exc:  # sleap-io raises many kinds on damaged files
        raise PoseFileError(f"{path}: cannot read this SLEAP .slp file ({type(exc).__name__}: {exc}).") from None
    if not labels.videos:
        raise PoseFileError(f"{path}: this .slp file has no video, hence no frames to read.")
    if video is None:
        if len(labels.videos) > 1:
            listing = ", ".join(str(v.filename) for v in labels.videos)
            raise PoseFileError(f"{path}: holds {len(labels.videos)} videos ({listing}); pick one (video=0, 1, ...).")
        video = 0
    try:
        vid = labels.videos[video] if isinstance(video, int) else labels.videos[
            [str(v.filename) for v in labels.videos].index(str(video))]
    except (IndexError, ValueError):
        raise PoseFileError(f"{path}: no video {video!r} in this file.") from None
    nodes = [n.name for n in labels.skeletons[0].nodes] if labels.skeletons else []
    frames = [lf for lf in labels.labeled_frames if lf.video is vid]
    n_frames = max((lf.frame_idx for lf in frames), default=-1) + 1
    tracks = list(labels.tracks)
    n_untracked = 0
    for lf in frames:
        n_untracked = max(n_untracked, sum(1 for inst in _instances(lf) if inst.track is None))
    names = [t.name or f"track_{i}" for i, t in enumerate(tracks)] + [f"untracked_{i}" for i in range(n_untracked)]
    points = np.full((n_frames, max(len(names), 1), len(nodes), 2), np.nan)
    scores = np.zeros(points.shape[:3])
    for lf in frames:
        u = 0
        for inst in _instances(lf):
            if inst.track is not None:
                col = tracks.index(inst.track)
            else:
                col = len(tracks) + u
                u += 1
            arr = inst.numpy()  # (nodes, 2), NaN where not visible
            points[lf.frame_idx, col] = arr
            score = getattr(inst, "points", None)
            if hasattr(inst, "score") and score is not None and "score" in score.dtype.names:
                scores[lf.frame_idx, col] = score["score"]
            else:
                scores[lf.frame_idx, col] = np.where(np.isfinite(arr).all(-1), 1.0, 0.0)
    if not names:
        names = ["untracked_0"]
    return Track2D(points, scores, tuple(nodes), tuple(names), source=str(path))


def _instances(lf: Any) -> list:
    """A frame's instances, a user-labelled one replacing the prediction of the same track (sleap-io's rule)."""
    user = [i for i in lf.instances if type(i).__name__ == "Instance"]
    user_tracks = {id(i.track) for i in user if i.track is not None}
    predicted = [i for i in lf.instances if type(i).__name__ != "Instance"
                 and (i.track is None or id(i.track) not in user_tracks)]  # fmt: skip
    return user + predicted


def save_slp(track: Track2D, path: str | Path, video_path: str | None = None) -> Path:
    """Write a SLEAP labels ``.slp`` file with sleap-io: each individual a track, points as predictions.

    ``video_path``: the video the keypoints belong to (default: the output's
    name with ``.mp4``). Scores become the points' scores; an instance's score
    is the mean of its points'.
    """
    sio = _sleap_io()
    path = Path(path)
    video = sio.Video(filename=video_path if video_path else path.with_suffix(".mp4").name)
    skeleton = sio.Skeleton(list(track.keypoints))
    tracks = [sio.Track(name) for name in track.individuals]
    arr = np.concatenate([track.points, track.scores[..., None]], axis=-1)
    labels = sio.Labels.from_numpy(arr, videos=[video], skeletons=skeleton, tracks=tracks, return_confidence=True)
    with atomic_path(path) as tmp:
        sio.save_slp(labels, str(tmp))
    return path
