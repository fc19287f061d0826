"""``mocap3d filter-2d``: filter each camera's 2D detections before triangulation."""

from __future__ import annotations

from pathlib import Path

import click

from ..filters.config import FILTERS_2D


@click.command("filter-2d")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Output folder (files keep their names), or the output .h5/.csv for a single input.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML with [[filter2d]] steps (or an anipose config.toml's [filter] section).")
@click.option("--filter", "name", type=click.Choice(sorted(FILTERS_2D) + ["medfilt"]), default=None,
              help="Run one filter with the options below instead of a config file.")
@click.option("--threshold", type=float, default=None, help="likelihood: drop detections scored below this.")
@click.option("--window", type=int, default=None, help="median: running-median window (odd, frames).")
@click.option("--offset-threshold", type=float, default=None, help="median: drop points this far (px) off the median.")
@click.option("--score-threshold", type=float, default=None, help="median/viterbi: ignore detections below this score.")
@click.option("--max-gap", type=int, default=None, help="median/fill: fill gaps up to this many frames.")
@click.option("--method", type=click.Choice(["linear", "cubic", "pchip"]), default=None,
              help="median/fill: gap interpolation.")
@click.option("--n-back", type=int, default=None, help="viterbi: candidates from this many past frames.")
@click.option("--sigma", type=float, default=None, help="viterbi: typical move per frame scale (px; 0 = estimate).")
@click.option("--keypoint-preset", default=None, help="Names of OpenPose JSON keypoints (BODY_25B, BODY_25...).")
@click.option("--overwrite", is_flag=True, default=False, help="Redo outputs that already exist.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def command(
    out, config_path, name, threshold, window, offset_threshold, score_threshold, max_gap, method, n_back, sigma,
    keypoint_preset, overwrite, inputs,
) -> None:  # fmt: skip
    """Filter 2D keypoint files (one per camera) and write them in the same format.

    Filters: likelihood (score cut-off), median (anipose's medfilt: drop points far from the running median, then
    fill short gaps), viterbi (the most plausible path through the last frames' detections), fill (gap filling).
    DeepLabCut .h5/.csv, SLEAP analysis .h5 and OpenPose JSON folders are read and written.

    \b
    Examples:
      mocap3d filter-2d --config filters.toml --out pose-2d-filtered pose-2d/*.h5
      mocap3d filter-2d --filter median --window 7 --offset-threshold 20 --out filtered/ cam-A.h5 cam-B.h5
      mocap3d filter-2d --filter viterbi --n-back 4 --out cam-A-filtered.h5 cam-A.h5

    \b
    filters.toml:
      [[filter2d]]
      type = "likelihood"
      threshold = 0.3
      [[filter2d]]
      type = "median"
      window = 7
      offset_threshold = 20.0
    """
    from ..filters.filter2d_stage import Filter2DStageConfig, run
    from ..filters.run import resolve_steps

    params = {
        "threshold": threshold, "window": window, "offset_threshold": offset_threshold,
        "score_threshold": score_threshold, "max_gap": max_gap, "method": method, "n_back": n_back, "sigma": sigma,
    }  # fmt: skip
    steps = resolve_steps("2d", config_path, name, params)
    lines: list[str] = []
    run(Filter2DStageConfig(steps=tuple(steps), keypoint_preset=keypoint_preset), inputs, out, overwrite=overwrite,
        report=lines.append)  # fmt: skip
    click.echo("filters: " + " -> ".join(s.name for s in steps))
    for line in lines:
        click.echo(line)
