"""DeepLabCut label files: ``labeled-data/<video>/CollectedData_<scorer>.h5|csv``.

A label file is the human-annotated training set of one video: one row per
extracted image, two columns (``x``, ``y``) per body part, NaN where a body
part was not labelled. mocap3d reads and writes them exactly as DeepLabCut
does, so a project labelled here trains in DeepLabCut and the reverse.

Layout (checked against DeepLabCut's example project and napari-deeplabcut)
--------------------------------------------------------------------------
Columns
    A pandas MultiIndex ``(scorer, bodyparts, coords)``; multi-animal
    projects add ``individuals`` between scorer and bodyparts. ``coords`` are
    ``x, y`` (labels carry no likelihood), in pixels with pixel centres at
    integer coordinates ((0, 0) is the centre of the top-left pixel), as in
    DeepLabCut and OpenCV.
Index
    The image path relative to the project folder. DeepLabCut before 2.2 used
    one string (``labeled-data/m4s1/img0000.png``, backslashes when written on
    Windows); 2.2 and later write a 3-level MultiIndex ``("labeled-data",
    video, image)``. Both are read; :class:`LabelSet` keeps which one a file
    used so that saving it again writes the same layout.
``.h5``
    A pandas (PyTables) store, key ``df_with_missing`` (DeepLabCut) or
    ``keypoints`` (napari-deeplabcut); mocap3d writes ``df_with_missing``.
``.csv``
    The same table, 3 (or 4) header rows and 1 (or 3) index columns; written
    beside every ``.h5`` as DeepLabCut does.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

import numpy as np

from ..errors import LabelFileError
from ..poses import DEFAULT_INDIVIDUAL
from .atomic import atomic_path
from .pose2d import _mark_for_older_pandas

__all__ = [
    "LabelSet",
    "load_labels",
    "load_predictions",
    "save_predictions",
    "Predictions",
    "save_labels",
    "merge_labels",
    "label_file_path",
    "find_label_files",
    "missing_images",
]

log = logging.getLogger(__name__)

_LEVELS_SINGLE = ("scorer", "bodyparts", "coords")
_LEVELS_MULTI = ("scorer", "individuals", "bodyparts", "coords")
#: The individual name used for single-animal files (they have no individuals level).
SINGLE = DEFAULT_INDIVIDUAL
#: The name earlier versions used for it; a set named so is still written as single-animal.
_LEGACY_SINGLE = "single"


def is_single(individuals) -> bool:
    """True for the one placeholder individual of a single-animal file (today's or the older name)."""
    return tuple(individuals) in ((SINGLE,), (_LEGACY_SINGLE,))
INDEX_STYLES = ("multi", "string")


def _normalise_image(name: str) -> str:
    """One spelling per image: forward slashes (DeepLabCut on Windows writes backslashes)."""
    return PureWindowsPath(name).as_posix() if "\\" in name else name


@dataclass(frozen=True, eq=False)
class LabelSet:
    """Human labels of one DeepLabCut ``labeled-data/<video>`` folder.

    Attributes
    ----------
    images : tuple of str
        Image paths relative to the project folder, forward slashes
        (``labeled-data/<video>/img0001.png``), one per row.
    bodyparts, individuals : tuple of str
        Column names. Single-animal files have one individual, :data:`SINGLE`.
    points : ndarray, shape (images, individuals, bodyparts, 2), float64
        Pixel coordinates ``(x, y)``; NaN where a body part is not labelled.
    scorer : str
        DeepLabCut's ``scorer`` (the labeller's name from ``config.yaml``);
        it is also in the file name ``CollectedData_<scorer>``.
    multi_animal : bool
        Write the 4-level ``individuals`` layout (maDLC projects).
    index_style : ``"multi"`` | ``"string"``
        The index layout: DeepLabCut 2.2+'s 3-level ``("labeled-data",
        video, image)`` or the older single path string.
    """

    images: tuple[str, ...]
    bodyparts: tuple[str, ...]
    individuals: tuple[str, ...]
    points: np.ndarray
    scorer: str
    multi_animal: bool = False
    index_style: str = "multi"
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        points = np.array(self.points, dtype=np.float64)  # a copy: no array shared with the caller
        object.__setattr__(self, "images", tuple(_normalise_image(str(i)) for i in self.images))
        object.__setattr__(self, "bodyparts", tuple(str(b) for b in self.bodyparts))
        object.__setattr__(self, "individuals", tuple(str(i) for i in self.individuals))
        shape = (len(self.images), len(self.individuals), len(self.bodyparts), 2)
        if points.shape != shape:
            raise LabelFileError(
                f"label points have shape {points.shape}; expected (images, individuals, bodyparts, 2) = {shape}."
            )
        for what, names in (("images", self.images), ("bodyparts", self.bodyparts), ("individuals", self.individuals)):
            if len(set(names)) != len(names):
                dup = sorted({n for n in names if names.count(n) > 1})
                raise LabelFileError(f"label set has repeated {what} {dup}; each name may appear once.")
        if not self.individuals or not self.bodyparts:
            raise LabelFileError("a label set needs at least one body part and one individual.")
        if self.index_style not in INDEX_STYLES:
            raise LabelFileError(f"index_style must be one of {INDEX_STYLES}, not {self.index_style!r}.")
        if not self.multi_animal and len(self.individuals) != 1:
            raise LabelFileError(
                f"a single-animal label set has one individual, not {len(self.individuals)}; "
                "pass multi_animal=True for maDLC projects."
            )
        points[~np.isfinite(points).all(-1)] = np.nan  # half-labelled points are unlabelled
        points.flags.writeable = False
        object.__setattr__(self, "points", points)

    @classmethod
    def empty(
        cls,
        images,
        bodyparts,
        scorer: str,
        individuals=None,
        index_style: str = "multi",
    ) -> LabelSet:
        """A label set with every point unlabelled (NaN); multi-animal when ``individuals`` are given."""
        inds = tuple(individuals) if individuals else (SINGLE,)
        points = np.full((len(images), len(inds), len(bodyparts), 2), np.nan)
        return cls(tuple(images), tuple(bodyparts), inds, points, scorer, bool(individuals), index_style)

    def same_as(self, other: LabelSet) -> bool:
        """True when both sets hold the same names, layout and points (NaN equal to NaN)."""
        return (self.images, self.bodyparts, self.individuals, self.scorer, self.multi_animal, self.index_style) == (
            other.images,
            other.bodyparts,
            other.individuals,
            other.scorer,
            other.multi_animal,
            other.index_style,
        ) and np.array_equal(self.points, other.points, equal_nan=True)

    @property
    def labelled(self) -> np.ndarray:
        """``(images, individuals, bodyparts)`` bool: True where a point is labelled."""
        return np.isfinite(self.points).all(-1)

    def with_points(self, points: np.ndarray) -> LabelSet:
        """The same set with new points ``(images, individuals, bodyparts, 2)``."""
        return LabelSet(
            self.images, self.bodyparts, self.individuals, points, self.scorer, self.multi_animal, self.index_style,
            self.source,
        )  # fmt: skip


# --------------------------------------------------------------------------- paths


def label_file_path(folder: str | Path, scorer: str) -> Path:
    """``folder/CollectedData_<scorer>.h5``, DeepLabCut's label file of one video folder."""
    return Path(folder) / f"CollectedData_{scorer}.h5"


def find_label_files(project: str | Path) -> list[Path]:
    """Every ``labeled-data/*/CollectedData_*.h5`` (or ``.csv`` when no ``.h5``) under a project, sorted."""
    root = Path(project)
    found: dict[Path, Path] = {}
    for path in sorted(root.glob("labeled-data/*/CollectedData_*.*")):
        if path.suffix.lower() in (".h5", ".csv"):
            key = path.with_suffix("")
            if key not in found or path.suffix.lower() == ".h5":
                found[key] = path
    return sorted(found.values())


def missing_images(labels: LabelSet, project: str | Path) -> list[str]:
    """The images of ``labels`` that do not exist under ``project`` (moved or renamed)."""
    root = Path(project)
    return [name for name in labels.images if not (root / name).is_file()]


# --------------------------------------------------------------------------- reading


def load_labels(path: str | Path) -> LabelSet:
    """Read a DeepLabCut ``CollectedData_<scorer>.h5`` or ``.csv`` (see module docstring).

    Raises :class:`~mocap3d.errors.LabelFileError` with what to do for a file
    that is not a label table (analysis output with likelihoods, several
    scorers, damaged files).
    """
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"{path}: no such label file. DeepLabCut keeps them in labeled-data/<video>/.")
    if path.suffix.lower() == ".csv":
        df = _read_csv(path)
    elif path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
        df = _read_h5(path)
    else:
        raise LabelFileError(f"{path}: label files end in .h5 or .csv (DeepLabCut's CollectedData_<scorer>.h5).")
    return _labels_from_frame(df, str(path))


