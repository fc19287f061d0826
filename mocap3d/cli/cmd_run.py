"""``mocap3d run``: every session of a project through the pipeline, resumable, on Dask."""

from __future__ import annotations

from pathlib import Path

import click

from ..pipeline.stages import STAGE_ORDER


@click.command("run")
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@click.option("--stages", default=None,
              help=f"Comma-separated stages to run (default all, in order): {','.join(STAGE_ORDER)}.")
@click.option("--workers", "-j", type=click.IntRange(min=0), default=2, show_default=True,
              help="Dask worker processes on this machine; 0 runs the sessions one by one in this process.")
@click.option("--scheduler", default=None,
              help="Address of a running Dask scheduler (tcp://host:8786); its workers must see PROJECT at the "
                   "same path.")
@click.option("--force", is_flag=True, default=False, help="Redo stages whose outputs are complete.")
@click.option("--no-progress", is_flag=True, default=False, help="No progress bar.")
def command(project, stages, workers, scheduler, force, no_progress) -> None:
    """Run the pipeline over every session of PROJECT (a folder with config.toml).

    A session is any folder below PROJECT with pose-2d/ or videos-raw/ inside; its calibration is its own
    calibration.toml (or calibration/calibration.toml) or the nearest parent folder's. Stages skip work that
    is complete (recorded in <session>/.mocap3d/), so a killed run is finished by running it again; a failing
    session is reported with its reason and does not stop the others. Exit code 1 when a session failed.

    \b
    Examples:
      mocap3d new-project my-project --sessions 8        # a project of sample sessions
      mocap3d run my-project                             # 2 local worker processes
      mocap3d run my-project --workers 0                 # serially, in this process
      mocap3d run my-project --stages triangulate,filter3d,angles --scheduler tcp://10.0.0.5:8786
    """
    from ..pipeline.runner import run_project

    chosen = [s.strip() for s in stages.split(",") if s.strip()] if stages else None
    report = run_project(project, stages=chosen, workers=workers, scheduler=scheduler, force=force,
                         progress=not no_progress)  # fmt: skip
    click.echo(report.table())
    if report.failed:
        raise SystemExit(1)
