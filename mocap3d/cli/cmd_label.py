"""``mocap3d label``: the labelling web app on localhost (DeepLabCut label files, multi-view aware)."""

from __future__ import annotations

from pathlib import Path

import click


def _names(text: str | None) -> tuple[str, ...] | None:
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else None


@click.command("label")
@click.argument("project", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--calibration", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="calibration.toml: show every camera of an instant side by side, with epipolar curves and "
                   "triangulated proposals (folders are matched to cameras by name, e.g. walk_cam1).")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True,
              help="Port on localhost (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep localhost and use an SSH tunnel from another machine.")
@click.option("--scorer", default=None, help="Labeller name: writes CollectedData_<scorer>.h5 (default: config.yaml).")
@click.option("--bodyparts", default=None, help="Comma-separated body parts (default: config.yaml or the label files).")
@click.option("--individuals", default=None, help="Comma-separated individuals of a multi-animal project.")
@click.option("--disagreement", type=float, default=None,
              help="Flag labels this many pixels from the triangulated reprojection (default 5).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab (on a server: open the URL yourself).")
@click.option("--dry-run", is_flag=True, help="Open the project, print what would be labelled and exit.")
@click.option("--sample", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write a 3-camera sample project (the walking figure, with calibration) to this folder and "
                   "label it.")
def command(project, calibration, port, host, scorer, bodyparts, individuals, disagreement, no_browser, dry_run,
            sample) -> None:  # fmt: skip
    """Label frames in the browser; labels are saved in DeepLabCut's CollectedData format as you work.

    PROJECT is a DeepLabCut project folder (config.yaml, labeled-data/<video>/ with extracted frames) or one
    labeled-data/<video> folder. Each click is written at once (.h5 and .csv, atomically). With --calibration,
    folders named after cameras (walk_cam1, walk_cam2, ...) are shown side by side, frame by frame, with the
    epipolar curve of a labelled point and, once a body part is in two views, its position in the others.
    A machinelabels-iter*.h5 (DeepLabCut's outlier frames) beside the frames opens as predictions to refine.

    \b
    Examples:
      mocap3d label ~/dlc/openfield-Pranav-2018-10-30
      mocap3d label ~/dlc/walk-3cams -c calibration.toml
      mocap3d label --sample /tmp/label-sample
      ssh -L 8787:localhost:8787 lab-server   # then open http://localhost:8787 on your machine
    """
    import webbrowser

    from ..errors import MocapError
    from ..label import LabelSession, LabelToolConfig, make_server
    from ..label.geometry import GeometryConfig
    from ..label.server import ProjectLock

    if sample is not None:
        from ..label.sample import write_label_sample

        written = write_label_sample(sample)
        project, calibration = written.project, calibration or written.calibration
        click.echo(f"sample project written to {project}")
    if project is None:
        raise click.UsageError("give a PROJECT folder (or --sample DIR to try the tool).")
    geometry = GeometryConfig() if disagreement is None else GeometryConfig(disagreement_px=disagreement)
    config = LabelToolConfig(scorer=scorer, bodyparts=_names(bodyparts), individuals=_names(individuals),
                             calibration=calibration, geometry=geometry)  # fmt: skip
    session = LabelSession.open(project, config)
    info = session.info()
    views = max((f["views"] for f in info["frames"]), default=0)
    click.echo(
        f"{len(info['frames'])} frames ({views} view{'s' if views != 1 else ''} each) in {len(session.videos)} "
        f"folder(s); {len(session.bodyparts)} body parts; writing CollectedData_{session.scorer}.h5"
    )
    for line in info["warnings"]:
        click.echo(f"warning: {line}", err=True)
    if dry_run:
        return
    lock = ProjectLock(session.root)
    lock.acquire()  # a second server on this project refuses to start, naming the first
    server = None
    try:
        try:
            server = make_server(session, host, port)
        except OSError as exc:
            raise MocapError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --port.") from exc
        url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{server.server_address[1]}"
        lock.describe(url)
        click.echo(f"labelling at {url}  (Ctrl+C to stop; every label is already saved)")
        click.echo(f"from another machine: ssh -L {server.server_address[1]}:localhost:{server.server_address[1]} "
                   "<this-server>, then open the URL there")  # fmt: skip
        if not no_browser:
            webbrowser.open(url)
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped; all labels are saved.")
    finally:
        if server is not None:
            server.server_close()
        lock.release()
