"""``mocap3d train``: train a project's 2D keypoint network (resumable)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("train")
@click.argument("project", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder for snapshots and model.pt (default: models/<name> beside the project).")
@click.option("--iterations", type=int, default=None, help="Override [train] iterations.")
@click.option("--batch-size", type=int, default=None, help="Override [train] batch_size.")
@click.option("--preset", "preset_name", default=None, help="Replace the project's network settings by a preset.")
@click.option("--fresh", is_flag=True, default=False, help="Ignore existing snapshots and start over.")
@click.option("--init-from", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fine-tune another project's network (its model.pt): the backbone and the body parts both share "
                   "are kept, new body parts start fresh.")
def command(project, out, iterations, batch_size, preset_name, fresh, init_from) -> None:
    """Train the network on the project's labelled frames (training split).

    Snapshots are written every [train] checkpoint_every iterations; re-running the
    same command resumes from the newest one. Multi-GPU or multi-process:
    torchrun --nproc_per_node 2 -m mocap3d train PROJECT

    \b
    Examples:
      mocap3d train openfield/project.toml
      mocap3d train openfield/project.toml --preset hrnet_scratch --iterations 6000
      mocap3d train newcam/project.toml --init-from openfield/models/openfield/model.pt --iterations 300
    """
    from ..nn.config import NetworkError, preset
    from ..nn.project import load_project
    from ..nn.run import train_project

    proj = load_project(project)
    if preset_name:
        proj.network = preset(preset_name)
    flags = {"iterations": ("--iterations", iterations), "batch_size": ("--batch-size", batch_size)}
    for flag, value in flags.values():
        if value is not None and value < 1:
            raise NetworkError(f"{flag} must be at least 1 (got {value}).")
    overrides = {k: v for k, (_, v) in flags.items() if v is not None}
    proj.network = proj.network.replace(train=proj.network.train.replace(**overrides))  # validated again as a whole
    result = train_project(proj, out_dir=out, resume=not fresh, init_from=init_from)
    click.echo(f"started from {result.started_from}")
    start = f" (resumed at {result.resumed_from})" if result.resumed_from else ""
    last = f", final loss {result.losses[-1]:.4f}" if result.losses else ""
    speed = f", {result.seconds_per_iteration:.2f} s/iteration" if result.iterations > result.resumed_from else ""
    click.echo(f"trained {result.iterations} iterations{start}{last}{speed} -> {result.model_path}")
    if result.test_scale != 1.0:
        click.echo(f"analysis at {result.test_scale:g}x the training scale (most accurate on the training images)")