def _read_h5(path: Path):
    from .pose2d import read_dlc_hdf

    return read_dlc_hdf(path, LabelFileError, ("df_with_missing", "keypoints"),
                        "its .csv twin, if present, can be read instead.")


def _read_csv(path: Path):
    import pandas as pd

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read this file as text ({exc}).") from exc
    lines = text.splitlines()
    n_header = 0
    while n_header < min(4, len(lines)) and lines[n_header].split(",", 1)[0] in _LEVELS_MULTI:
        n_header += 1
    header = list(csv.reader(lines[:n_header]))
    if [h[0] for h in header] not in (list(_LEVELS_SINGLE), list(_LEVELS_MULTI)):
        raise LabelFileError(
            f"{path}: not a DeepLabCut label CSV; its first rows must start with 'scorer', ['individuals',] "
            f"'bodyparts', 'coords' (found {[line[:30] for line in lines[:3]]})."
        )
    # The index columns (1 path, or labeled-data/video/image) have empty header cells after the level name.
    n_index = 1
    while n_index < len(header[0]) and header[0][n_index] == "":
        n_index += 1
    body = [line for line in lines[n_header:] if line.strip()]
    # The rows are parsed without pandas' header logic: it takes a first row without numbers (an image
    # with no labels yet) for a row of index names.
    try:
        table = (
            pd.read_csv(
                io.StringIO("\n".join(body)),
                header=None,
                dtype={i: str for i in range(n_index)},
                keep_default_na=False,
                na_values={i: ["", "nan", "NaN"] for i in range(n_index, len(header[0]))},
            )
            if body
            else pd.DataFrame(np.zeros((0, len(header[0]))))
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise LabelFileError(f"{path}: damaged DeepLabCut CSV ({exc}). Its .h5 twin, if present, can be read.") from exc
    if table.shape[1] != len(header[0]):
        raise LabelFileError(
            f"{path}: the data rows have {table.shape[1]} fields, the header {len(header[0])}; the file is "
            "truncated or damaged. Its .h5 twin, if present, can be read."
        )
    columns = pd.MultiIndex.from_arrays([h[n_index:] for h in header], names=[h[0] for h in header])
    if n_index == 1:
        index = pd.Index(table.iloc[:, 0].astype(str).tolist(), dtype=object)
    else:
        index = pd.MultiIndex.from_frame(table.iloc[:, :n_index].astype(str))
    return pd.DataFrame(table.iloc[:, n_index:].to_numpy(), index=index, columns=columns)


def _scatter(df, source: str, with_likelihood: bool):
    """A DeepLabCut table's columns as arrays: (scorer, individuals, bodyparts, points, likelihood or None).

    ``points`` is ``(rows, individuals, bodyparts, 2)``; vectorized over columns.
    """
    nlev = df.columns.nlevels
    if nlev not in (3, 4):
        raise LabelFileError(
            f"{source}: not a DeepLabCut table (columns must have levels scorer, [individuals,] bodyparts, coords)."
        )
    names = _LEVELS_MULTI if nlev == 4 else _LEVELS_SINGLE
    level = {name: np.asarray(df.columns.get_level_values(i), dtype=object).astype(str) for i, name in enumerate(names)}
    scorers = list(dict.fromkeys(level["scorer"]))
    if len(scorers) != 1:
        raise LabelFileError(f"{source}: holds several scorers {scorers}; a DeepLabCut file has one.")
    coords = set(level["coords"])
    if with_likelihood and coords not in ({"x", "y", "likelihood"}, {"x", "y"}):
        raise LabelFileError(
            f"{source}: predictions need x, y [and likelihood] columns (a DeepLabCut analysis or machinelabels "
            f"file); found {sorted(coords)}."
        )
    if not with_likelihood and "likelihood" in coords:
        raise LabelFileError(
            f"{source}: has 'likelihood' columns, so it is a network's predictions, not human labels. Open it as "
            "predictions (refinement mode) or convert the frames you corrected into a CollectedData file."
        )
    if not with_likelihood and coords != {"x", "y"}:
        raise LabelFileError(f"{source}: label coords must be x and y; found {sorted(coords)}.")
    ind_col = level.get("individuals", np.full(len(level["coords"]), SINGLE, dtype=object))
    individuals = list(dict.fromkeys(ind_col))
    bodyparts = list(dict.fromkeys(level["bodyparts"]))
    ii = np.array([individuals.index(v) for v in ind_col], dtype=int)
    kk = np.array([bodyparts.index(v) for v in level["bodyparts"]], dtype=int)
    cc = np.select([level["coords"] == "x", level["coords"] == "y"], [0, 1], 2)
    if np.unique((ii * len(bodyparts) + kk) * 3 + cc).size != len(cc):
        raise LabelFileError(f"{source}: a body part has one of its coordinate columns twice.")
    try:
        values = df.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LabelFileError(f"{source}: non-numeric values in the coordinate columns ({exc}).") from exc
    table = np.full((values.shape[0], len(individuals), len(bodyparts), 3), np.nan)
    table[:, ii, kk, cc] = values
    likelihood = None
    if with_likelihood:
        # A predictions table without likelihoods (some tools write machinelabels so): 1 where a point is given.
        given = np.isfinite(table[..., :2]).all(-1)
        likelihood = table[..., 2] if "likelihood" in coords else np.where(given, 1.0, np.nan)
    return scorers[0], tuple(individuals), tuple(bodyparts), table[..., :2], likelihood


def _index_images(df) -> tuple[list[str], str]:
    if df.index.nlevels > 1:
        return ["/".join(str(p) for p in row) for row in df.index], "multi"
    return [str(p) for p in df.index], "string"


def _labels_from_frame(df, source: str) -> LabelSet:
    """Turn a DeepLabCut label DataFrame into a :class:`LabelSet`."""
    scorer, individuals, bodyparts, points, _ = _scatter(df, source, with_likelihood=False)
    images, style = _index_images(df)
    return LabelSet(tuple(images), bodyparts, individuals, points, scorer, df.columns.nlevels == 4, style, source)


@dataclass(frozen=True, eq=False)
class Predictions:
    """A network's output for some images or frames: refinement's starting points.

    images : image paths (``machinelabels-iter<N>.h5`` from outlier extraction),
        or None when rows are frame numbers (a video's analysis ``.h5``).
    points : (rows, individuals, bodyparts, 2) pixels, NaN where not detected.
    likelihood : (rows, individuals, bodyparts), NaN where not detected.
    """

    images: tuple[str, ...] | None
    bodyparts: tuple[str, ...]
    individuals: tuple[str, ...]
    points: np.ndarray
    likelihood: np.ndarray
    scorer: str
    source: str = ""


def load_predictions(path: str | Path) -> Predictions:
    """Read a DeepLabCut analysis ``.h5``/``.csv`` or ``machinelabels-iter<N>.h5`` (``x, y, likelihood``).

    A table with ``x, y`` only is read with likelihood 1 where a point is
    given (NaN elsewhere).
    """
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"{path}: no such predictions file.")
    df = _read_csv(path) if path.suffix.lower() == ".csv" else _read_h5(path)
    scorer, individuals, bodyparts, points, likelihood = _scatter(df, str(path), with_likelihood=True)
    images: tuple[str, ...] | None = None
    if df.index.nlevels > 1 or not np.issubdtype(np.asarray(df.index).dtype, np.integer):
        images = tuple(_normalise_image(name) for name in _index_images(df)[0])
    assert likelihood is not None  # with_likelihood=True always returns one
    return Predictions(images, bodyparts, individuals, points, likelihood, scorer, str(path))


