"""``mocap3d evaluate``: train/test pixel errors of a trained network, and labels to review."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("evaluate")
@click.argument("project", type=click.Path(exists=True, path_type=Path))
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Network file (default: models/<name>/model.pt).")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder for evaluation.txt and pictures (default: beside the model).")
@click.option("--no-plots", is_flag=True, default=False, help="Skip the per-image prediction pictures.")
def command(project, model_path, out, no_plots) -> None:
    """Mean pixel error (DeepLabCut's "RMSE"), true RMS, both with p-cutoff, PCK; label check.

    \b
    Example:
      mocap3d evaluate openfield/project.toml --out openfield/evaluation
    """
    from ..nn.project import load_project
    from ..nn.run import evaluate_project

    report = evaluate_project(load_project(project), model_path, out, plots=not no_plots)
    for line in report.evaluation.lines():
        click.echo(line)
    click.echo(f"{len(report.issues)} labels to review" + (":" if report.issues else ""))
    for issue in report.issues[:20]:
        click.echo("  " + issue.line())
    click.echo(f"summary: {report.summary_path}")
