"""The labelling tool's state: the label files of a project, their frames, and every edit.

A :class:`LabelSession` holds one :class:`VideoLabels` per ``labeled-data/<video>``
folder and groups their images into *frames*: one image per folder, or, with a
calibration, the same instant from every camera (folders whose names differ
only by the camera name, images with the same file name). Each edit is written
to DeepLabCut's ``CollectedData_<scorer>.h5`` and ``.csv`` at once (atomically),
so closing the page or killing the server loses at most the point being placed.

Only images with at least one label get a row in the written files (as
DeepLabCut writes them; an unlabelled row would end up in its test split).

Concurrency: every label file has a revision, a token of the file on disk
(inode, size, modification time) that changes with each write and stays the
same when the server restarts. An edit names the revision it was made on; when
another tab (or a program writing the file on disk) got there first, the edit
is refused with :class:`LabelConflict` and the page reloads the current labels
instead of overwriting them. Edits queued by a page while the server was down
are accepted after a restart as long as nobody else wrote the file meanwhile.

Images are served only from inside the project's ``labeled-data/`` folder: a
label row naming an absolute path, ``..`` or a file that is not an image is
neither shown nor served (its labels stay in the file).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import numpy as np

from ..camera import CameraRig
from ..errors import LabelFileError, MocapError
from ..io.atomic import atomic_path
from ..io.labels import SINGLE, LabelSet, is_single, label_file_path, load_labels, load_predictions, save_labels
from ..io.matching import camera_for_file
from .geometry import GeometryConfig, epipolar_curves, propose

__all__ = ["LabelToolConfig", "LabelSession", "VideoLabels", "LabelConflict", "IMAGE_SUFFIXES", "safe_image",
           "ImageRefused"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_TOKEN = re.compile(r"[A-Za-z0-9]+")


class ImageRefused(MocapError):
    """A label row that names a file outside the project's ``labeled-data/`` (or not an image): not served."""


class LabelConflict(MocapError):
    """An edit made on an older revision of a label file (another tab or program wrote it first)."""

    def __init__(self, message: str, revision: str):
        super().__init__(message)
        self.revision = revision


@dataclass(frozen=True)
class LabelToolConfig:
    """Options of ``mocap3d label``; ``None`` means: from the project's config.yaml or label files.

    scorer : the ``CollectedData_<scorer>`` file to write.
    bodyparts, individuals : names to label (individuals only for multi-animal projects).
    calibration : anipose/Pose2Sim/caliscope calibration file for the multi-view help.
    geometry : epipolar sampling and disagreement threshold.
    """

    scorer: str | None = None
    bodyparts: tuple[str, ...] | None = None
    individuals: tuple[str, ...] | None = None
    calibration: Path | None = None
    geometry: GeometryConfig = field(default_factory=GeometryConfig)


@dataclass
class VideoLabels:
    """The labels of one ``labeled-data/<video>`` folder and what the tool knows about them."""

    folder: Path
    path: Path  # CollectedData_<scorer>.h5
    labels: LabelSet
    camera: str | None = None
    stamp: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) of the .h5 when last read or written
    predictions: np.ndarray | None = None  # (images, individuals, bodyparts, 2), refinement starting points
    likelihood: np.ndarray | None = None  # (images, individuals, bodyparts)
    rows: dict[str, int] = field(default_factory=dict)
    source: Path | None = None  # the video the frames were extracted from, when it can be found
    source_frames: int = 0  # its frame count

    def __post_init__(self) -> None:
        self.rows = {name: r for r, name in enumerate(self.labels.images)}

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def revision(self) -> str:
        """The label file's revision token (see the module docstring); ``"none"`` before the first write."""
        return _token(self.stamp)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _token(stamp: tuple[int, int, int] | None) -> str:
    return "none" if stamp is None else "{:x}.{:x}.{:x}".format(*stamp)


_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")


def _plain_image_name(name: str) -> bool:
    """``labeled-data/<video>/<image>``-like: relative, no ``..``, an image suffix."""
    path = PurePosixPath(name)
    return (len(path.parts) >= 3 and path.parts[0] == "labeled-data" and ".." not in path.parts
            and ":" not in path.parts[0] and path.suffix.lower() in IMAGE_SUFFIXES)  # fmt: skip