def save_predictions(pred: Predictions, path: str | Path) -> Path:
    """Write predictions as DeepLabCut does for outlier frames (``machinelabels-iter<N>.h5``).

    Columns ``(scorer, [individuals,] bodyparts, coords)`` with coords ``x, y,
    likelihood`` (the individuals level when there are several individuals or
    their name is not :data:`SINGLE`); rows indexed by the 3-level image path
    (or by frame number when ``pred.images`` is None). Written atomically.
    """
    import pandas as pd

    path = Path(path)
    n, n_ind, n_bp, _ = pred.points.shape
    data = np.concatenate([pred.points, pred.likelihood[..., None]], -1).reshape(n, n_ind * n_bp * 3)
    if is_single(pred.individuals):
        cols = pd.MultiIndex.from_product(
            [[pred.scorer], list(pred.bodyparts), ["x", "y", "likelihood"]], names=list(_LEVELS_SINGLE)
        )
    else:
        cols = pd.MultiIndex.from_product(
            [[pred.scorer], list(pred.individuals), list(pred.bodyparts), ["x", "y", "likelihood"]],
            names=list(_LEVELS_MULTI),
        )
    if pred.images is None:
        index = pd.RangeIndex(n)
    else:
        index = pd.MultiIndex.from_tuples([tuple(i.split("/", 2)) for i in pred.images]) if n else pd.RangeIndex(0)
    with atomic_path(path) as tmp:
        pd.DataFrame(data, index=index, columns=cols).to_hdf(tmp, key="df_with_missing", format="fixed", mode="w")
    return path


