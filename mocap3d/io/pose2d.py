"""2D pose files: DeepLabCut, SLEAP analysis HDF5 and OpenPose/RTMPose JSON folders.

Every reader returns a :class:`~mocap3d.poses.Track2D` (one view): ``points``
``(frames, individuals, keypoints, 2)`` in pixels, NaN where a keypoint was
not detected, and ``scores`` ``(frames, individuals, keypoints)``, 0 there.

Formats
-------
DeepLabCut ``.h5``
    A pandas (PyTables) store, key ``df_with_missing``; columns are a
    MultiIndex ``(scorer, bodyparts, coords)``, or ``(scorer, individuals,
    bodyparts, coords)`` for multi-animal projects; ``coords`` are ``x, y,
    likelihood`` (analysis output) or ``x, y`` (human labels, read with score 1
    where labelled). Rows are frames in file order (labels' image paths are
    not kept).
DeepLabCut ``.csv``
    The same table with 3 or 4 header rows, and 1 index column (frame number)
    or several (labels: ``labeled-data, video, image``).
SLEAP analysis ``.h5``
    h5py datasets stored transposed (MATLAB order): ``tracks`` ``(tracks, 2,
    nodes, frames)``, ``point_scores`` ``(tracks, nodes, frames)``,
    ``instance_scores`` and ``tracking_scores`` ``(tracks, frames)``,
    ``track_occupancy`` ``(frames, tracks)``, ``node_names`` and
    ``track_names`` as byte strings. SLEAP scores are not probabilities (they
    may exceed 1) and are passed through unchanged.
OpenPose / RTMPose JSON folder
    One file per frame (``cam01.0000.json`` in Pose2Sim, ``video_000000000000_
    keypoints.json`` from OpenPose), ordered by the last number in the file
    name. ``people[i].pose_keypoints_2d`` is ``[x, y, c] * K``; ``people[i]``
    is individual ``i`` (Pose2Sim's associated files keep that order and write
    ``{}`` for a person not seen). A keypoint with confidence 0 is missing.
    The files carry no keypoint names: they come from ``keypoint_preset``
    (see :data:`KEYPOINT_PRESETS`) or generic ``kp0, kp1, ...``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PoseFileError, check_path_text
from ..poses import DEFAULT_INDIVIDUAL, Track2D, finite_points
from ._text import number_rows
from .atomic import atomic_path, atomic_write_text
from .sleap import load_sleap_analysis, save_sleap_analysis

__all__ = [
    "KEYPOINT_PRESETS",
    "load_track2d",
    "load_dlc",
    "load_sleap_analysis",
    "load_openpose_folder",
    "save_dlc",
    "save_sleap_analysis",
    "save_openpose_folder",
]

log = logging.getLogger(__name__)

FORMATS = ("dlc", "sleap", "openpose", "nwb")

_COCO_17 = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
    "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
)  # fmt: skip

#: Keypoint names, in the order of the model's output, for JSON files (which
#: carry no names). Names follow Pose2Sim's skeletons so that outputs line up
#: with its TRC files and OpenSim models.
KEYPOINT_PRESETS: dict[str, tuple[str, ...]] = {
    # Pose2Sim's default OpenPose model (the Pose2Sim demo uses it).
    "BODY_25B": _COCO_17 + ("Neck", "Head", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"),
    # OpenPose's default model.
    "BODY_25": (
        "Nose",
        "Neck",
        "RShoulder",
        "RElbow",
        "RWrist",
        "LShoulder",
        "LElbow",
        "LWrist",
        "MidHip",
        "RHip",
        "RKnee",
        "RAnkle",
        "LHip",
        "LKnee",
        "LAnkle",
        "REye",
        "LEye",
        "REar",
        "LEar",
        "LBigToe",
        "LSmallToe",
        "LHeel",
        "RBigToe",
        "RSmallToe",
        "RHeel",
    ),  # fmt: skip
    "COCO_17": _COCO_17,
    # RTMPose body models trained on Halpe (Pose2Sim's default with RTMLib).
    "HALPE_26": _COCO_17 + ("Head", "Neck", "Hip", "LBigToe", "RBigToe", "LSmallToe", "RSmallToe", "LHeel", "RHeel"),
}

# When no preset is named, a keypoint count picks this one (25 is ambiguous:
# BODY_25B is what Pose2Sim uses and ships in its demo).
_DEFAULT_PRESET_BY_COUNT = {25: "BODY_25B", 17: "COCO_17", 26: "HALPE_26"}

_DLC_LEVELS = ("scorer", "individuals", "bodyparts", "coords")


# --------------------------------------------------------------------------- dispatch


def load_track2d(path: str | Path, fmt: str | None = None, keypoint_preset: str | None = None) -> Track2D:
    """Read one view's 2D keypoints from any supported file (through :mod:`mocap3d.io.registry`).

    Parameters
    ----------
    path : a DeepLabCut ``.h5``/``.csv``, a SLEAP analysis ``.h5`` or labels
        ``.slp``, an NWB ``.nwb`` (ndx-pose), or a folder of OpenPose/RTMPose
        ``*.json`` files.
    fmt : a format name (``"dlc"``, ``"sleap"``, ``"openpose"``, ``"nwb"``)
        that always wins. Otherwise: a folder is OpenPose; an ``.h5`` with a
        ``tracks`` dataset is SLEAP, any other ``.h5`` DeepLabCut; a ``.csv``
        is DeepLabCut.
    keypoint_preset : names for JSON keypoints, a key of
        :data:`KEYPOINT_PRESETS` (ignored for other formats).

    Raises
    ------
    PoseFileError
        Missing, unreadable, truncated or unrecognised files; the message
        names the file and the accepted formats.
    """
    from .registry import load_track2d as _load

    path = Path(path)
    if fmt is None:
        if not path.exists():
            raise PoseFileError(f"{path}: no such file or folder.")
        fmt = _detect_format(path)
    return _load(path, fmt=fmt, keypoint_preset=keypoint_preset)


def sniff_dlc(path: Path) -> bool:
    """Whether ``path`` looks like a DeepLabCut table: a CSV starting with ``scorer``, or an HDF5 that is
    neither SLEAP's nor a mocap3d result."""
    if path.suffix.lower() == ".csv":
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().startswith("scorer")
        except (OSError, UnicodeDecodeError):
            return False
    try:
        return _detect_format(path) == "dlc"
    except PoseFileError:
        return False


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "openpose"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "dlc"
    if suffix == ".slp":
        return "sleap"
    if suffix == ".nwb":
        return "nwb-2d"
    if suffix in (".h5", ".hdf5"):
        h5py = _h5py()
        if not h5py.is_hdf5(path):
            raise PoseFileError(
                f"{path}: not a readable HDF5 file (truncated or corrupt?). Re-export it from DeepLabCut or SLEAP."
            )
        try:
            with h5py.File(path, "r") as f:
                is_sleap = "tracks" in f or "track_occupancy" in f
                is_3d = f.attrs.get("format") == "mocap3d.poses3d"
        except OSError as exc:
            raise PoseFileError(
                f"{path}: cannot open this HDF5 file ({str(exc).splitlines()[0]}); it is probably truncated or corrupt."
            ) from exc
        if is_3d:
            raise PoseFileError(
                f"{path}: this is a mocap3d 3D result (triangulated points), not 2D keypoints; read it with "
                "mocap3d.io.pose3d.load_poses3d, or pass the 2D files it was made from."
            )
        return "sleap" if is_sleap else "dlc"
    if suffix == ".json":
        raise PoseFileError(
            f"{path}: OpenPose/RTMPose output is one JSON file per frame; pass the folder that holds them "
            f"({path.parent}), one folder per camera."
        )
    raise PoseFileError(
        f"{path}: cannot tell the 2D pose format from '{suffix or path.name}'. Accepted: DeepLabCut .h5/.csv, "
        "SLEAP analysis .h5 or .slp, NWB .nwb, or a folder of OpenPose/RTMPose .json files (or pass "
        "fmt='dlc'|'sleap'|'openpose'|'nwb')."
    )