def safe_image(root: Path, name: str) -> Path | None:
    """The file of image row ``name`` if it may be shown, else None.

    It must be a relative ``labeled-data/...`` path without ``..``, with an
    image suffix, and resolve to a file inside the project's ``labeled-data``
    folder; a symbolic link to an image elsewhere (frames linked rather than
    copied) is allowed only when the target starts like an image file.
    """
    if not _plain_image_name(name):
        return None
    path = root / Path(*PurePosixPath(name).parts)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file():
        return None
    base = (root / "labeled-data").resolve()
    if resolved.is_relative_to(base):
        return path
    try:
        with open(resolved, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    return path if head.startswith(_MAGIC) else None


def _read_project_config(root: Path) -> dict:
    path = root / "config.yaml"
    if not path.is_file():
        return {}
    from ..io.settings import read_yaml

    data = read_yaml(path, "DeepLabCut project configuration", LabelFileError) or {}
    return data if isinstance(data, dict) else {}


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _resolve_folders(target: Path) -> tuple[Path, list[Path]]:
    """The project root (image paths are relative to it) and the video folders to label."""
    target = target.resolve()
    if not target.exists():
        raise LabelFileError(f"{target}: no such project or folder.")
    if target.is_file():
        raise LabelFileError(
            f"{target}: give a DeepLabCut project folder (with config.yaml and labeled-data/) or one "
            "labeled-data/<video> folder of extracted frames, not a file."
        )
    if (target / "labeled-data").is_dir():
        root, parent = target, target / "labeled-data"
    elif target.name == "labeled-data":
        root, parent = target.parent, target
    else:
        return target.parent.parent, [target]
    folders = [p for p in sorted(parent.iterdir()) if p.is_dir() and not p.name.endswith("_labeled")]
    return root, folders


def _relative(root: Path, image: Path) -> str:
    return image.relative_to(root).as_posix()


class LabelSession:
    """All label files of one labelling session (see module docstring).

    Build it with :meth:`open`. Methods return plain JSON-ready dicts (NaN as
    ``None``) for the web app; every write goes through :meth:`set_point`.
    """

    def __init__(
        self, root: Path, videos: list[VideoLabels], rig: CameraRig | None, config: LabelToolConfig, warnings: list[str]
    ):
        self.root = root
        self.videos = videos
        self.rig = rig
        self.config = config
        self.warnings = warnings
        self.bodyparts = videos[0].labels.bodyparts
        self.individuals = videos[0].labels.individuals
        self.scorer = videos[0].labels.scorer
        self.multi_animal = videos[0].labels.multi_animal
        self._lock = threading.RLock()
        self._sizes: dict[tuple[int, str], tuple[int, int] | None] = {}
        self._video_lock = threading.Lock()
        self.frames = self._group_frames()
        self.skeleton: list[tuple[int, int]] = []  # body part index pairs drawn as lines (config.yaml's skeleton)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, target: str | Path, config: LabelToolConfig | None = None) -> LabelSession:
        """Open a DeepLabCut project, its ``labeled-data`` folder or one ``labeled-data/<video>`` folder.

        Raises :class:`~mocap3d.errors.LabelFileError` (nothing is written)
        when there are no images, no body part names, or a label file whose
        body parts the project does not have.
        """
        cfg = config or LabelToolConfig()
        root, folders = _resolve_folders(Path(target))
        project = _read_project_config(root)
        warnings: list[str] = []
        folders = [f for f in folders if _image_files(f) or list(f.glob("CollectedData_*.*"))]
        if not folders:
            raise LabelFileError(
                f"{target}: no extracted frames found (labeled-data/<video>/*.png|jpg). Extract frames first."
            )
        scorer = cfg.scorer or project.get("scorer")
        if not scorer:
            files = [p for f in folders for p in f.glob("CollectedData_*.h5")]
            found = sorted({p.stem.removeprefix("CollectedData_") for p in files})
            if len(found) > 1:
                raise LabelFileError(
                    f"{target}: label files of several scorers {found} and no config.yaml; pass --scorer NAME."
                )
            scorer = found[0] if found else "mocap3d"
        scorer = str(scorer)
        bodyparts, individuals = cls._names(cfg, project)
        if bodyparts is None:
            # No config.yaml: the names of the first label file, else those of the network's predictions
            # (outlier frames of a first round).
            candidates = [label_file_path(f, scorer).with_suffix(suffix) for f in folders for suffix in (".h5", ".csv")]
            first = next((p for p in candidates if p.is_file()), None)
            if first is not None:
                known = load_labels(first)
                bodyparts = known.bodyparts
                individuals = individuals or (known.individuals if known.multi_animal else None)
            elif (pred_file := next((p for f in folders if (p := _prediction_file(f)) is not None), None)) is not None:
                pred = load_predictions(pred_file)
                bodyparts = pred.bodyparts
                individuals = individuals or (pred.individuals if not is_single(pred.individuals) else None)
        videos = [cls._load_video(root, f, scorer, bodyparts, individuals, warnings) for f in folders]
        names = {v.labels.bodyparts for v in videos}
        if len(names) > 1:
            raise LabelFileError(
                f"the label files of {target} have different body parts ({sorted(names)}); with no config.yaml "
                "listing them, pass --bodyparts to name the set to label (files with fewer are extended)."
            )
        rig = None
        if cfg.calibration is not None:
            from ..io.calibration import load_calibration

            rig = load_calibration(cfg.calibration)
            for v in videos:
                v.camera = camera_for_file(v.folder, rig.names)
                if v.camera is None:
                    warnings.append(
                        f"{v.name}: no camera of the calibration ({', '.join(rig.names)}) in the folder name; "
                        "labelled on its own, without multi-view help."
                    )
        for v in videos:
            v.source, v.source_frames = _source_video(root, v.folder.name, project)
        session = cls(root, videos, rig, cfg, warnings)
        session.skeleton = _skeleton(project.get("skeleton"), session.bodyparts)
        return session

    @staticmethod
    def _names(cfg: LabelToolConfig, project: dict) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        individuals = cfg.individuals
        bodyparts = cfg.bodyparts
        if project.get("multianimalproject"):
            bodyparts = bodyparts or tuple(project.get("multianimalbodyparts") or ())
            individuals = individuals or tuple(project.get("individuals") or ())
        elif bodyparts is None and isinstance(project.get("bodyparts"), list):
            bodyparts = tuple(project["bodyparts"])
        return (tuple(map(str, bodyparts)) or None) if bodyparts else None, (
            tuple(map(str, individuals)) if individuals else None
        )

    @staticmethod
    def _load_video(
        root: Path,
        folder: Path,
        scorer: str,
        bodyparts: tuple[str, ...] | None,
        individuals: tuple[str, ...] | None,
        warnings: list[str],
    ) -> VideoLabels:
        path = label_file_path(folder, scorer)
        others = sorted(p.name for p in folder.glob("CollectedData_*.h5") if p != path)
        if others:
            warnings.append(f"{folder.name}: also has {others}; only CollectedData_{scorer}.h5 is edited.")
        on_disk = [_relative(root, p) for p in _image_files(folder)]
        existing = None
        if path.is_file():
            existing = load_labels(path)
        elif path.with_suffix(".csv").is_file():
            existing = load_labels(path.with_suffix(".csv"))
            warnings.append(f"{folder.name}: read {path.with_suffix('.csv').name} (no .h5); the .h5 is written too.")
        if existing is None:
            if bodyparts is None:
                raise LabelFileError(
                    f"{folder}: no label file and no body part names; run in a DeepLabCut project (config.yaml) "
                    "or pass --bodyparts nose,left_ear,..."
                )
            labels = LabelSet.empty(on_disk, bodyparts, scorer, individuals)
        else:
            labels = _conform(existing, bodyparts, individuals, warnings)
            unsafe = [name for name in labels.images
                      if not _plain_image_name(name) or (safe_image(root, name) is None and (root / name).exists())]
            if unsafe:
                warnings.append(
                    f"{folder.name}: {len(unsafe)} row(s) of {path.name} name a file that is not an image inside "
                    f"labeled-data/ ({', '.join(unsafe[:3])}{', ...' if len(unsafe) > 3 else ''}); they are not shown "
                    "or served, and their labels are kept in the file."
                )
            moved = [name for name in labels.images if name not in unsafe and safe_image(root, name) is None]
            if moved:
                warnings.append(
                    f"{folder.name}: {len(moved)} labelled image(s) are not on disk ({', '.join(moved[:3])}"
                    f"{', ...' if len(moved) > 3 else ''}); their labels are kept in the file but cannot be shown. "
                    "Move the images back to labeled-data/<video>/ to see them."
                )
            new = [name for name in on_disk if name not in set(labels.images)]
            if new:
                labels = _append_images(labels, new)
        video = VideoLabels(folder=folder, path=path, labels=labels, stamp=_stamp(path))
        _attach_predictions(video, root, warnings)
        return video

    def _group_frames(self) -> list[dict]:
        """Frames: ``{"name", "members": [(video index, image name), ...]}`` in display order."""
        groups: dict[tuple, list[tuple[int, str]]] = {}
        for vi, video in enumerate(self.videos):
            shown = [name for name in video.labels.images if safe_image(self.root, name) is not None]
            if video.camera is not None:
                cam_tokens = {t.lower() for t in _TOKEN.findall(video.camera)}
                cam_tokens |= {"cam" + t for t in cam_tokens}
                key = tuple(t for t in _TOKEN.findall(video.name) if t.lower() not in cam_tokens)
                for name in shown:
                    groups.setdefault(("multi", key, Path(name).name), []).append((vi, name))
            else:
                for name in shown:
                    groups.setdefault(("single", video.name, Path(name).name), []).append((vi, name))
        order = {name: i for i, name in enumerate(self.rig.names)} if self.rig is not None else {}
        frames = []
        for key in sorted(groups):
            members = sorted(groups[key], key=lambda m: order.get(self.videos[m[0]].camera or "", -1))
            session = "_".join(key[1]) if key[0] == "multi" else key[1]
            frames.append({"name": f"{session}/{key[2]}", "members": members})
        return frames

    # ------------------------------------------------------------------ queries

    def info(self) -> dict:
        """What the page needs to draw its controls."""
        return {
            "project": str(self.root),
            "scorer": self.scorer,
            "bodyparts": list(self.bodyparts),
            "individuals": list(self.individuals),
            "multi_animal": self.multi_animal,
            "calibrated": self.rig is not None,
            "refinement": any(v.predictions is not None for v in self.videos),
            "videos": [{"name": v.name, "camera": v.camera, "file": str(v.path.relative_to(self.root)),
                        "source": v.source.name if v.source is not None else None, "source_frames": v.source_frames}
                       for v in self.videos],  # fmt: skip
            "frames": [{"name": f["name"], "views": len(f["members"])} for f in self.frames],
            "warnings": list(self.warnings),
            "disagreement_px": self.config.geometry.disagreement_px,
            "skeleton": [list(pair) for pair in self.skeleton],
        }

    def _frame(self, index: int) -> dict:
        if not 0 <= index < len(self.frames):
            raise LabelFileError(f"frame {index} does not exist (the session has {len(self.frames)}).")
        return self.frames[index]

    def frame(self, index: int) -> dict:
        """Labels (and predictions) of every view of one frame."""
        frame = self._frame(index)
        views = []
        with self._lock:
            for vi, name in frame["members"]:
                video = self.videos[vi]
                row = video.rows[name]
                entry = {
                    "video": vi,
                    "view": video.camera or video.name,
                    "image": name,
                    "url": f"/image/{vi}/{row}?name={quote(Path(name).name)}",  # the name: no stale cached image
                    "revision": video.revision,
                    "labels": _json_points(video.labels.points[row]),
                    "predictions": None,
                    "likelihood": None,
                }
                if video.predictions is not None:
                    entry["predictions"] = _json_points(video.predictions[row])
                    entry["likelihood"] = _json_values(video.likelihood[row])
                size = self.image_size(vi, name)
                entry["size"] = list(size) if size is not None else None
                views.append(entry)
        return {"index": index, "name": frame["name"], "views": views}

    def image_path(self, video: int, row: int) -> Path:
        """The image file of one row: only images of the label files, inside ``labeled-data/`` (see :func:`safe_image`).

        Raises :class:`~mocap3d.errors.LabelFileError` for a row that does not
        exist and :class:`ImageRefused` for one that names any other file.
        """
        if not 0 <= video < len(self.videos):
            raise LabelFileError(f"video {video} does not exist.")
        images = self.videos[video].labels.images
        if not 0 <= row < len(images):
            raise LabelFileError(f"image {row} of {self.videos[video].name} does not exist.")
        path = safe_image(self.root, images[row])
        if path is None:
            raise ImageRefused(
                f"row {row} of {self.videos[video].name} names {images[row]!r}, which is not an image file inside "
                "this project's labeled-data/ folder; it is not served."
            )
        return path

    def image_size(self, video: int, image: str) -> tuple[int, int] | None:
        """(width, height) of an image: the calibration's, else read from the file's header; None if unreadable."""
        key = (video, image)
        if key in self._sizes:
            return self._sizes[key]
        v = self.videos[video]
        size = None
        if self.rig is not None and v.camera is not None:
            w, h = self.rig.sizes[self.rig.index(v.camera)]
            size = (int(w), int(h))
        else:
            path = safe_image(self.root, image)
            if path is not None:
                try:
                    from PIL import Image

                    with Image.open(path) as img:
                        size = (int(img.width), int(img.height))
                except Exception:  # noqa: BLE001 - any unreadable image: no bounds check beyond finiteness
                    size = None
        self._sizes[key] = size
        return size

    # ------------------------------------------------------------------ the whole video

    def video_frame(self, video: int, number: int) -> np.ndarray:
        """Frame ``number`` of the video a folder's frames come from (BGR), to browse for frames to add."""
        if not 0 <= video < len(self.videos):
            raise LabelFileError(f"video {video} does not exist (the project has {len(self.videos)}).")
        v = self.videos[video]
        if v.source is None:
            raise LabelFileError(
                f"{v.name}: its video was not found (looked for videos/{v.name}.* and config.yaml's video_sets); "
                "put the video there to browse it."
            )
        if not 0 <= number < v.source_frames:
            raise LabelFileError(f"{v.source.name} has frames 0 to {v.source_frames - 1}, not {number}.")
        import cv2

        with self._video_lock:
            cap = cv2.VideoCapture(str(v.source))
            try:
                cap.set(cv2.CAP_PROP_POS_FRAMES, number)
                ok, image = cap.read()
            finally:
                cap.release()
        if not ok or image is None:
            raise LabelFileError(f"{v.source.name}: frame {number} cannot be decoded (damaged or shorter video?).")
        return image

    def add_frame(self, frame: int, number: int) -> int:
        """Extract frame ``number`` of the videos of ``frame``'s views into their folders; returns its frame index.

        Every view of the frame gets the same frame number (the videos of a
        calibrated rig are synchronized), written as DeepLabCut names
        extracted frames (``img`` + the zero-padded number). An image already
        on disk is kept, never overwritten. The new images get no row in the
        label file until something is labelled on them.
        """
        members = self._frame(frame)["members"]
        videos = [vi for vi, _ in members]
        images = []
        for vi in videos:
            v = self.videos[vi]
            image = self.video_frame(vi, number)
            digits = max(1, int(np.ceil(np.log10(max(v.source_frames, 2)))))  # DeepLabCut's rule
            name = f"img{number:0{digits}d}.png"
            images.append((vi, f"labeled-data/{v.name}/{name}", v.folder / name, image))
        import cv2

        with self._lock:
            for vi, relative, path, image in images:
                v = self.videos[vi]
                if not path.exists():
                    with atomic_path(path) as tmp:
                        if not cv2.imwrite(str(tmp), image):
                            raise LabelFileError(f"{path}: the frame could not be written.")
                if relative not in v.rows:
                    v.labels = _append_images(v.labels, [relative])
                    v.rows = {name: r for r, name in enumerate(v.labels.images)}
                    if v.predictions is not None and v.likelihood is not None:
                        v.predictions = np.concatenate([v.predictions, np.full((1,) + v.predictions.shape[1:], np.nan)])
                        v.likelihood = np.concatenate([v.likelihood, np.full((1,) + v.likelihood.shape[1:], np.nan)])
            self.frames = self._group_frames()
            target = {(vi, relative) for vi, relative, _, _ in images}
            for i, f in enumerate(self.frames):
                if target & set(f["members"]):
                    return i
        raise LabelFileError(f"frame {number} was extracted but is not shown; reload the page.")

    def progress(self) -> dict:
        """Labelled points per frame and per body part, over all views and individuals."""
        with self._lock:
            per_frame, per_bp, totals = [], np.zeros(len(self.bodyparts), int), np.zeros(len(self.bodyparts), int)
            for frame in self.frames:
                done = 0
                for vi, name in frame["members"]:
                    video = self.videos[vi]
                    labelled = video.labels.labelled[video.rows[name]]  # (individuals, bodyparts)
                    done += int(labelled.sum())
                    per_bp += labelled.sum(0)
                    totals += labelled.shape[0]
                per_frame.append([done, len(frame["members"]) * len(self.individuals) * len(self.bodyparts)])
        return {"frames": per_frame, "bodyparts": np.stack([per_bp, totals], 1).tolist()}

    def geometry(self, index: int, individual: int, bodypart: int | None) -> dict:
        """Proposals and disagreement for every body part, epipolar curves for ``bodypart``.

        Only views with a camera of the calibration take part; the result has
        one entry per view of the frame (``None`` for the others).
        """
        frame = self._frame(index)
        n_views = len(frame["members"])
        out: dict = {"index": index, "proposed": [None] * n_views, "error": [None] * n_views,
                     "flagged": [None] * n_views, "epipolar": [None] * n_views}  # fmt: skip
        if self.rig is None:
            return out
        calibrated = [(k, vi, name) for k, (vi, name) in enumerate(frame["members"]) if self.videos[vi].camera]
        if len(calibrated) < 2:
            return out
        with self._lock:
            labels = np.stack([
                self.videos[vi].labels.points[self.videos[vi].rows[name], individual] for _, vi, name in calibrated
            ])  # (V, K, 2)  # fmt: skip
        rig = self.rig.select([self.videos[vi].camera for _, vi, _ in calibrated])
        prop = propose(rig, labels, self.config.geometry)
        for j, (k, _, _) in enumerate(calibrated):
            out["proposed"][k] = _json_points(prop.proposed[j])
            out["error"][k] = _json_values(prop.error[j])
            out["flagged"][k] = prop.flagged[j].tolist()
        if bodypart is not None:
            for j, (k, _, _) in enumerate(calibrated):
                if not np.isfinite(labels[j, bodypart]).all():
                    continue
                curves = epipolar_curves(rig, j, labels[j, bodypart], self.config.geometry)
                out["epipolar"][k] = [None] * n_views
                for jj, (kk, _, _) in enumerate(calibrated):
                    out["epipolar"][k][kk] = [np.round(c, 2).tolist() for c in curves[jj]]
        return out

    # ------------------------------------------------------------------ edits

    def set_point(
        self, video: int, image: str, individual: int, bodypart: int, xy: list[float] | None, revision: str
    ) -> dict:
        """Place, move (``xy``) or delete (``None``) one label and write the file (see :meth:`set_points`)."""
        result = self.set_points([{"video": video, "image": image, "individual": individual, "bodypart": bodypart,
                                   "xy": xy, "revision": revision}])  # fmt: skip
        out = result["videos"][0]
        return {"video": video, "revision": out["revision"], "labels": out["images"][image]}

    def set_points(self, edits: list[dict]) -> dict:
        """Apply several edits at once: every file touched is written once (atomically).

        Each edit is ``{video, image, individual, bodypart, xy, revision}``
        with ``xy`` two finite pixel coordinates inside the image, or
        ``None`` to delete. All edits are checked before any file is written:
        a bad one raises :class:`~mocap3d.errors.LabelFileError` and a stale
        revision :class:`LabelConflict` (the labels are then reloaded), and
        nothing is written. Returns ``{"videos": [{"video", "revision",
        "images": {image: labels of that row}}]}``.
        """
        if not edits:
            return {"videos": []}
        with self._lock:
            by_video: dict[int, list[dict]] = {}
            checked: set[tuple[int, str]] = set()
            for e in edits:
                video = e["video"]
                if not 0 <= video < len(self.videos):
                    raise LabelFileError(f"video {video} does not exist (the project has {len(self.videos)}).")
                v = self.videos[video]
                if (video, e["image"]) not in checked:
                    if e["image"] not in v.rows or safe_image(self.root, e["image"]) is None:
                        raise LabelFileError(f"{e['image']} is not an image of {v.name}.")
                    checked.add((video, e["image"]))
                if not 0 <= e["individual"] < len(self.individuals):
                    raise LabelFileError(
                        f"individual {e['individual']} does not exist (the project has {len(self.individuals)})."
                    )
                if not 0 <= e["bodypart"] < len(self.bodyparts):
                    raise LabelFileError(
                        f"body part {e['bodypart']} does not exist (the project has {len(self.bodyparts)}, "
                        f"0 to {len(self.bodyparts) - 1})."
                    )
                if e["xy"] is not None:
                    self._check_xy(video, e["image"], e["xy"])
                by_video.setdefault(video, []).append(e)
            for video, group in by_video.items():
                self._check_revision(self.videos[video], {e["revision"] for e in group})
            out = []
            for video, group in by_video.items():
                v = self.videos[video]
                points = v.labels.points.copy()
                for e in group:
                    xy = e["xy"]
                    points[v.rows[e["image"]], e["individual"], e["bodypart"]] = (
                        np.nan if xy is None else np.asarray(xy, dtype=np.float64)
                    )
                self._write(v, v.labels.with_points(points))
                images = {e["image"]: _json_points(points[v.rows[e["image"]]]) for e in group}
                out.append({"video": video, "revision": v.revision, "images": images})
            return {"videos": out}

    def _check_xy(self, video: int, image: str, xy) -> None:
        point = np.asarray(xy, dtype=np.float64)
        if point.shape != (2,) or not np.isfinite(point).all():
            raise LabelFileError(f"label coordinates must be two finite numbers [x, y], got {xy}.")
        size = self.image_size(video, image)
        if size is not None:
            w, h = size
            tol = 1e-6
            if not (-0.5 - tol <= point[0] <= w - 0.5 + tol and -0.5 - tol <= point[1] <= h - 0.5 + tol):
                raise LabelFileError(
                    f"label ({point[0]:g}, {point[1]:g}) is outside the {w}x{h} image {Path(image).name} "
                    f"(x from -0.5 to {w - 0.5:g}, y from -0.5 to {h - 0.5:g})."
                )

    def _check_revision(self, v: VideoLabels, revisions: set) -> None:
        if _stamp(v.path) != v.stamp:
            self._reload(v)
            raise LabelConflict(
                f"{v.path.name} of {v.name} was changed on disk by another program; its labels were reloaded "
                "and nothing was overwritten. Check the frame and place the point again.",
                v.revision,
            )
        stale = sorted(str(r) for r in revisions if r != v.revision)
        if stale:
            raise LabelConflict(
                f"the labels of {v.name} were changed in another tab or window since this page read them; nothing "
                "was overwritten. The page shows the current labels: place the point again if it is still needed.",
                v.revision,
            )

    def _write(self, v: VideoLabels, labels: LabelSet) -> None:
        """Save the rows with at least one label (DeepLabCut's layout), keep every row in memory."""
        keep = np.flatnonzero(labels.labelled.any(axis=(1, 2)))
        written = LabelSet(tuple(labels.images[i] for i in keep), labels.bodyparts, labels.individuals,
                           labels.points[keep], labels.scorer, labels.multi_animal, labels.index_style,
                           labels.source)  # fmt: skip
        save_labels(written, v.path)
        v.labels = labels
        v.stamp = _stamp(v.path)

    def _reload(self, v: VideoLabels) -> None:
        fresh = self._load_video(self.root, v.folder, self.scorer, self.bodyparts,
                                 self.individuals if self.multi_animal else None, self.warnings)  # fmt: skip
        v.labels, v.rows, v.stamp = fresh.labels, fresh.rows, fresh.stamp


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg")


def _source_video(root: Path, name: str, project: dict) -> tuple[Path | None, int]:
    """The video ``labeled-data/<name>`` was extracted from (DeepLabCut: same stem) and its frame count."""
    candidates = []
    for key in project.get("video_sets") or {}:
        path = Path(str(key))
        if path.stem == name:
            candidates += [path if path.is_absolute() else root / path, root / "videos" / path.name]
    candidates += sorted(p for p in (root / "videos").glob(f"{name}.*") if p.suffix.lower() in VIDEO_SUFFIXES)
    for path in candidates:
        if path.is_file():
            import cv2

            cap = cv2.VideoCapture(str(path))
            try:
                n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
            finally:
                cap.release()
            if n > 0:
                return path, n
    return None, 0


def _skeleton(pairs, bodyparts: tuple[str, ...]) -> list[tuple[int, int]]:
    """config.yaml's ``skeleton`` (pairs of body part names) as index pairs; unknown names are skipped."""
    out = []
    for pair in pairs or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(name in bodyparts for name in pair):
            out.append((bodyparts.index(pair[0]), bodyparts.index(pair[1])))
    return out


def _conform(
    labels: LabelSet, bodyparts: tuple[str, ...] | None, individuals: tuple[str, ...] | None, warnings: list[str]
) -> LabelSet:
    """The file's labels with the project's columns, or an error when that would drop any."""
    want_bp = bodyparts or labels.bodyparts
    want_ind = individuals or labels.individuals
    extra_bp = [b for b in labels.bodyparts if b not in want_bp]
    extra_ind = [i for i in labels.individuals if i not in want_ind and labels.multi_animal]
    if extra_bp or extra_ind:
        what = f"body parts {extra_bp}" if extra_bp else f"individuals {extra_ind}"
        raise LabelFileError(
            f"{labels.source}: has {what} that the project does not ({list(want_bp)}). Nothing was changed. "
            "Add them to config.yaml (bodyparts) or pass --bodyparts with every name in the file, so that no label "
            "is dropped."
        )
    if want_bp == labels.bodyparts and (want_ind == labels.individuals or not labels.multi_animal):
        return labels
    added = [b for b in want_bp if b not in labels.bodyparts]
    warnings.append(f"{Path(labels.source).parent.name}: columns for {added} added (the project has more body parts).")
    ind_names = want_ind if labels.multi_animal else (SINGLE,)
    points = np.full((len(labels.images), len(ind_names), len(want_bp), 2), np.nan)
    ii = [ind_names.index(i) for i in labels.individuals] if labels.multi_animal else [0]
    kk = [want_bp.index(b) for b in labels.bodyparts]
    points[:, np.array(ii)[:, None], np.array(kk)[None, :]] = labels.points
    return LabelSet(labels.images, want_bp, ind_names, points, labels.scorer, labels.multi_animal,
                    labels.index_style, labels.source)  # fmt: skip


def _append_images(labels: LabelSet, new: list[str]) -> LabelSet:
    pad = np.full((len(new),) + labels.points.shape[1:], np.nan)
    return LabelSet(labels.images + tuple(new), labels.bodyparts, labels.individuals,
                    np.concatenate([labels.points, pad]), labels.scorer, labels.multi_animal, labels.index_style,
                    labels.source)  # fmt: skip


def _prediction_file(folder: Path) -> Path | None:
    """The newest ``machinelabels-iter<N>.h5``, else another ``.h5`` that is not a label file, else None."""
    def iteration(p: Path) -> int:
        digits = re.findall(r"\d+", p.stem)
        return int(digits[-1]) if digits else -1

    candidates = sorted(folder.glob("machinelabels*.h5"), key=iteration) or sorted(
        p for p in folder.glob("*.h5") if not p.name.startswith("CollectedData_")
    )
    return candidates[-1] if candidates else None


def _attach_predictions(video: VideoLabels, root: Path, warnings: list[str]) -> None:
    """Refinement: a network's predictions for these frames, as editable starting points.

    DeepLabCut's outlier extraction writes ``machinelabels-iter<N>.h5`` (rows
    are image paths) beside the frames; a video's analysis ``.h5`` (rows are
    frame numbers, matched to the number in each image name) works too.
    """
    source = _prediction_file(video.folder)
    if source is None:
        return
    try:
        pred = load_predictions(source)
    except MocapError as exc:
        warnings.append(f"{video.name}: predictions in {source.name} not used ({exc})")
        return
    labels = video.labels
    bp = [pred.bodyparts.index(b) if b in pred.bodyparts else -1 for b in labels.bodyparts]
    ind = [pred.individuals.index(i) if i in pred.individuals else (0 if not labels.multi_animal else -1)
           for i in labels.individuals]  # fmt: skip
    if all(b < 0 for b in bp):
        warnings.append(f"{video.name}: {source.name} has none of the project's body parts; not used.")
        return
    if pred.images is not None:
        key = {name: r for r, name in enumerate(pred.images)}
        rows = np.array([key.get(name, -1) for name in labels.images])
    else:
        numbers = [re.findall(r"\d+", Path(name).stem) for name in labels.images]
        rows = np.array([int(n[-1]) if n and int(n[-1]) < len(pred.points) else -1 for n in numbers])
    points = np.full(labels.points.shape, np.nan)
    like = np.full(labels.points.shape[:-1], np.nan)
    r_ok, i_ok, b_ok = np.flatnonzero(rows >= 0), np.flatnonzero(np.array(ind) >= 0), np.flatnonzero(np.array(bp) >= 0)
    sel = np.ix_(r_ok, i_ok, b_ok)
    src = np.ix_(rows[r_ok], np.array(ind)[i_ok], np.array(bp)[b_ok])
    points[sel] = pred.points[src]
    like[sel] = pred.likelihood[src]
    video.predictions, video.likelihood = points, like
    log.info("%s: predictions from %s for %d images", video.name, source.name, r_ok.size)


def _json_points(points: np.ndarray) -> list:
    """(..., 2) array to nested lists, ``None`` for an unlabelled (NaN) point."""
    arr = np.asarray(points, dtype=np.float64)

    def fix(x, depth: int):
        if depth == arr.ndim - 1:
            return x if x[0] == x[0] and x[1] == x[1] else None  # NaN is the only float not equal to itself
        return [fix(v, depth + 1) for v in x]

    return fix(arr.tolist(), 0)


def _json_values(values: np.ndarray) -> list:
    """Array to nested lists, ``None`` for NaN."""

    def fix(x):
        if isinstance(x, list):
            return [fix(v) for v in x]
        return None if x != x else x

    return fix(np.asarray(values, dtype=np.float64).tolist())