# --------------------------------------------------------------------------- writing


def _frame(labels: LabelSet):
    import pandas as pd

    n_img, n_ind, n_bp, _ = labels.points.shape
    if labels.multi_animal:
        cols = pd.MultiIndex.from_product(
            [[labels.scorer], list(labels.individuals), list(labels.bodyparts), ["x", "y"]], names=list(_LEVELS_MULTI)
        )
    else:
        cols = pd.MultiIndex.from_product(
            [[labels.scorer], list(labels.bodyparts), ["x", "y"]], names=list(_LEVELS_SINGLE)
        )
    if labels.index_style == "multi":
        parts = [tuple(name.split("/")) for name in labels.images]
        if any(len(p) != 3 for p in parts):
            bad = next(name for name, p in zip(labels.images, parts, strict=True) if len(p) != 3)
            raise LabelFileError(
                f"image '{bad}' is not 'labeled-data/<video>/<image>'; DeepLabCut's 3-level index needs that form "
                "(or save with index_style='string')."
            )
        index = pd.MultiIndex.from_tuples(parts) if parts else pd.MultiIndex.from_arrays([[], [], []])
    else:
        index = pd.Index(list(labels.images), dtype=object)
    return pd.DataFrame(labels.points.reshape(n_img, n_ind * n_bp * 2), index=index, columns=cols)


