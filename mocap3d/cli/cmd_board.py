"""``mocap3d board``: a printable board (PNG or PDF) at a chosen physical size, with a scale bar."""

from __future__ import annotations

from pathlib import Path

import click

from ..calibration.boards import PrintConfig, load_board, write_printable_board
from ..io.outputs import check_output
from ._params import PositiveFloat, overwrite_option


@click.command("board")
@click.argument("board_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file: .png or .pdf.")
@click.option("--width-mm", type=PositiveFloat("printed width (mm)", "180"), default=None,
              help="Printed width of the pattern in mm (default: its true size, board units taken as mm).")
@click.option("--dpi", type=click.IntRange(min=1), default=PrintConfig.dpi, show_default=True,
              help="Resolution of the board image.")
@click.option("--margin-mm", type=float, default=PrintConfig.margin_mm, show_default=True,
              help="White paper around the pattern.")
@overwrite_option("Replace the picture if it exists.")
def command(
    board_file: Path, out: Path, width_mm: float | None, dpi: int, margin_mm: float, overwrite: bool
) -> None:
    """Write a printable calibration board with a scale bar to check the print.

    BOARD_FILE is a mocap3d board TOML (see calibration/README.md), anipose's
    config.toml, sleap-anipose's board.toml or caliscope's charuco.toml.
    Print at 100% ("actual size"), then measure the scale bar: if it is off,
    the printer scaled the page and the square length in the board file must
    be changed to what you measure.

    \b
    Example:
      mocap3d board calibration/charuco_6x5_4x4_50_24mm.toml --out board.pdf
      mocap3d board board.toml --out board.png --width-mm 180 --dpi 600
    """

    check_output(out, [board_file], overwrite=overwrite, kinds=["image"])
    board = load_board(board_file)
    result = write_printable_board(board, out, PrintConfig(width_mm=width_mm, dpi=dpi, margin_mm=margin_mm))
    click.echo(
        f"wrote {result.path} ({result.page_mm[0]:.0f} x {result.page_mm[1]:.0f} mm page): squares print at "
        f"{result.square_mm:.2f} mm; the scale bar must measure {result.bar_mm:.0f} mm."
    )
    if abs(result.square_mm - board.square_length) > 1e-6 * board.square_length:
        click.echo(
            f"note: the board file says square_length = {board.square_length:g}; set it to {result.square_mm:.3f} "
            "(mm) for calibrations filmed with this print.",
        )
