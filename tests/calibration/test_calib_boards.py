"""Board definitions: geometry against OpenCV, detection round trips, TOML readers and their errors, printing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import toml
from click.testing import CliRunner

from mocap3d.calibration.boards import (
    CharucoBoard,
    Checkerboard,
    PrintConfig,
    aruco_dictionary_names,
    load_board,
    save_board,
    write_printable_board,
)
from mocap3d.cli import cli
from mocap3d.errors import CalibrationError, MocapError

REPO = Path(__file__).resolve().parents[2]


def _warp(image: np.ndarray, hom: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Warp with 4x supersampling so edges are anti-aliased (corner positions stay unbiased)."""
    s = 4
    # final pixel u covers big pixels s*u .. s*u+s-1, whose centres average to s*u + (s-1)/2
    scale = np.array([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1.0]])
    big = cv2.warpPerspective(image, scale @ hom, (size[0] * s, size[1] * s), flags=cv2.INTER_LINEAR,
                              borderValue=255)
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA)


def _expected(points_tex: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Where texture pixel-centre coordinates land after the warp (pixel-centre convention)."""
    return cv2.perspectiveTransform(points_tex.reshape(-1, 1, 2), hom).reshape(-1, 2)


# ----------------------------------------------------------------------------- geometry
def test_charuco_object_points_match_opencv():
    board = CharucoBoard(7, 5, 30.0, 22.0, "DICT_5X5_100")
    ref = board.cv_board().getChessboardCorners()
    np.testing.assert_allclose(board.object_points(), ref, atol=1e-12)
    assert board.n_corners == 24 and board.object_points().dtype == np.float64


@pytest.mark.parametrize("board", [CharucoBoard(6, 5, 24.0, 18.0), Checkerboard(9, 6, 30.0)])
def test_adjacent_pairs_are_one_square_apart(board):
    pts = board.object_points()
    pairs = board.adjacent_pairs()
    nx, ny = (5, 4) if board.kind == "charuco" else (9, 6)
    assert pairs.shape == (nx * (ny - 1) + ny * (nx - 1), 2)
    np.testing.assert_allclose(np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1), board.square_length)
    assert len({tuple(sorted(p)) for p in pairs.tolist()}) == len(pairs)


def test_dictionary_names_and_errors():
    assert CharucoBoard(5, 5, 10, 7, "5x5_100").dictionary == "DICT_5X5_100"
    assert "DICT_APRILTAG_36h11".upper() in [n.upper() for n in aruco_dictionary_names()]
    with pytest.raises(CalibrationError, match="DICT_4X4_50"):
        CharucoBoard(5, 5, 10, 7, "DICT_9X9_7")
    with pytest.raises(CalibrationError, match="smaller than square_length"):
        CharucoBoard(5, 5, 10, 12)
    with pytest.raises(CalibrationError, match="holds only 50"):
        CharucoBoard(12, 10, 10, 7, "DICT_4X4_50")
    with pytest.raises(CalibrationError, match="whole number"):
        Checkerboard(9.5, 6, 30)
    with pytest.raises(CalibrationError, match="positive"):
        Checkerboard(9, 6, -1)


# ----------------------------------------------------------------------------- detection
def test_charuco_detection_is_subpixel_under_perspective():
    board = CharucoBoard(6, 5, 24.0, 18.0)
    per_square = 60
    tex = board.render(6 * per_square, 5 * per_square)
    tex = cv2.copyMakeBorder(tex, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    hom = np.array([[0.9, 0.12, 60.0], [-0.05, 0.8, 50.0], [2e-4, 1e-4, 1.0]])
    img = _warp(tex, hom, (640, 480))
    ids, corners = board.detect(img)
    assert ids.tolist() == list(range(board.n_corners))
    truth = _expected(board.object_points()[:, :2] * per_square / board.square_length - 0.5 + 40, hom)
    err = np.linalg.norm(corners - truth, axis=1)
    assert np.median(err) < 0.1 and err.max() < 0.3


def test_inverted_board_needs_the_inverted_flag():
    normal = CharucoBoard(4, 5, 54.0, 40.5, "DICT_4X4_1000")
    inverted = CharucoBoard(4, 5, 54.0, 40.5, "DICT_4X4_1000", inverted=True)
    page = cv2.copyMakeBorder(inverted.render(400, 500), 50, 50, 50, 50, cv2.BORDER_CONSTANT, value=255)
    assert (inverted.render(400, 500) == 255 - normal.render(400, 500)).all()
    ids, _ = inverted.detect(page)
    assert ids.size == inverted.n_corners
    assert normal.detect(page)[0].size < inverted.n_corners


def test_legacy_pattern_boards():
    legacy = CharucoBoard(5, 6, 30.0, 22.0, "DICT_4X4_50", legacy=True)
    modern = CharucoBoard(5, 6, 30.0, 22.0, "DICT_4X4_50")
    img = cv2.copyMakeBorder(legacy.render(500, 600), 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    # an even number of rows: the legacy print differs from the modern one
    assert (legacy.render(500, 600) != modern.render(500, 600)).any()
    assert legacy.detect(img)[0].size == legacy.n_corners
    assert modern.detect(img)[0].size < legacy.n_corners


def test_checkerboard_order_is_the_same_after_a_half_turn():
    board = Checkerboard(9, 6, 30.0)
    per_square = 50
    tex = board.render(10 * per_square, 7 * per_square)
    tex = cv2.copyMakeBorder(tex, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)
    # corner k in texture pixels: one square in from the pattern's top-left corner
    corner_tex = (board.object_points()[:, :2] / board.square_length + 1) * per_square - 0.5 + 30
    h, w = tex.shape
    for angle in (10.0, 190.0, 95.0):  # upright, upside down, on its side
        rot = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 0.8)
        hom = np.vstack([rot, [0, 0, 1]])
        hom[:2, 2] += [(700 - w) / 2, (700 - h) / 2]
        img = _warp(tex, hom, (700, 700))
        ids, corners = board.detect(img)
        assert ids.size == board.n_corners, angle
        err = np.linalg.norm(corners - _expected(corner_tex, hom), axis=1)
        assert np.median(err) < 0.1, angle


def test_not_found_gives_empty_arrays():
    blank = np.full((200, 300), 128, np.uint8)
    for board in (CharucoBoard(6, 5, 24, 18), Checkerboard(9, 6, 30)):
        ids, corners = board.detect(blank)
        assert ids.shape == (0,) and corners.shape == (0, 2)


# ----------------------------------------------------------------------------- files
def test_mocap3d_board_file_round_trip(tmp_path):
    for board in (CharucoBoard(7, 5, 30.0, 22.5, "DICT_6X6_250", legacy=True, inverted=True),
                  Checkerboard(9, 6, 30.0)):
        path = save_board(board, tmp_path / f"{board.kind}.toml")
        assert load_board(path) == board


def test_ready_boards_load_and_print(tmp_path):
    files = sorted((REPO / "calibration").glob("*.toml"))
    assert len(files) >= 4
    kinds = {load_board(f).kind for f in files}
    assert kinds == {"charuco", "checkerboard"}


def test_anipose_config(dataset):
    path = dataset("aniposelib-tests") / "tests/data/calib/7cam-allen-mouse/config.toml"
    assert load_board(path) == CharucoBoard(6, 5, 24.0, 18.0, "DICT_4X4_50")


def test_caliscope_charuco_toml(dataset):
    path = dataset("caliscope") / "tests/sessions/post_optimization/charuco.toml"
    board = load_board(path)
    assert board == CharucoBoard(4, 5, 54.0, 40.5, "DICT_4X4_1000", inverted=True)
    # caliscope's stored object coordinates (m): keypoint k -> ((k%3+1)*0.054, (k//3+1)*0.054)
    k = np.arange(12)
    np.testing.assert_allclose(board.object_points()[:, :2] / 1000, np.stack([(k % 3 + 1), (k // 3 + 1)], 1) * 0.054)


def test_sleap_anipose_and_anipose_checkerboard(tmp_path):
    sleap = tmp_path / "board.toml"
    sleap.write_text(toml.dumps(dict(board_x=8, board_y=11, square_length=24.0, marker_length=18.5, marker_bits=5,
                                     dict_size=100)))
    assert load_board(sleap) == CharucoBoard(8, 11, 24.0, 18.5, "DICT_5X5_100")
    anipose = tmp_path / "config.toml"
    anipose.write_text(toml.dumps({"project": "x", "calibration": dict(
        board_type="checkerboard", board_size=[9, 6], board_square_side_length=30)}))
    assert load_board(anipose) == Checkerboard(9, 6, 30.0)


@pytest.mark.parametrize(
    "content, message",
    [
        ("[board]\ntype = 'charuco'\nsquares_x = 5\n", "missing squares_y"),
        ("[board]\ntype = 'circles'\n", "use \"charuco\" or \"checkerboard\""),
        ("[board]\ntype = 'checkerboard'\ncorners_x = 9\ncorners_y = 6\nsquare_length = 30\nmarker = 3\n",
         "unknown \\[board\\] keys"),
        ("[calibration]\nboard_type = 'charuco'\nboard_size = [6, 5]\nboard_square_side_length = 24\n",
         "board_marker_length"),
        ("[calibration]\nboard_type = 'aruco'\nboard_size = [6, 5]\nboard_square_side_length = 24\n", "board_type"),
        ("[something]\nx = 1\n", "does not describe a board"),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_bad_board_files(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(MocapError, match=message):
        load_board(path)


def test_missing_board_file(tmp_path):
    with pytest.raises(CalibrationError, match="does not exist"):
        load_board(tmp_path / "nope.toml")


# ----------------------------------------------------------------------------- printing
def test_printable_png_has_physical_size(tmp_path):
    board = Checkerboard(9, 6, 30.0)
    out = write_printable_board(board, tmp_path / "b.png", PrintConfig(dpi=150, margin_mm=10))
    img = cv2.imread(str(out.path), cv2.IMREAD_GRAYSCALE)
    # 300 x 210 mm pattern + 2 x 10 mm margins (+ footer) at 150 dpi
    assert abs(img.shape[1] - 320 / 25.4 * 150) <= 2
    assert out.square_mm == pytest.approx(30.0) and out.bar_mm == 200
    # the printed squares measure 30 mm: find the board in the page and check a corner spacing
    ids, corners = board.detect(img)
    assert ids.size == board.n_corners
    spacing_px = np.median(np.linalg.norm(np.diff(corners.reshape(6, 9, 2), axis=1), axis=-1))
    assert spacing_px == pytest.approx(30 / 25.4 * 150, rel=0.01)


def test_board_cli(tmp_path):
    src = REPO / "calibration" / "charuco_6x5_4x4_50_24mm.toml"
    runner = CliRunner()
    result = runner.invoke(cli, ["board", str(src), "--out", str(tmp_path / "b.pdf"), "--width-mm", "120"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b.pdf").read_bytes()[:4] == b"%PDF"
    assert "20.000" in result.output  # 120 mm / 6 squares: the new square length to put in the file
    help_text = runner.invoke(cli, ["board", "--help"]).output
    assert "Example" in help_text
    bad = runner.invoke(cli, ["board", str(tmp_path / "none.toml"), "--out", str(tmp_path / "x.png")])
    assert bad.exit_code == 1 and "does not exist" in bad.output
    bad = runner.invoke(cli, ["board", str(src), "--out", str(tmp_path / "x.jpg")])
    assert bad.exit_code == 1 and ".png or .pdf" in bad.output
