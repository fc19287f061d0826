"""``mocap3d filter-3d``: filter triangulated 3D trajectories."""

from __future__ import annotations

from pathlib import Path

import click

from ..filters.config import FILTERS_3D
from ._params import FPS


@click.command("filter-3d")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file: .csv (anipose), .h5 (mocap3d HDF5) or .trc (OpenSim).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML with [[filter3d]] steps, run in order.")
@click.option("--filter", "name", type=click.Choice(sorted(FILTERS_3D)), default=None,
              help="Run one filter with the options below instead of a config file.")
@click.option("--threshold", type=float, default=None, help="error: drop points above this reprojection error (px).")
@click.option("--cutoff", type=float, default=None, help="butterworth: cut-off frequency (Hz).")
@click.option("--order", type=int, default=None, help="butterworth: zero-phase order (even; Pose2Sim's order).")
@click.option("--window", type=int, default=None, help="hampel/median/savgol: window (odd, frames).")
@click.option("--n-sigmas", type=float, default=None, help="hampel: outlier threshold (robust standard deviations).")
@click.option("--replace", type=click.Choice(["median", "nan"]), default=None, help="hampel: what replaces an outlier.")
@click.option("--polyorder", type=int, default=None, help="savgol: polynomial order.")
@click.option("--model", type=click.Choice(["velocity", "acceleration"]), default=None, help="kalman: motion model.")
@click.option("--process-noise", type=float, default=None,
              help="kalman: process noise density; its ratio to the measurement noise sets the smoothing.")
@click.option("--measurement-noise", type=float, default=None, help="kalman: measurement noise (data units).")
@click.option("--max-gap", type=int, default=None, help="Fill (or bridge) gaps up to this many frames.")
@click.option("--method", type=click.Choice(["linear", "cubic", "pchip"]), default=None, help="Gap interpolation.")
@click.option("--fps", type=FPS, default=None, help="Frame rate (Hz), when the file does not carry it (.csv).")
@click.option("--overwrite", is_flag=True, default=False, help="Replace the output if it exists.")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def command(
    out, config_path, name, threshold, cutoff, order, window, n_sigmas, replace, polyorder, model, process_noise,
    measurement_noise, max_gap, method, fps, overwrite, input_path,
) -> None:  # fmt: skip
    """Filter a 3D pose file (.csv, .h5, .trc) and write the result (format from --out's suffix).

    Filters: error (reprojection-error cut-off), hampel (outlier removal), median, butterworth (zero-phase
    low-pass, Pose2Sim's convention), savgol (Savitzky-Golay), kalman (Kalman + RTS smoother), fill (gap
    filling). Missing points stay missing except in gaps up to --max-gap frames. The steps and their parameters
    are recorded in the output's metadata (.h5). A file of several individuals (.h5/.nc from
    `triangulate --individuals`) has each individual filtered with the same steps, into one .h5/.nc or one
    .trc/.c3d/.csv/.nwb per individual (out_individual_0.trc...).

    \b
    Examples:
      mocap3d filter-3d --filter butterworth --cutoff 6 --order 4 --fps 60 --out trial_filt.trc trial.trc
      mocap3d filter-3d --filter hampel --window 7 --n-sigmas 3 --out pose3d_clean.csv pose3d.csv
      mocap3d filter-3d --config filters.toml --fps 100 --out pose3d_filt.h5 pose3d.h5
    """
    from ..filters.filter3d_stage import Filter3DStageConfig, run
    from ..filters.run import resolve_steps

    params = {
        "threshold": threshold, "cutoff": cutoff, "order": order, "window": window, "n_sigmas": n_sigmas,
        "replace": replace, "polyorder": polyorder, "model": model, "process_noise": process_noise,
        "measurement_noise": measurement_noise, "max_gap": max_gap, "method": method,
    }  # fmt: skip
    steps = resolve_steps("3d", config_path, name, params)
    lines: list[str] = []
    run(Filter3DStageConfig(steps=tuple(steps), fps=fps), [input_path], out, overwrite=overwrite, report=lines.append)
    click.echo("filters: " + " -> ".join(s.name for s in steps))
    for line in lines:
        click.echo(line)
