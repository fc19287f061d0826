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
@click.option("--fresh", "--overwrite", "fresh", is_flag=True, default=False,
              help="Ignore existing snapshots and start over (replaces model.pt once trained).")
@click.option("--init-from", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fine-tune another project's network (its model.pt): the backbone and the body parts both share "
                   "are kept, new body parts start fresh.")
def command(project, out, iterations, batch_size, preset_name, fresh, init_from) -> None:
    """Train the network on the project's labelled frames (training split).

    Snapshots are written every [train] checkpoint_every iterations; re-running the
    same command resumes from the newest one (a finished network is kept). Multi-GPU
    or multi-process: torchrun --nproc_per_node 2 -m mocap3d train PROJECT

    \b
    Examples:
      mocap3d train openfield/project.toml
      mocap3d train openfield/project.toml --preset hrnet_scratch --iterations 6000
      mocap3d train newcam/project.toml --init-from openfield/models/openfield/model.pt --iterations 300
    """
    from ..nn.config import NetworkError
    from ..nn.train_stage import TrainStageConfig, default_model_dir, run

    for flag, value in (("--iterations", iterations), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise NetworkError(f"{flag} must be at least 1 (got {value}).")
    config = TrainStageConfig(network_preset=preset_name, iterations=iterations, batch_size=batch_size,
                              init_from=init_from)  # fmt: skip
    run(config, project, out or default_model_dir(project), overwrite=fresh, report=click.echo)
