"""Calibration boards: ChArUco and checkerboard definitions, detection and rendering.

A board is a small frozen dataclass that knows its geometry (``object_points``),
how to find itself in a grey image (``detect``) and how to draw itself
(``render``). Boards are read from TOML with :func:`load_board`, which accepts

* mocap3d's own board file (a ``[board]`` table, see ``calibration/README.md``),
* anipose's project ``config.toml`` (its ``[calibration]`` table),
* sleap-anipose's ``board.toml`` (``board_x``, ``board_y``, ``square_length``, ...),
* caliscope's ``charuco.toml`` (``columns``, ``rows``, ``square_size_override_cm``, ...).

Board coordinates: ``x`` along the board's rows (to the right on the printed
page), ``y`` down the page, ``z = 0`` on the board and pointing into the board,
so a camera that sees the printed side looks along the board's ``+z``. Units are
the board's (whatever ``square_length`` is given in, usually mm); they become
the calibration's units.

Corner ids follow OpenCV: ChArUco corner ``k`` of a board with ``squares_x``
columns sits at ``((k % (squares_x-1) + 1) * square, (k // (squares_x-1) + 1) * square)``;
checkerboard corner ``k`` sits at ``((k % corners_x) * square, (k // corners_x) * square)``
with the top-left square (outside corner 0) printed black.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import toml

from ..errors import CalibrationError
from ..io.atomic import atomic_write_text, save_figure

__all__ = [
    "CharucoBoard",
    "Checkerboard",
    "Board",
    "load_board",
    "save_board",
    "board_to_toml",
    "aruco_dictionary_names",
    "PrintConfig",
    "PrintedBoard",
    "write_printable_board",
]

log = logging.getLogger(__name__)

_ARUCO_DICTS = {name: getattr(cv2.aruco, name) for name in dir(cv2.aruco) if name.startswith("DICT_")}
_thread_local = threading.local()


def aruco_dictionary_names() -> list[str]:
    """Every ArUco/AprilTag dictionary name OpenCV knows (``DICT_4X4_50``, ...)."""
    return sorted(_ARUCO_DICTS)


def _check_dictionary(name: str) -> str:
    key = str(name).strip().upper()
    if not key.startswith("DICT_"):
        key = "DICT_" + key
    if key not in _ARUCO_DICTS:
        raise CalibrationError(
            f"unknown ArUco dictionary '{name}'. Use one of OpenCV's names, for example DICT_4X4_50, "
            f"DICT_5X5_100, DICT_6X6_250, DICT_ARUCO_ORIGINAL (all: {', '.join(aruco_dictionary_names())})."
        )
    return key


def _positive(value, name: str, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{what}: `{name}` = {value!r} is not a number.") from None
    if not np.isfinite(out) or out <= 0:
        raise CalibrationError(f"{what}: `{name}` = {value!r} must be a positive number.")
    return out


def _count(value, name: str, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise CalibrationError(f"{what}: `{name}` = {value!r} must be a whole number >= {minimum}.")
    return int(value)


def _grey(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim != 2:
        raise ValueError(f"expected a grey (H, W) or BGR (H, W, 3) image, got shape {img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return img


_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)


def _grid_pairs(nx: int, ny: int) -> np.ndarray:
    """Id pairs of horizontally and vertically adjacent corners of an ``nx`` x ``ny`` grid (P, 2)."""
    ids = np.arange(nx * ny).reshape(ny, nx)
    horizontal = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1)
    vertical = np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], 1)
    return np.concatenate([horizontal, vertical]).astype(np.int64)


@dataclass(frozen=True)
class CharucoBoard:
    """A ChArUco board: a chessboard whose white squares hold ArUco markers.

    Attributes
    ----------
    squares_x, squares_y : int
        Number of squares along x (columns) and y (rows); inner corners are
        ``(squares_x - 1) * (squares_y - 1)``.
    square_length, marker_length : float
        Side of a chessboard square and of a marker, in board units (mm).
    dictionary : str
        OpenCV ArUco dictionary name, e.g. ``"DICT_4X4_50"``.
    legacy : bool
        OpenCV's legacy pattern (boards generated with OpenCV < 4.6 and an even
        number of rows start with a marker square, not a black square, at the
        top left); ``setLegacyPattern``.
    inverted : bool
        Printed with white markers on black squares (caliscope's option):
        detection runs on the inverted grey image.
    """

    squares_x: int
    squares_y: int
    square_length: float
    marker_length: float
    dictionary: str = "DICT_4X4_50"
    legacy: bool = False
    inverted: bool = False

    def __post_init__(self) -> None:
        what = "ChArUco board"
        object.__setattr__(self, "squares_x", _count(self.squares_x, "squares_x", what, 2))
        object.__setattr__(self, "squares_y", _count(self.squares_y, "squares_y", what, 2))
        object.__setattr__(self, "square_length", _positive(self.square_length, "square_length", what))
        object.__setattr__(self, "marker_length", _positive(self.marker_length, "marker_length", what))
        object.__setattr__(self, "dictionary", _check_dictionary(self.dictionary))
        object.__setattr__(self, "legacy", bool(self.legacy))
        object.__setattr__(self, "inverted", bool(self.inverted))
        if self.marker_length >= self.square_length:
            raise CalibrationError(
                f"ChArUco board: marker_length ({self.marker_length:g}) must be smaller than square_length "
                f"({self.square_length:g}); both are in the same units (e.g. mm), markers are typically 0.7-0.8x "
                "the square."
            )
        n_markers = (self.squares_x * self.squares_y) // 2
        capacity = cv2.aruco.getPredefinedDictionary(_ARUCO_DICTS[self.dictionary]).bytesList.shape[0]
        if n_markers > capacity:
            raise CalibrationError(
                f"ChArUco board: {self.squares_x}x{self.squares_y} squares need {n_markers} markers but "
                f"{self.dictionary} holds only {capacity}; choose a larger dictionary (e.g. DICT_4X4_100)."
            )

    # ----------------------------------------------------------- geometry
    @property
    def kind(self) -> str:
        return "charuco"

    @property
    def n_corners(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)

    @property
    def size(self) -> tuple[float, float]:
        """Printed pattern width and height in board units (without paper margin)."""
        return self.squares_x * self.square_length, self.squares_y * self.square_length

    @property
    def pattern_origin(self) -> tuple[float, float]:
        """Board coordinates of the pattern's top-left corner."""
        return 0.0, 0.0

    def object_points(self) -> np.ndarray:
        """Corner positions (n_corners, 3) float64 in board units, ``z = 0``, in corner id order."""
        nx = self.squares_x - 1
        k = np.arange(self.n_corners)
        return np.stack(
            [(k % nx + 1) * self.square_length, (k // nx + 1) * self.square_length, np.zeros(k.size)], 1
        ).astype(np.float64)

    def adjacent_pairs(self) -> np.ndarray:
        """Corner id pairs one square apart (P, 2), for geometry checks."""
        return _grid_pairs(self.squares_x - 1, self.squares_y - 1)

    # ------------------------------------------------------------- OpenCV
    def cv_board(self):
        """The equivalent ``cv2.aruco.CharucoBoard``."""
        dictionary = cv2.aruco.getPredefinedDictionary(_ARUCO_DICTS[self.dictionary])
        board = cv2.aruco.CharucoBoard(
            (self.squares_x, self.squares_y), float(self.square_length), float(self.marker_length), dictionary
        )
        board.setLegacyPattern(self.legacy)
        return board

    def _detector(self):
        # one detector per thread and board: OpenCV detectors are not documented as thread-safe
        cache = getattr(_thread_local, "charuco", None)
        if cache is None:
            cache = _thread_local.charuco = {}
        det = cache.get(self)
        if det is None:
            params = cv2.aruco.DetectorParameters()
            params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
            charuco_params = cv2.aruco.CharucoParameters()
            charuco_params.tryRefineMarkers = True
            det = cache[self] = cv2.aruco.CharucoDetector(self.cv_board(), charuco_params, params)
        return det

    def detect(self, image: np.ndarray, thorough: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Find the board's inner corners in one image.

        Parameters
        ----------
        image : array (H, W) uint8 grey or (H, W, 3) BGR
        thorough : bool
            Unused (ChArUco detection has no slower mode); accepted so that
            every board is called alike.

        Returns
        -------
        ids : int array (n,)
            Corner ids (see :meth:`object_points`), sorted.
        corners : float64 array (n, 2)
            Sub-pixel corner positions (px, OpenCV pixel-centre convention),
            refined by OpenCV's ChArUco corner refinement. Empty arrays when the
            board is not found.
        """
        grey = _grey(image)
        if self.inverted:
            grey = 255 - grey
        corners, ids, _, _ = self._detector().detectBoard(grey)
        if ids is None or len(ids) == 0:
            return np.zeros(0, np.int64), np.zeros((0, 2))
        ids = ids.ravel().astype(np.int64)
        order = np.argsort(ids)
        ids, corners = ids[order], corners.reshape(-1, 2)[order].astype(np.float32)
        # OpenCV's ChArUco refinement (cornerSubPix with a window kept clear of the markers' edges) is the
        # most precise option measured: on rendered videos with known corners it is 0.06 px median, while
        # an extra cornerSubPix with a square-sized window (caliscope's 11x11) is 0.18-0.23 px, because
        # marker edges near the corner pull the estimate.
        return ids, corners.reshape(-1, 2).astype(np.float64)

    def render(self, width_px: int, height_px: int, margin_px: int = 0) -> np.ndarray:
        """The board as a grey uint8 image (height_px, width_px), pattern centred inside ``margin_px``.

        Inverted boards are drawn inverted (white markers on black), as printed.
        """
        img = self.cv_board().generateImage((int(width_px), int(height_px)), marginSize=int(margin_px), borderBits=1)
        return 255 - img if self.inverted else img


@dataclass(frozen=True)
class Checkerboard:
    """A plain checkerboard, described by its inner corners.

    Attributes
    ----------
    corners_x, corners_y : int
        Inner corners along x (per row) and y (per column), OpenCV's ``patternSize``.
    square_length : float
        Side of a square in board units (mm).

    Corner ids are row-major from the corner whose outside diagonal square is
    black. Boards with ``corners_x + corners_y`` even look the same after a
    half turn, so their corner order is ambiguous between views; prefer an
    odd sum (e.g. 9x6) or a ChArUco board for multi-camera calibration.
    """

    corners_x: int
    corners_y: int
    square_length: float

    def __post_init__(self) -> None:
        what = "checkerboard"
        object.__setattr__(self, "corners_x", _count(self.corners_x, "corners_x", what, 2))
        object.__setattr__(self, "corners_y", _count(self.corners_y, "corners_y", what, 2))
        object.__setattr__(self, "square_length", _positive(self.square_length, "square_length", what))

    @property
    def kind(self) -> str:
        return "checkerboard"

    @property
    def n_corners(self) -> int:
        return self.corners_x * self.corners_y

    @property
    def symmetric(self) -> bool:
        """Whether a half turn maps the board onto itself (corner order then ambiguous)."""
        return (self.corners_x + self.corners_y) % 2 == 0

    @property
    def size(self) -> tuple[float, float]:
        """Printed pattern width and height in board units (without paper margin)."""
        return (self.corners_x + 1) * self.square_length, (self.corners_y + 1) * self.square_length

    @property
    def pattern_origin(self) -> tuple[float, float]:
        """Board coordinates of the pattern's top-left corner (one square outside corner 0)."""
        return -self.square_length, -self.square_length

    def object_points(self) -> np.ndarray:
        """Corner positions (n_corners, 3) float64 in board units, ``z = 0``, in corner id order."""
        k = np.arange(self.n_corners)
        return np.stack(
            [(k % self.corners_x) * self.square_length, (k // self.corners_x) * self.square_length, np.zeros(k.size)],
            1,
        ).astype(np.float64)

    def adjacent_pairs(self) -> np.ndarray:
        """Corner id pairs one square apart (P, 2), for geometry checks."""
        return _grid_pairs(self.corners_x, self.corners_y)

    def detect(self, image: np.ndarray, thorough: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Find every inner corner in one image, or none.

        ``findChessboardCorners`` (fast rejection of frames without the board)
        refined by ``cornerSubPix``, then ``findChessboardCornersSB`` when that
        fails; with ``thorough`` (used for image folders, where every image
        counts) a last exhaustive ``findChessboardCornersSB`` on an image
        reduced to about one megapixel, refined at full resolution. The corner
        order is made consistent between views: row-major with a right-handed
        grid in the image, starting from the end whose outside diagonal square
        is dark.

        Returns
        -------
        ids : int array (n,) and corners : float64 array (n, 2) px; empty when not found.
        """
        grey = _grey(image)
        size = (self.corners_x, self.corners_y)
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
        found, corners = cv2.findChessboardCorners(grey, size, flags=flags)
        if not found:
            found, corners = cv2.findChessboardCornersSB(grey, size, flags=0)
        if not found and thorough:
            factor = max(1.0, float(np.sqrt(grey.size / 1.0e6)))
            small = cv2.resize(grey, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
            found, corners = cv2.findChessboardCornersSB(small, size, flags=cv2.CALIB_CB_EXHAUSTIVE)
            if found:
                corners = (corners + 0.5) * factor - 0.5  # pixel centres of the reduced image
        if not found:
            return np.zeros(0, np.int64), np.zeros((0, 2))
        start = np.asarray(corners, dtype=np.float32).reshape(-1, 1, 2)
        # no markers near checkerboard corners, so a window of about a quarter square is safe
        win = int(max(3, min(11, self._spacing(start.reshape(-1, 2)) / 4)))
        refined = np.asarray(cv2.cornerSubPix(grey, start, (win, win), (-1, -1), _SUBPIX_CRITERIA))
        pts = self._canonical_order(grey, refined.reshape(-1, 2).astype(np.float64))
        return np.arange(self.n_corners, dtype=np.int64), pts

    def _spacing(self, pts: np.ndarray) -> float:
        grid = pts.reshape(self.corners_y, self.corners_x, 2)
        return float(np.median(np.linalg.norm(np.diff(grid, axis=1), axis=-1)))

    def _canonical_order(self, grey: np.ndarray, pts: np.ndarray) -> np.ndarray:
        grid = pts.reshape(self.corners_y, self.corners_x, 2)
        # a mirrored labelling (the grid as seen from behind) has a left-handed image frame
        ex, ey = grid[0, 1] - grid[0, 0], grid[1, 0] - grid[0, 0]
        if ex[0] * ey[1] - ex[1] * ey[0] < 0:
            grid = grid[::-1]
        if not self.symmetric:
            blurred = cv2.GaussianBlur(grey, (5, 5), 1.0)

            def level(p: np.ndarray) -> float:
                x = int(np.clip(round(p[0]), 0, grey.shape[1] - 1))
                y = int(np.clip(round(p[1]), 0, grey.shape[0] - 1))
                return float(blurred[y, x])

            c0, ex, ey = grid[0, 0], grid[0, 1] - grid[0, 0], grid[1, 0] - grid[0, 0]
            outside = level(c0 - 0.5 * (ex + ey))
            beside = 0.5 * (level(c0 + 0.5 * (ex - ey)) + level(c0 + 0.5 * (ey - ex)))
            if outside > beside:
                grid = grid[::-1, ::-1]
        return np.ascontiguousarray(grid.reshape(-1, 2))

    def render(self, width_px: int, height_px: int, margin_px: int = 0) -> np.ndarray:
        """The board as a grey uint8 image (height_px, width_px), squares as large as fit inside ``margin_px``.

        The top-left square is black (the dark end defines corner 0).
        """
        nx, ny = self.corners_x + 1, self.corners_y + 1
        side = min((width_px - 2 * margin_px) / nx, (height_px - 2 * margin_px) / ny)
        if side < 1:
            raise ValueError(f"image {width_px}x{height_px} with margin {margin_px} is too small for the board")
        x0 = (width_px - side * nx) / 2
        y0 = (height_px - side * ny) / 2
        # pixel centres -> square index; anything outside the pattern is white paper
        cols = np.floor((np.arange(width_px) + 0.5 - x0) / side).astype(int)
        rows = np.floor((np.arange(height_px) + 0.5 - y0) / side).astype(int)
        inside = ((rows >= 0) & (rows < ny))[:, None] & ((cols >= 0) & (cols < nx))[None, :]
        black = ((rows[:, None] + cols[None, :]) % 2 == 0) & inside
        return np.where(black, 0, 255).astype(np.uint8)


Board = CharucoBoard | Checkerboard


# --------------------------------------------------------------------------- TOML
def board_to_toml(board: Board) -> dict:
    """mocap3d's board file content (a dict with one ``board`` table)."""
    return {"board": {"type": board.kind, **asdict(board)}}


def save_board(board: Board, path: str | Path) -> Path:
    """Write mocap3d's board TOML (atomic)."""
    return atomic_write_text(path, toml.dumps(board_to_toml(board)))


def _board_from_table(table: dict, where: str) -> Board:
    kind = str(table.get("type", "")).lower()
    keys = {
        "charuco": ("squares_x", "squares_y", "square_length", "marker_length"),
        "checkerboard": ("corners_x", "corners_y", "square_length"),
    }
    if kind not in keys:
        raise CalibrationError(f"{where}: [board] `type` = {table.get('type')!r}; use \"charuco\" or \"checkerboard\".")
    missing = [k for k in keys[kind] if k not in table]
    if missing:
        raise CalibrationError(f"{where}: [board] of type {kind} is missing {', '.join(missing)}.")
    allowed = set(keys[kind]) | {"type", "units"}
    if kind == "charuco":
        allowed |= {"dictionary", "legacy", "inverted"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CalibrationError(f"{where}: unknown [board] keys {unknown} (allowed: {sorted(allowed)}).")
    args = {k: v for k, v in table.items() if k not in ("type", "units")}
    return CharucoBoard(**args) if kind == "charuco" else Checkerboard(**args)


def _board_from_anipose(cal: dict, where: str) -> Board:
    kind = str(cal.get("board_type", "")).lower()
    size = cal.get("board_size")
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise CalibrationError(f"{where}: [calibration] `board_size` must be [W, H], got {size!r}.")
    if "board_square_side_length" not in cal:
        raise CalibrationError(f"{where}: [calibration] is missing `board_square_side_length`.")
    square = cal["board_square_side_length"]
    if "checker" in kind:
        return Checkerboard(size[0], size[1], square)
    if "charuco" not in kind:
        raise CalibrationError(
            f"{where}: [calibration] `board_type` = {cal.get('board_type')!r}; anipose boards are \"charuco\" "
            "or \"checkerboard\"."
        )
    bits = cal.get("board_marker_bits", 4)
    number = cal.get("board_marker_dict_number", 50)
    if "board_marker_length" not in cal:
        raise CalibrationError(f"{where}: [calibration] is missing `board_marker_length` for a ChArUco board.")
    return CharucoBoard(size[0], size[1], square, cal["board_marker_length"], f"DICT_{bits}X{bits}_{number}")


def _board_from_sleap_anipose(data: dict, where: str) -> Board:
    missing = [k for k in ("board_x", "board_y", "square_length", "marker_length") if k not in data]
    if missing:
        raise CalibrationError(f"{where}: sleap-anipose board file is missing {', '.join(missing)}.")
    bits = data.get("marker_bits", 4)
    number = data.get("dict_size", 1000)
    return CharucoBoard(
        data["board_x"], data["board_y"], data["square_length"], data["marker_length"], f"DICT_{bits}X{bits}_{number}"
    )


def _board_from_caliscope(data: dict, where: str) -> Board:
    columns, rows = data["columns"], data["rows"]
    if data.get("square_size_override_cm"):
        square_mm = float(data["square_size_override_cm"]) * 10.0
    else:
        # caliscope prints the board as large as fits on the page given in `units`
        per_unit = {"inch": 25.4, "cm": 10.0, "mm": 1.0}.get(str(data.get("units", "inch")), None)
        if per_unit is None or "board_width" not in data or "board_height" not in data:
            raise CalibrationError(f"{where}: caliscope board without `square_size_override_cm` or page size.")
        square_mm = per_unit * min(float(data["board_width"]) / columns, float(data["board_height"]) / rows)
    scale = float(data.get("aruco_scale", 0.75))
    return CharucoBoard(
        columns, rows, square_mm, square_mm * scale, data.get("dictionary", "DICT_4X4_50"),
        inverted=bool(data.get("inverted", False)),
    )


def load_board(path: str | Path) -> Board:
    """Read a board from TOML.

    Accepted files: mocap3d's board file (``[board]`` table), anipose's
    ``config.toml`` (``[calibration]``), sleap-anipose's ``board.toml`` and
    caliscope's ``charuco.toml`` (square length read in mm). Anything else
    raises :class:`~mocap3d.errors.CalibrationError` saying what was expected.
    """
    path = Path(path)
    where = f"board file '{path}'"
    if not path.is_file():
        raise CalibrationError(f"{where} does not exist; pass a board TOML (see the ready ones in calibration/).")
    from ..io.settings import read_toml

    data = read_toml(path, "board file", CalibrationError)
    try:
        if isinstance(data.get("board"), dict):
            return _board_from_table(data["board"], where)
        if isinstance(data.get("calibration"), dict) and "board_type" in data["calibration"]:
            return _board_from_anipose(data["calibration"], where)
        if "board_x" in data and "board_y" in data:
            return _board_from_sleap_anipose(data, where)
        if "columns" in data and "rows" in data:
            return _board_from_caliscope(data, where)
    except TypeError as exc:
        raise CalibrationError(f"{where}: unexpected value ({exc}).") from None
    raise CalibrationError(
        f"{where} does not describe a board. Expected mocap3d's [board] table (type, squares_x, squares_y, "
        "square_length, marker_length, dictionary), anipose's config.toml [calibration] (board_type, board_size, "
        "...), sleap-anipose's board.toml (board_x, board_y, square_length, marker_length, marker_bits, dict_size) "
        "or caliscope's charuco.toml (columns, rows, ...)."
    )


def board_units(path: str | Path) -> str | None:
    """The length unit of a board file's ``square_length`` (hence of a calibration made with it), or None.

    mocap3d's ``[board] units`` when given; caliscope's ``charuco.toml`` is read
    in mm (see :func:`load_board`); anipose's and sleap-anipose's files do not
    say, so None: the unit is never guessed.
    """
    from ..io.settings import read_toml
    from ..poses import normalize_units

    path = Path(path)
    data = read_toml(path, "board file", CalibrationError)
    if isinstance(data.get("board"), dict):
        try:
            return normalize_units(data["board"].get("units"), f"board file '{path}': [board] units")
        except ValueError as exc:
            raise CalibrationError(str(exc)) from None
    if "columns" in data and "rows" in data:
        return "mm"
    return None


# --------------------------------------------------------------------------- printing
_MM_PER_INCH = 25.4


@dataclass(frozen=True)
class PrintConfig:
    """Physical layout of a printed board.

    Attributes
    ----------
    width_mm : float or None
        Printed width of the pattern (mm); None prints it at its true size
        (the board's units taken as mm).
    dpi : int
        Resolution of the board image.
    margin_mm : float
        White paper around the pattern (ChArUco detection needs a light border).
    """

    width_mm: float | None = None
    dpi: int = 300
    margin_mm: float = 10.0


@dataclass(frozen=True)
class PrintedBoard:
    path: Path
    page_mm: tuple[float, float]
    square_mm: float
    bar_mm: float


def _bar_length(width_mm: float) -> float:
    """The longest round length (10, 20, 50, 100, 200 mm) that fits under the pattern."""
    options = [10.0, 20.0, 50.0, 100.0, 200.0]
    return max([b for b in options if b <= width_mm] or [options[0]])


def write_printable_board(board: Board, path: str | Path, config: PrintConfig | None = None) -> PrintedBoard:
    """Write ``board`` as a PNG or PDF page at its physical size (atomic).

    The page holds the pattern, a scale bar with 10 mm ticks and a caption with
    the board's definition. PNG files carry their DPI, PDF pages their size, so
    printing at 100% reproduces the sizes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    cfg = config or PrintConfig()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise CalibrationError(f"printable board: '{path}' must end in .png or .pdf.")
    if cfg.dpi < 72 or cfg.dpi > 2400:
        raise CalibrationError(f"printable board: dpi = {cfg.dpi} is outside 72..2400.")
    true_w, true_h = board.size
    width_mm = float(cfg.width_mm) if cfg.width_mm is not None else float(true_w)
    if not np.isfinite(width_mm) or width_mm <= 0:
        raise CalibrationError(f"printable board: width {cfg.width_mm} mm must be positive.")
    scale = width_mm / true_w
    height_mm = true_h * scale
    square_mm = board.square_length * scale
    bar_mm = _bar_length(width_mm)
    m = cfg.margin_mm
    footer = 22.0
    page_w, page_h = width_mm + 2 * m, height_mm + 2 * m + footer

    px_w = int(round(width_mm / _MM_PER_INCH * cfg.dpi))
    px_h = int(round(height_mm / _MM_PER_INCH * cfg.dpi))
    image = board.render(px_w, px_h, 0)

    fig = plt.figure(figsize=(page_w / _MM_PER_INCH, page_h / _MM_PER_INCH), dpi=cfg.dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, page_w)
    ax.set_ylim(page_h, 0)
    ax.set_axis_off()
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest",
              extent=(m, m + width_mm, m + height_mm, m))
    # scale bar: alternating 10 mm blocks, so that a ruler checks both the length and the ticks
    y0 = m + height_mm + 5.0
    for i in range(int(bar_mm // 10)):
        ax.add_patch(Rectangle((m + 10 * i, y0), 10, 3, facecolor="black" if i % 2 == 0 else "white",
                               edgecolor="black", linewidth=0.3))
    ax.text(m, y0 + 8.5, f"this bar must measure {bar_mm:.0f} mm (print at 100%, no scaling)", fontsize=7,
            va="baseline")
    if isinstance(board, CharucoBoard):
        desc = (f"ChArUco {board.squares_x}x{board.squares_y} squares, {board.dictionary}, square {square_mm:.2f} mm, "
                f"marker {board.marker_length * scale:.2f} mm" + (", legacy" if board.legacy else "")
                + (", inverted" if board.inverted else ""))
    else:
        desc = f"checkerboard {board.corners_x}x{board.corners_y} inner corners, square {square_mm:.2f} mm"
    ax.text(m, y0 + 13.5, desc + "  (mocap3d board)", fontsize=6, va="baseline")
    save_figure(fig, path, dpi=cfg.dpi, format=suffix[1:])
    return PrintedBoard(path=path, page_mm=(page_w, page_h), square_mm=square_mm, bar_mm=bar_mm)