def _h5py():
    import h5py  # local: importing mocap3d.io should stay light

    return h5py


# --------------------------------------------------------------------------- DeepLabCut


def load_dlc(path: str | Path) -> Track2D:
    """Read a DeepLabCut ``.h5`` (pandas store) or ``.csv`` file (see module docstring)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        values, levels = _read_dlc_csv(path)
    else:
        values, levels = _read_dlc_h5(path)
    return _track_from_dlc_columns(values, levels, str(path))


def read_dlc_hdf(path: Path, error: type[Exception], keys: tuple[str, ...] = ("df_with_missing",),
                 damaged_hint: str = "re-export it from DeepLabCut."):
    """The pandas table of a DeepLabCut HDF5 file (predictions or labels), or ``error`` saying what is wrong.

    The table is read from the first of ``keys`` present (DeepLabCut writes
    ``df_with_missing``; some tools ``keypoints``), or from the file's only key.
    """
    import pandas as pd

    check_path_text(path, "DeepLabCut HDF5 file")  # PyTables cannot open such names (h5py can)
    try:
        with pd.HDFStore(path, mode="r") as store:
            present = [k.lstrip("/") for k in store.keys()]
            key = next((k for k in keys if k in present), present[0] if len(present) == 1 else None)
            if key is None:
                raise error(
                    f"{path}: expected a DeepLabCut table under key {' or '.join(repr(k) for k in keys)} (or a "
                    f"single table); found keys {present or 'none'}. Is this a DeepLabCut output or labels file?"
                )
            df = store[key]
    except error:
        raise
    except Exception as exc:  # PyTables/HDF5 raise many types for damaged files
        raise error(
            f"{path}: cannot read it as a DeepLabCut HDF5 table ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). The file is probably "
            f"truncated or corrupt; {damaged_hint}"
        ) from exc
    if not isinstance(df, pd.DataFrame):
        raise error(f"{path}: holds a {type(df).__name__}, not a DeepLabCut table.")
    return df


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles only built-in values (lists, tuples, dicts, strings, numbers): PyTables' attributes, no code."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _plain_attr(value) -> Any:
    data = value.tobytes() if isinstance(value, np.ndarray | np.bytes_) else value
    return _PlainUnpickler(io.BytesIO(data)).load() if isinstance(data, bytes) else data


def _read_dlc_h5_direct(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The columns of a DeepLabCut table read straight from its PyTables layout, or ``None`` if it has another.

    pandas writes a ``format="table"`` DataFrame of float columns as one HDF5
    table with fields ``index`` and ``values_block_0`` (frames, columns); the
    column labels are pickled attributes. Reading that block with h5py is one
    array read, without pandas (whose import and DataFrame building cost more
    than the data). Anything else (several blocks, fixed format, other keys,
    unusual labels) returns ``None`` and is read through pandas, which also
    words the errors.
    """
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            keys = list(f.keys())
            key = "df_with_missing" if "df_with_missing" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None or not isinstance(f[key], h5py.Group) or "table" not in f[key]:
                return None
            group, table = f[key], f[key]["table"]
            if group.attrs.get("pandas_type") != b"frame_table" or _plain_attr(group.attrs["values_cols"]) != [
                "values_block_0"
            ]:
                return None
            columns = _plain_attr(table.attrs["values_block_0_kind"])
            axes = _plain_attr(group.attrs["non_index_axes"])
            names = _plain_attr(group.attrs["info"])[1]["names"]
            field = table.dtype.fields.get("values_block_0") if table.dtype.fields else None
            if field is None or field[0].base != np.float64 or field[0].shape != (len(columns),):
                return None
            # the whole records, then the field: HDF5's conversion to a field subset costs more than the data
            values = np.ascontiguousarray(table[()]["values_block_0"])
    except (OSError, KeyError, IndexError, TypeError, ValueError, pickle.UnpicklingError, EOFError):
        return None
    ok_labels = all(isinstance(c, tuple) and len(c) in (3, 4) and all(isinstance(v, str) for v in c) for c in columns)
    if not ok_labels or axes != [(1, columns)] or len({len(c) for c in columns}) != 1 or len(names) != len(columns[0]):
        return None
    if any(v == "nan" for c in columns for v in c):  # pandas' stand-in for a missing label: let pandas decode it
        return None
    default = _DLC_LEVELS if len(names) == 4 else ("scorer", "bodyparts", "coords")
    labels = np.array(columns, dtype=object).astype(str)
    levels = {}
    for pos, name in enumerate(default):
        at = names.index(name) if name in names else pos
        levels[name] = labels[:, at]
    return np.asarray(values, dtype=np.float64).reshape(len(values), len(columns)), levels


