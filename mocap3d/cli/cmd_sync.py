"""``mocap3d sync``: frame offsets between cameras without a shared trigger."""

from __future__ import annotations

from pathlib import Path

import click

from ..sync.offsets import METHODS
from ._params import overwrite_option


@click.command("sync")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--method", "-m", type=click.Choice([m for m in METHODS if m != "none"]), default="epipolar",
              show_default=True,
              help="epipolar: 2D files + calibration; keypoints: speed cross-correlation of 2D files (Pose2Sim); "
                   "flash: videos with one flash/LED event.")
@click.option("--calibration", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Calibration file: camera names (matched in file names) and, for epipolar, the geometry.")
@click.option("--reference", default=None, help="Reference camera (default: the first).")
@click.option("--max-offset", type=click.IntRange(min=1), default=60, show_default=True,
              help="Largest offset searched (frames).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the offsets (sync/offsets.toml layout) here.")
@click.option("--strict", is_flag=True, default=False, help="Exit with code 1 when a camera is ambiguous.")
@overwrite_option("Replace the offsets file if it exists.")
def command(inputs, method, calibration, reference, max_offset, out, strict, overwrite) -> None:
    """Estimate each camera's frame offset against a reference camera, with its confidence.

    Offset +3 for a camera means its frame i shows the instant of the reference camera's frame i+3 (it started
    3 frames later). A camera whose offset cannot be told apart from another one (periodic or too little motion,
    two flashes) is flagged AMBIGUOUS with the reason.

    \b
    Examples:
      mocap3d sync -c calibration.toml pose-2d/*.h5 --out sync/offsets.toml
      mocap3d sync --method keypoints --max-offset 30 pose-2d/cam*.h5
      mocap3d sync --method flash videos-raw/cam*.mp4
    """
    from ..errors import MocapError
    from ..io.outputs import check_output
    from ..sync.offsets import SyncConfig
    from ..sync.sync_stage import SyncInputs, SyncStageConfig, estimate, run

    if out is not None:
        check_output(out, [*inputs, *([calibration] if calibration else [])], overwrite=overwrite,
                     kinds=["settings"])  # fmt: skip
    if method == "epipolar" and calibration is None:
        raise MocapError("--method epipolar needs --calibration (the geometry); without one use --method keypoints.")
    # an ambiguous camera is reported (and, with --strict, exits with 1), its best guess kept
    config = SyncStageConfig(sync=SyncConfig(method=method, reference=reference, max_offset=max_offset,
                                             on_ambiguous="use"))  # fmt: skip
    stage_inputs = SyncInputs(tuple(inputs), calibration)
    if out is None:
        result = estimate(config, stage_inputs)
        for line in result.lines():
            click.echo(line)
        ambiguous = result.any_ambiguous
    else:
        import toml

        run(config, stage_inputs, out, overwrite=overwrite, report=click.echo)
        ambiguous = any(toml.load(out).get("ambiguous", {}).values())
    if strict and ambiguous:
        raise SystemExit(1)
