"""``mocap3d angles``: joint angles declared as in anipose's ``[angles]`` config, to CSV."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import overwrite_option


@click.command("angles")
@click.argument("poses3d", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TOML with an [angles] table (an anipose config.toml works).")
@click.option("--angle", "angle_defs", multiple=True,
              help="NAME=PARTS, parts comma-separated: knee=hip,knee,ankle or rot=axis,hip,knee,ankle "
                   "or leg=chain,hip,knee,ankle,toe. Repeatable; added to --config's.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output .csv.")
@overwrite_option("Replace the output if it exists.")
def command(poses3d, config_path, angle_defs, out, overwrite) -> None:
    """Compute joint angles (degrees) for every frame: flexion, axis, cross-axis and Euler chains.

    A file of several individuals (.h5/.nc from `triangulate --individuals`) gives one table per
    individual: --out walk.csv writes walk_individual_0.csv, walk_individual_1.csv...

    \b
    Examples:
      mocap3d angles pose-3d/walk.csv --config config.toml --out angles/walk.csv
      mocap3d angles walk.trc --angle l_knee=l_hip,l_knee,l_ankle --angle r_knee=r_hip,r_knee,r_ankle -o knees.csv
    """
    from ..analysis.angles_stage import AnglesStageConfig, angle_outputs, run
    from ..errors import MocapError
    from ..io.outputs import check_output
    from ..io.settings import CONFIG_ARRAYS, CONFIG_TABLES, check_tables, read_toml

    table: dict[str, list[str]] = {}
    if config_path is not None:
        data = read_toml(config_path, "angles config", MocapError)
        check_tables(data, CONFIG_TABLES, str(config_path), arrays=CONFIG_ARRAYS, error=MocapError)
        table.update(data.get("angles", {}))
    for item in angle_defs:
        name, sep, parts = item.partition("=")
        if not sep or not name.strip() or not parts.strip():
            raise MocapError(f"--angle '{item}': write NAME=PART,PART,PART (e.g. knee=hip,knee,ankle).")
        table[name.strip()] = [p.strip() for p in parts.split(",")]
    if not table:
        raise MocapError("no angles declared: pass --config with an [angles] table or one or more --angle.")
    for target in angle_outputs(poses3d, out).values():  # the config file is an input too
        check_output(target, [poses3d, *([config_path] if config_path else [])], overwrite=overwrite, kinds=["table"])
    run(AnglesStageConfig(angles=table), [poses3d], out, overwrite=overwrite, report=click.echo)