def _read_dlc_h5(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    direct = _read_dlc_h5_direct(path)
    if direct is not None:
        return direct
    df = read_dlc_hdf(path, PoseFileError)
    if df.columns.nlevels not in (3, 4):
        raise PoseFileError(
            f"{path}: not a DeepLabCut table (columns must have levels scorer, [individuals,] bodyparts, coords)."
        )
    names = list(df.columns.names)
    nlev = df.columns.nlevels
    default = _DLC_LEVELS if nlev == 4 else ("scorer", "bodyparts", "coords")
    levels = {}
    for pos, name in enumerate(default):
        at = names.index(name) if name in names else pos
        levels[name] = np.asarray(df.columns.get_level_values(at), dtype=object).astype(str)
    try:
        values = df.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PoseFileError(f"{path}: non-numeric values in the coordinate columns ({exc}).") from exc
    return values, levels


def _read_dlc_csv(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    import pandas as pd

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: cannot read this file as text ({exc}).") from exc
    lines = text.splitlines()
    n_header = 0
    while n_header < min(4, len(lines)) and lines[n_header].split(",", 1)[0] in _DLC_LEVELS:
        n_header += 1
    header = list(csv.reader(lines[:n_header]))  # names may be quoted (commas, quotes inside)
    first_cells = [h[0] for h in header]
    if first_cells not in (["scorer", "bodyparts", "coords"], list(_DLC_LEVELS)):
        raise PoseFileError(
            f"{path}: not a DeepLabCut CSV; its first rows must start with 'scorer', ['individuals',] 'bodyparts', "
            f"'coords' (found {[line[:30] for line in lines[:3]]})."
        )
    n_cols = len(header[0])
    if any(len(h) != n_cols for h in header):
        raise PoseFileError(f"{path}: the header rows have different numbers of columns (damaged file?).")
    # Labels files have several index columns (labeled-data, video, image): their header cells are empty.
    n_index = 1
    while n_index < n_cols and header[0][n_index] == "":
        n_index += 1
    body = [line for line in lines[n_header:] if line.strip()]
    widths = {line.count(",") for line in body}
    if widths - {n_cols - 1}:
        bad = next(i for i, line in enumerate(body) if line.count(",") != n_cols - 1)
        raise PoseFileError(
            f"{path}: data row {bad + 1} has {body[bad].count(',') + 1} fields, the header {n_cols}; the file is "
            "truncated or damaged. Re-export it from DeepLabCut."
        )
    if body:
        try:
            table = pd.read_csv(
                io.StringIO("\n".join(body)),
                header=None,
                usecols=range(n_index, n_cols),
                dtype=np.float64,
                na_values=["", "nan", "NaN"],
                keep_default_na=False,
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise PoseFileError(f"{path}: non-numeric values in the coordinate columns ({exc}).") from exc
        values = table.to_numpy(dtype=np.float64)
    else:
        values = np.zeros((0, n_cols - n_index))
    levels = {
        name: np.array(h[n_index:], dtype=object).astype(str) for name, h in zip(first_cells, header, strict=True)
    }
    return values, levels


def dlc_scorer(path: str | Path) -> str | None:
    """The scorer (first column level) of a DeepLabCut ``.h5``/``.csv`` table; None when it has none or is not one.

    DeepLabCut's tools find an analysis file as ``<video><scorer>*.h5`` and
    then index its columns by that scorer, so a rewritten file must keep it.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            _, levels = _read_dlc_csv(path)
        else:
            _, levels = _read_dlc_h5(path)
    except PoseFileError:
        return None
    scorers = list(dict.fromkeys(levels["scorer"]))
    return scorers[0] if len(scorers) == 1 else None


def dlc_analysis_name(video: str | Path, scorer: str, filtered: bool = False, suffix: str = ".h5") -> str:
    """The file name DeepLabCut gives the analysis of ``video``: ``<video stem><scorer>[_filtered].h5``.

    DeepLabCut's scorers start with ``DLC`` (``DLC_resnet50_openfieldOct30shuffle1_1030000``) and its
    ``find_analyzed_data`` picks files that start with ``<video stem><scorer>``; a scorer without the
    prefix gets ``DLC_`` in front, so that the name and the table's scorer level agree.
    """
    full = scorer if scorer.startswith("DLC") else f"DLC_{scorer}"
    return f"{Path(video).stem}{full}{'_filtered' if filtered else ''}{suffix}"


def _track_from_dlc_columns(values: np.ndarray, levels: dict[str, np.ndarray], source: str) -> Track2D:
    """Scatter a DLC table ``(frames, columns)`` into Track2D arrays (vectorized over columns)."""
    scorers = list(dict.fromkeys(levels["scorer"]))
    if len(scorers) > 1:
        raise PoseFileError(f"{source}: holds several scorers {scorers}; keep one network's output per file.")
    n_cols = values.shape[1]
    ind_col = levels.get("individuals", np.full(n_cols, DEFAULT_INDIVIDUAL, dtype=object))
    bp_col, coord_col = levels["bodyparts"], levels["coords"]
    individuals = list(dict.fromkeys(ind_col))
    keypoints = list(dict.fromkeys(bp_col))
    coords = set(coord_col)
    if not {"x", "y"} <= coords or coords - {"x", "y", "likelihood"}:
        raise PoseFileError(f"{source}: coords must be x, y[, likelihood]; found {sorted(coords)}.")
    n_frames = values.shape[0]
    k = len(keypoints)
    if (len(individuals) == 1 and n_cols == 3 * k and list(coord_col) == ["x", "y", "likelihood"] * k
            and list(bp_col) == [bp for bp in keypoints for _ in range(3)]):  # fmt: skip
        # the usual single-animal layout (x, y, likelihood per body part, in order): views of the table, no scatter
        table = (values if values.flags.writeable else values.copy()).reshape(n_frames, 1, k, 3)
        return Track2D(table[..., :2], table[..., 2], tuple(keypoints), tuple(individuals), source=source, copy=False)
    ii = np.array([individuals.index(v) for v in ind_col])
    kk = np.array([keypoints.index(v) for v in bp_col])
    out = np.full((3, n_frames, len(individuals), len(keypoints)), np.nan)
    for c, name in enumerate(("x", "y", "likelihood")):
        sel = coord_col == name
        if len(set((ii[sel] * len(keypoints) + kk[sel]).tolist())) != sel.sum():  # (np.unique loads numpy.ma)
            raise PoseFileError(f"{source}: a body part has its '{name}' column twice.")
        out[c][:, ii[sel], kk[sel]] = values[:, sel]
    points = np.stack([out[0], out[1]], axis=-1)
    seen = finite_points(points)
    scores = out[2] if "likelihood" in coords else np.where(seen, 1.0, 0.0)
    return Track2D(points, scores, tuple(keypoints), tuple(individuals), source=source, copy=False)


def _dlc_frame(track: Track2D, scorer: str):
    import pandas as pd

    f, n_ind, n_kp, _ = track.points.shape
    data = np.concatenate([track.points, track.scores[..., None]], axis=-1)  # (F, I, K, 3)
    seen = np.isfinite(track.points).all(-1)
    data[..., 2] = np.where(seen, data[..., 2], np.nan)  # DeepLabCut writes NaN likelihood where nothing was found
    if n_ind == 1:
        cols = pd.MultiIndex.from_product(
            [[scorer], list(track.keypoints), ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
        )
    else:
        cols = pd.MultiIndex.from_product(
            [[scorer], list(track.individuals), list(track.keypoints), ["x", "y", "likelihood"]], names=_DLC_LEVELS
        )
    return pd.DataFrame(data.reshape(f, n_ind * n_kp * 3), columns=cols, index=np.arange(f))


def save_dlc(track: Track2D, path: str | Path, scorer: str = "mocap3d") -> Path:
    """Write a DeepLabCut analysis table: ``.h5`` (key ``df_with_missing``) or ``.csv``, by suffix.

    One individual gives the single-animal layout ``(scorer, bodyparts,
    coords)``, several the multi-animal one ``(scorer, individuals, bodyparts,
    coords)``; coords are ``x, y, likelihood`` (NaN where not detected). The
    index is the frame number. Written atomically.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".csv"):
        raise PoseFileError(f"{path}: DeepLabCut files end in .h5 or .csv.")
    df = _dlc_frame(track, scorer)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            # pandas writes the header (and quotes odd names); the numbers go through the faster writer.
            header = df.iloc[:0].to_csv(lineterminator="\n")
            columns = [df.index.to_numpy()] + [df.iloc[:, j].to_numpy() for j in range(df.shape[1])]
            tmp.write_text(header + number_rows(columns, ","), encoding="utf-8")
        else:
            df.to_hdf(tmp, key="df_with_missing", format="table", mode="w")
            _mark_for_older_pandas(tmp)
    return path


def _mark_for_older_pandas(path: Path) -> None:
    """Add the attributes pandas < 3 (what DeepLabCut installs) needs to read a pandas 3 table.

    pandas 3 no longer writes ``pandas_version``; pandas 2 then takes the file
    for a pre-0.10 one, looks for the wrong column names and fails
    (``'NoneType' object has no attribute 'startswith'``). ``0.15.2`` and
    ``nan_rep = "nan"``, ``metadata = []`` are what pandas 2 itself writes
    (checked: pandas 2.2 reads the result).
    """
    import tables

    with tables.open_file(str(path), mode="a") as f:
        attrs = f.get_node("/df_with_missing")._v_attrs
        if "pandas_version" not in attrs._v_attrnames:
            attrs.pandas_version = "0.15.2"
        if getattr(attrs, "nan_rep", None) is None:
            attrs.nan_rep = "nan"
        if "metadata" not in attrs._v_attrnames:
            attrs.metadata = []


# SLEAP: see mocap3d.io.sleap (load_sleap_analysis and save_sleap_analysis are re-exported here).


# --------------------------------------------------------------------------- OpenPose / RTMPose JSON

_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _frame_numbers(files: Sequence[Path], folder: Path) -> np.ndarray:
    numbers = []
    for p in files:
        m = _NUMBER.search(p.stem)
        if m is None:
            raise PoseFileError(
                f"{folder}: cannot find a frame number in '{p.name}'; JSON files must be numbered "
                "(e.g. cam01.0000.json, video_000000000000_keypoints.json)."
            )
        numbers.append(int(m.group(1)))
    return np.array(numbers, dtype=np.int64)


def _resolve_preset(n_kp: int, keypoint_preset: str | None, folder: Path) -> tuple[str, ...]:
    if keypoint_preset is not None:
        key = keypoint_preset.upper()
        if key not in KEYPOINT_PRESETS:
            raise PoseFileError(
                f"unknown keypoint preset '{keypoint_preset}'; use one of: {', '.join(KEYPOINT_PRESETS)}."
            )
        names = KEYPOINT_PRESETS[key]
        if len(names) != n_kp:
            raise PoseFileError(
                f"{folder}: the JSON files have {n_kp} keypoints per person but preset {key} has {len(names)}; "
                "pick the preset of the model that produced them."
            )
        return names
    if n_kp in _DEFAULT_PRESET_BY_COUNT:
        key = _DEFAULT_PRESET_BY_COUNT[n_kp]
        if n_kp == 25:
            log.info(
                "%s: 25 keypoints per person, named as %s (pass keypoint_preset='BODY_25' for OpenPose's "
                "default model)",
                folder,
                key,
            )
        return KEYPOINT_PRESETS[key]
    return tuple(f"kp{i}" for i in range(n_kp))


def load_openpose_folder(folder: str | Path, keypoint_preset: str | None = None) -> Track2D:
    """Read a folder of OpenPose/RTMPose JSON files, one per frame.

    Frames are placed by the last number in each file name (relative to the
    smallest), so a missing file becomes a frame of NaN rather than shifting
    later frames. People: individual ``i`` is ``people[i]``; frames with fewer
    people (or ``{}``) leave the others missing. Keypoint names: see
    :data:`KEYPOINT_PRESETS`; without a preset, 17/25/26 keypoints are named as
    COCO_17/BODY_25B/HALPE_26 and other counts ``kp0, kp1, ...``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PoseFileError(f"{folder}: not a folder of OpenPose/RTMPose JSON files.")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise PoseFileError(f"{folder}: contains no .json files; point to the folder holding one JSON per frame.")
    numbers = _frame_numbers(files, folder)
    if np.unique(numbers).size != numbers.size:
        raise PoseFileError(
            f"{folder}: several JSON files have the same frame number; keep one camera's files per folder."
        )
    people_per_frame: list[list[np.ndarray | None]] = []
    n_kp = None
    for p in files:
        try:
            doc = json.loads(p.read_bytes())
            people = doc["people"] if isinstance(doc, dict) else None
            if not isinstance(people, list):
                raise ValueError("no 'people' list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PoseFileError(f"{p}: not a valid OpenPose JSON file ({exc}); it may be truncated.") from exc
        frame: list[np.ndarray | None] = []
        for person in people:
            flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
            if not flat:
                frame.append(None)
                continue
            arr = np.asarray(flat, dtype=np.float64)
            if arr.ndim != 1 or arr.size % 3:
                raise PoseFileError(f"{p}: 'pose_keypoints_2d' must be a flat list of x, y, confidence triplets.")
            if n_kp is None:
                n_kp = arr.size // 3
            elif arr.size != 3 * n_kp:
                raise PoseFileError(f"{p}: {arr.size // 3} keypoints per person, earlier files had {n_kp}.")
            frame.append(arr.reshape(-1, 3))
        people_per_frame.append(frame)
    if n_kp is None:  # nobody detected in any frame: only a preset can say how many keypoints
        n_kp = len(KEYPOINT_PRESETS.get((keypoint_preset or "").upper(), ()))
    names = _resolve_preset(n_kp, keypoint_preset, folder)
    pos = numbers - numbers.min()
    n_frames = int(pos.max()) + 1
    if n_frames != len(files):
        log.warning(
            "%s: %d frame numbers missing between %d and %d; they are read as missing frames",
            folder,
            n_frames - len(files),
            numbers.min(),
            numbers.max(),
        )
    n_ind = max((len(fr) for fr in people_per_frame), default=0)
    data = np.zeros((n_frames, max(n_ind, 1), n_kp, 3))
    for fi, frame in zip(pos, people_per_frame, strict=True):
        for pi, person in enumerate(frame):
            if person is not None:
                data[fi, pi] = person
    scores = data[..., 2]
    points = np.where((scores > 0)[..., None], data[..., :2], np.nan)
    individuals = tuple(f"individual_{i}" for i in range(points.shape[1]))
    return Track2D(points, np.where(scores > 0, scores, 0.0), names, individuals, source=str(folder))


def save_openpose_folder(track: Track2D, folder: str | Path, prefix: str) -> Path:
    """Write one OpenPose JSON per frame as Pose2Sim names them: ``{prefix}.{frame:04d}.json``.

    ``people[i]`` is individual ``i``; an individual not seen in a frame is
    ``{}`` (Pose2Sim's convention, which keeps the indices); a missing keypoint
    is ``0, 0, 0``. When no keypoint is seen at all, frame 0 keeps a person of
    zeros so that the keypoint count can be read back. Each file is written atomically; other ``{prefix}.N.json``
    files already in the folder (an earlier, longer export) are removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    f_count = track.n_frames
    width = max(4, len(str(max(f_count - 1, 0))))
    seen = np.isfinite(track.points).all(-1)
    flat = np.concatenate(
        [np.nan_to_num(track.points), np.where(seen, track.scores, 0.0)[..., None]], axis=-1
    )  # (F, I, K, 3)
    flat[~seen] = 0.0
    flat = flat.reshape(f_count, flat.shape[1], -1)
    present = seen.any(-1)
    if not present.any() and present.size:
        # Nobody seen anywhere: keep one zero-confidence person so that the keypoint count survives.
        present[0, 0] = True
    empty: dict[str, list] = {
        "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
        "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": [],
    }  # fmt: skip
    written = set()
    for fi in range(f_count):
        people = [
            {"person_id": [-1], "pose_keypoints_2d": flat[fi, pi].tolist(), **empty} if present[fi, pi] else {}
            for pi in range(flat.shape[1])
        ]
        name = f"{prefix}.{fi:0{width}d}.json"
        atomic_write_text(folder / name, json.dumps({"version": 1.3, "people": people}))
        written.add(name)
    # A previous, longer (or differently padded) export would otherwise add frames to this one.
    pattern = re.compile(re.escape(prefix) + r"\.\d+\.json")
    for stale in folder.glob(f"{prefix}.*.json"):
        if pattern.fullmatch(stale.name) and stale.name not in written:
            stale.unlink()
    return folder
