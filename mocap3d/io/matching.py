"""Match 2D pose files to the cameras of a calibration, by name.

Default rule: a file belongs to the camera whose name appears in the file's
name as whole *tokens* — runs of letters and digits separated by anything
else — so ``cam-A.h5``, ``session1_A.h5`` and ``cam01.0000.json`` match
cameras ``A``, ``A`` and ``cam01``, while camera ``cam_1`` does not match
``cam_10.h5`` and camera ``A`` does not match ``camA.h5`` or ``data.h5``.
Separators inside a camera name are not significant: camera ``cam_01``
matches the folder ``cam01_json`` (Pose2Sim's demo names them so). When the
file's own name matches no camera, its parent folder's name is tried (``A/pose.h5``).
When several camera names match, the longest (most tokens) wins if it
contains the others (``cam`` inside ``cam_1``); two unrelated matches are an
error. Matching is case-sensitive first, then case-insensitive when no camera
matched exactly, then with a leading ``cam`` removed from the file's words
(anipose's default naming ``vid-camA.h5`` for camera ``A``).

With ``cam_regex`` (anipose's ``[triangulation] cam_regex``, e.g.
``-cam([A-Z])$``) the first group of ``re.search`` on the file name without
its extension (then on the full name) is the camera name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..config import Config
from ..errors import PoseFileError
from ..poses import Poses2D, Track2D

__all__ = ["InputMatching", "match_files_to_cameras", "camera_for_file", "camera_name_from_path", "load_views",
           "load_tracks"]

_TOKEN = re.compile(r"[A-Za-z0-9]+")


def _tokens(text: str, fold: bool, strip_cam: bool = False) -> list[str]:
    toks = _TOKEN.findall(text)
    if fold:
        toks = [t.lower() for t in toks]
    if strip_cam:
        toks = [t[3:] if len(t) > 3 and t.lower().startswith("cam") else t for t in toks]
    return toks


def _spans(name_tokens: list[str], cam_tokens: list[str]) -> list[tuple[int, int]]:
    """Runs of whole name tokens that spell the camera name, separators ignored.

    Separators are ignored on both sides so that camera ``cam_01`` matches the
    folder ``cam01_json`` (Pose2Sim's demo) and camera ``cam01`` the file
    ``cam_01.h5``; runs start and end on token boundaries, so ``cam_1`` never
    matches ``cam_10``.
    """
    target = "".join(cam_tokens)
    if not target:
        return []
    spans = []
    for i in range(len(name_tokens)):
        text = ""
        for j in range(i, len(name_tokens)):
            text += name_tokens[j]
            if len(text) >= len(target):
                if text == target:
                    spans.append((i, j + 1))
                break
    return spans


def _match_text(text: str, camera_names: Sequence[str]) -> list[str]:
    """Cameras whose names occur in ``text`` as whole tokens, most specific only."""
    # Exact case first; then any case; then anipose's default naming, where 'camA' is camera 'A'.
    for fold, strip_cam in ((False, False), (True, False), (True, True)):
        toks = _tokens(text, fold, strip_cam)
        hits = {}
        for cam in camera_names:
            spans = _spans(toks, _tokens(cam, fold))
            if spans:
                hits[cam] = spans
        if hits:
            break
    else:
        return []

    def covered(cam: str) -> bool:
        # A match whose every occurrence lies inside a longer camera's match is not a separate camera.
        return all(
            any(o != cam and a <= s and e <= b and (b - a) > (e - s) for o in hits for (a, b) in hits[o])
            for (s, e) in hits[cam]
        )

    return [cam for cam in hits if not covered(cam)]


# DeepLabCut names analysis files <video><scorer>.h5 with scorers starting "DLC_" ("DeepCut_" before 2.1), glued
# to the video name: the scorer is cut off before looking for the camera name.
_DLC_SCORER = re.compile(r"(?:DLC|DeepCut)_[A-Za-z0-9].*$")


def _strip_suffix(path: Path) -> str:
    stem = path.name if path.is_dir() else path.stem
    return _DLC_SCORER.sub("", stem) or stem


def camera_for_file(path: str | Path, camera_names: Sequence[str], cam_regex: str | None = None) -> str | None:
    """The camera one file belongs to, or None when it matches none.

    Raises
    ------
    PoseFileError
        When the file matches two cameras, or ``cam_regex`` is invalid or
        captures a name that is not a camera of the calibration.
    """
    path = Path(path)
    cams = ", ".join(camera_names)
    if cam_regex is not None:
        try:
            pattern = re.compile(cam_regex)
        except re.error as exc:
            raise PoseFileError(f"--cam-regex '{cam_regex}' is not a valid regular expression ({exc}).") from exc
        m = pattern.search(_strip_suffix(path)) or pattern.search(path.name)
        if m is None:
            return None
        found = (m.group(1) if pattern.groups else m.group(0)).strip()
        if found not in camera_names:
            raise PoseFileError(
                f"{path}: --cam-regex '{cam_regex}' gives camera '{found}', which is not in the calibration "
                f"(cameras: {cams}). Adjust the pattern so that its first group is one of these names."
            )
        return found
    for text in (_strip_suffix(path), path.parent.name):
        hits = _match_text(text, camera_names)
        if len(hits) > 1:
            raise PoseFileError(
                f"{path}: the name matches several cameras ({', '.join(hits)}). Rename the file so that it contains "
                "exactly one camera name, or pass --cam-regex with a group that captures the camera name."
            )
        if hits:
            return hits[0]
    return None


def match_files_to_cameras(
    paths: Sequence[str | Path], camera_names: Sequence[str], cam_regex: str | None = None
) -> dict[str, Path]:
    """Assign each 2D pose file to a calibration camera.

    Parameters
    ----------
    paths : files (or JSON folders), one per camera.
    camera_names : the calibration's camera names, in rig order.
    cam_regex : optional pattern whose first group is the camera name.

    Returns
    -------
    dict camera name -> path, in the rig's camera order. Cameras without a
    file are absent (the caller decides whether enough cameras remain).

    Raises
    ------
    PoseFileError
        A file that matches no camera or several cameras, two files for one
        camera, or no files at all.
    """
    if not paths:
        raise PoseFileError("no 2D pose files were given.")
    cams = ", ".join(camera_names)
    found: dict[str, Path] = {}
    for p in map(Path, paths):
        cam = camera_for_file(p, camera_names, cam_regex)
        if cam is None:
            how = (
                f"the pattern --cam-regex '{cam_regex}' does not match its name"
                if cam_regex is not None
                else "no camera name appears in its name or its folder's name as a separate word"
            )
            raise PoseFileError(
                f"{p}: cannot tell which camera this file belongs to: {how}. The calibration's cameras are: {cams}. "
                "Rename the file to contain its camera name (e.g. 'session1_<camera>.h5'), or pass --cam-regex "
                "with a group that captures the camera name (e.g. '-cam([A-Z])$')."
            )
        if cam in found:
            raise PoseFileError(
                f"two files for camera '{cam}': {found[cam]} and {p}. Give one file per camera (one recording at a "
                "time)."
            )
        found[cam] = p
    return {cam: found[cam] for cam in camera_names if cam in found}


def load_views(
    paths: Sequence[str | Path],
    camera_names: Sequence[str],
    cam_regex: str | None = None,
    individual: str | int = 0,
    keypoints: Sequence[str] | None = None,
    *,
    fmt: str | None = None,
    keypoint_preset: str | None = None,
    fps: float | None = None,
) -> Poses2D:
    """Match files to cameras, read each, and align one individual across views.

    Returns a :class:`~mocap3d.poses.Poses2D` whose views are in the rig's
    camera order (cameras without a file are left out). Raises
    :class:`~mocap3d.errors.PoseFileError` for matching problems, unreadable
    files, different frame counts or no common body part.
    """
    tracks = load_tracks(paths, camera_names, cam_regex, fmt=fmt, keypoint_preset=keypoint_preset)
    return Poses2D.from_tracks(tracks, individual=individual, keypoints=keypoints, fps=fps)


def load_tracks(
    paths: Sequence[str | Path],
    camera_names: Sequence[str],
    cam_regex: str | None = None,
    *,
    fmt: str | None = None,
    keypoint_preset: str | None = None,
) -> dict[str, Track2D]:
    """Match files to cameras and read each one, all its individuals (camera name -> Track2D, rig order)."""
    from .pose2d import load_track2d

    matched = match_files_to_cameras(paths, camera_names, cam_regex)
    return {cam: load_track2d(p, fmt=fmt, keypoint_preset=keypoint_preset) for cam, p in matched.items()}


def camera_name_from_path(path: Path) -> str:
    """Camera name from a video or folder name: ``cam-A.mp4`` -> ``A``, ``cam_2`` -> ``2``, ``left.avi`` -> ``left``."""
    stem = path.stem if path.is_file() or path.suffix else path.name
    for prefix in ("cam-", "cam_", "camera-", "camera_", "cam"):
        if stem.lower().startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix):]
    return stem


@dataclass(frozen=True)
class InputMatching(Config):
    """How a recording's 2D files are matched to the rig and to one individual.

    Read by :func:`load_views` (and the pipeline's and sync's file matching);
    its keys live in the ``[triangulation]`` table, where anipose writes
    ``cam_regex``, or are given on the command line (``--cam-regex``,
    ``--individual``).

    Attributes
    ----------
    cam_regex : str or None
        Regular expression whose first group names the camera in a 2D file's
        name (anipose's ``cam_regex``); default: match camera names as tokens.
    individual : str or int
        Which individual of multi-animal files to use (a name, or an index).
    individuals : "all", a number, or None
        Several animals or people: associate every file's detections across
        cameras and track them (``"all"``: as many as found; a number: at most
        that many), as ``mocap3d triangulate --individuals`` does; None (the
        default): one individual, ``individual``.
    """

    cam_regex: str | None = None
    individual: str | int = 0
    individuals: str | int | None = None

    def __post_init__(self) -> None:
        value = self.individuals
        if value is None:
            return
        text = str(value).strip().lower()
        if isinstance(value, bool) or not (text == "all" or (text.isdigit() and int(text) >= 1)):
            raise self.error(f"[triangulation] individuals = {value!r}: write \"all\" (as many as are found) or the "
                             "number of individuals (e.g. 2), or leave it out for one animal.")  # fmt: skip
        object.__setattr__(self, "individuals", "all" if text == "all" else int(text))

    @property
    def n_individuals(self) -> int | None:
        """The most individuals to track (None: as many as found); only meaningful when ``individuals`` is set."""
        return self.individuals if isinstance(self.individuals, int) else None

    section: ClassVar[str] = "triangulation"
    what: ClassVar[str] = "input matching option"

    @classmethod
    def from_table(cls, table: Mapping[str, Any], source: str = "config") -> InputMatching:
        """This config's keys of a table that also holds other settings (e.g. ``[triangulation]``)."""
        return cls.from_dict({k: table[k] for k in cls.field_names() if k in table}, source)

    @classmethod
    def from_toml(cls, path: str | Path) -> InputMatching:
        from .settings import read_toml

        return cls.from_table(cls.table_of(read_toml(Path(path), "config file")), str(path))