def save_labels(labels: LabelSet, path: str | Path) -> tuple[Path, Path]:
    """Write ``labels`` as DeepLabCut does: ``.h5`` (key ``df_with_missing``) and its ``.csv`` twin.

    ``path`` may end in ``.h5`` or ``.csv``; both files are written, each
    atomically (a crash leaves the previous file or the new one, never a
    truncated one). Returns ``(h5_path, csv_path)``.
    """
    path = Path(path)
    if path.suffix.lower() not in (".h5", ".csv"):
        raise LabelFileError(f"{path}: label files end in .h5 or .csv (CollectedData_<scorer>.h5).")
    h5_path, csv_path = path.with_suffix(".h5"), path.with_suffix(".csv")
    df = _frame(labels)
    with atomic_path(h5_path) as tmp:
        if labels.index_style == "multi":
            # PyTables' table format cannot store a MultiIndex on both axes; DeepLabCut 2.2+ and
            # napari-deeplabcut write these files in the fixed format too.
            df.to_hdf(tmp, key="df_with_missing", format="fixed", mode="w")
        else:
            df.to_hdf(tmp, key="df_with_missing", format="table", mode="w")
            _mark_for_older_pandas(tmp)
    with atomic_path(csv_path) as tmp:
        tmp.write_text(df.to_csv(lineterminator="\n"), encoding="utf-8")
    log.debug("wrote %d labelled points to %s (+ .csv)", int(labels.labelled.sum()), h5_path)
    return h5_path, csv_path


