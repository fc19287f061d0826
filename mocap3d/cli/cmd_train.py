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
def command(project, out, iterations, batch_size, preset_name, fresh) -> None:
    """Train the network on the project's labelled frames (training split).

    Snapshots are written every [train] checkpoint_every iterations; re-running the
    same command resumes from the newest one. Multi-GPU or multi-process:
    torchrun --nproc_per_node 2 -m mocap3d train PROJECT

    \b
    Examples:
      mocap3d train openfield/project.toml
      mocap3d train openfield/project.toml --preset scratch --iterations 6000
    """
    from ..nn.config import preset
    from ..nn.project import load_project
    from ..nn.run import train_project

    proj = load_project(project)
    if preset_name:
        proj.network = preset(preset_name)
    if iterations is not None:
        proj.network.train.iterations = iterations
    if batch_size is not None:
        proj.network.train.batch_size = batch_size
    result = train_project(proj, out_dir=out, resume=not fresh)
    start = f" (resumed at {result.resumed_from})" if result.resumed_from else ""
    last = f", final loss {result.losses[-1]:.4f}" if result.losses else ""
    click.echo(f"trained {result.iterations} iterations{start}{last} -> {result.model_path}")
