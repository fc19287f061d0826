"""``mocap3d new-project``: lay out a project folder of sample sessions, with its config.toml."""

from __future__ import annotations

from pathlib import Path

import click


def _offsets(text: str | None) -> dict[str, int]:
    from ..errors import MocapError

    out: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        cam, sep, value = item.partition("=")
        try:
            out[cam.strip()] = int(value)
        except ValueError:
            raise MocapError(f"--offsets '{item}': write CAMERA=FRAMES, e.g. cam2=3,cam3=-5.") from None
        if not sep:
            raise MocapError(f"--offsets '{item}': write CAMERA=FRAMES, e.g. cam2=3,cam3=-5.")
    return out


@click.command("new-project")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sessions", "n_sessions", type=click.IntRange(min=1), default=8, show_default=True,
              help="Number of sample sessions.")
@click.option("--frames", type=click.IntRange(min=1), default=300, show_default=True,
              help="Frames per session (60 fps).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first session (then +1 each).")
@click.option("--groups", type=click.IntRange(min=0), default=2, show_default=True,
              help="Sessions are nested in this many folders (day1/, day2/, ...); 0: all at the top level.")
@click.option("--offsets", default=None,
              help="Shift cameras in time, as unsynchronised cameras: cam2=3,cam3=-5 (frames; see `mocap3d sync`).")
def command(folder, n_sessions, frames, seed, groups, offsets) -> None:
    """Create a project of generated sample sessions (a walking subject seen by 4 cameras) to run.

    Each session gets its calibration.toml, pose-2d/cam*.h5 (DeepLabCut format) and its ground truth; the project
    gets a config.toml to edit (frame rate, sync, triangulation, 2D/3D filters, angles, exports).

    \b
    Examples:
      mocap3d new-project demo-project --sessions 8 && mocap3d run demo-project
      mocap3d new-project unsynced --sessions 2 --offsets cam2=3,cam4=-7   # then set [sync] method = "epipolar"
    """
    from ..io.outputs import check_output_folder
    from ..pipeline.sample_project import make_sample_project

    check_output_folder(folder, option="FOLDER")

    folders = make_sample_project(folder, n_sessions=n_sessions, n_frames=frames, seed=seed, groups=groups,
                                  offsets=_offsets(offsets))  # fmt: skip
    names = [p.relative_to(folder).as_posix() for p in folders]
    more = ", ..." if len(names) > 4 else ""
    click.echo(f"wrote {folder}/config.toml and {len(folders)} sessions ({', '.join(names[:4])}{more})")
    click.echo(f"next: mocap3d run {folder}")