# --------------------------------------------------------------------------- merging


def merge_labels(base: LabelSet, corrections: LabelSet) -> LabelSet:
    """``base`` with ``corrections`` applied: the training set after a refinement round.

    Images are matched by path; images only in ``corrections`` are appended
    (in their order). Where ``corrections`` has a labelled point it replaces
    the base's; where it is NaN the base's label is kept (a correction never
    erases a label). ``corrections`` may hold a subset of the body parts and
    individuals; one it does not know of in ``base`` is an error (nothing is
    dropped silently). The result keeps ``base``'s scorer and layout.
    """
    extra_bp = [b for b in corrections.bodyparts if b not in base.bodyparts]
    extra_ind = [i for i in corrections.individuals if i not in base.individuals]
    if extra_bp:
        raise LabelFileError(
            f"corrections ({corrections.source or 'labels'}) have body parts {extra_bp} that the training set "
            f"({base.source or 'labels'}) does not: {list(base.bodyparts)}. Add them to the project's config.yaml "
            "and to the training set first, or relabel with the project's body parts."
        )
    if extra_ind and base.multi_animal:
        raise LabelFileError(f"corrections have individuals {extra_ind} that the training set does not.")
    ind_map = (
        np.array([base.individuals.index(i) for i in corrections.individuals])
        if base.multi_animal
        else np.zeros(len(corrections.individuals), dtype=int)
    )
    if not base.multi_animal and len(corrections.individuals) != 1:
        raise LabelFileError("multi-animal corrections cannot merge into a single-animal training set.")
    new_images = [i for i in corrections.images if i not in set(base.images)]
    images = base.images + tuple(new_images)
    points = np.concatenate([base.points, np.full((len(new_images),) + base.points.shape[1:], np.nan)], axis=0)
    row = {name: r for r, name in enumerate(images)}
    rows = np.array([row[name] for name in corrections.images], dtype=int)
    cols = np.array([base.bodyparts.index(b) for b in corrections.bodyparts], dtype=int)
    target = points[rows[:, None, None], ind_map[None, :, None], cols[None, None, :]]  # (n, I', K', 2)
    have = corrections.labelled[..., None]
    points[rows[:, None, None], ind_map[None, :, None], cols[None, None, :]] = np.where(
        have, corrections.points, target
    )
    return LabelSet(
        images, base.bodyparts, base.individuals, points, base.scorer, base.multi_animal, base.index_style, base.source
    )
