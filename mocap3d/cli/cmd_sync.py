"""``mocap3d sync``: frame offsets between cameras without a shared trigger."""

from __future__ import annotations

from pathlib import Path

import click

from ..pipeline.sync import METHODS
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
    from ..io.calibration import load_calibration
    from ..io.matching import match_files_to_cameras
    from ..io.outputs import check_output
    from ..io.pose2d import load_track2d
    from ..pipeline.sync import SyncConfig, estimate_offsets, save_offsets

    if out is not None:
        check_output(out, [*inputs, *([calibration] if calibration else [])], overwrite=overwrite,
                     kinds=["settings"])  # fmt: skip
    if method == "epipolar" and calibration is None:
        raise MocapError("--method epipolar needs --calibration (the geometry); without one use --method keypoints.")
    config = SyncConfig(method=method, reference=reference, max_offset=max_offset)
    rig = load_calibration(calibration) if calibration else None
    if rig is not None:
        matched = match_files_to_cameras(list(inputs), rig.names)
        files = {c: Path(matched[c]) for c in rig.names if c in matched}
    else:  # cameras named after the files: cam1.h5, cam1.analysis.h5, cam1_json -> cam1
        files = {p.name.split(".")[0].removesuffix("_json"): p for p in inputs}
    if method == "flash":
        result = estimate_offsets(config, videos=files)
    else:
        result = estimate_offsets(config, tracks={c: load_track2d(p) for c, p in files.items()}, rig=rig)
    for line in result.lines():
        click.echo(line)
    if out is not None:
        save_offsets(result, out)
        click.echo(f"wrote {out}")
    if strict and result.any_ambiguous:
        raise SystemExit(1)
