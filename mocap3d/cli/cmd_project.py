"""``mocap3d project``: create a 2D-network project or import a DeepLabCut one."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import overwrite_option


@click.group("project")
def command() -> None:
    """Create or import a 2D keypoint-network project (a TOML file).

    \b
    Examples:
      mocap3d project create mouse.toml --name mouse --bodyparts snout,leftear,rightear,tailbase videos/*.mp4
      mocap3d project import ../openfield-Pranav-2018-10-30 --out openfield/
    """


@command.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Project (and network) name.")
@click.option("--bodyparts", required=True, help="Comma-separated body part names.")
@click.option("--skeleton", default="", help="Comma-separated a-b edges, e.g. snout-leftear,snout-rightear.")
@click.option("--preset", "preset_name", default="lite0", show_default=True,
              help="Network preset: lite0 (ImageNet-pretrained EfficientNet-Lite0), lite1, lite2, fast, smoke, "
                   "resnet_50, mobilenet_v2 (torchvision's weights), hrnet_scratch, mobilenet_scratch, lite0_scratch.")
@click.option("--scorer", default="mocap3d", show_default=True, help="Labeller name (CollectedData_<scorer>.h5).")
@click.argument("videos", nargs=-1, type=click.Path(path_type=Path))
@overwrite_option("Replace an existing project TOML.")
def create(path, name, bodyparts, skeleton, preset_name, scorer, videos, overwrite) -> None:
    """Write a new project TOML.

    \b
    Example:
      mocap3d project create mouse.toml --name mouse --bodyparts snout,tailbase --skeleton snout-tailbase a.mp4
    """
    from ..io.outputs import check_output

    check_output(path, videos, overwrite=overwrite, kinds=["settings"], option="PATH")
    from ..nn.project import create_project

    parts = [b.strip() for b in bodyparts.split(",") if b.strip()]
    edges = [tuple(e.split("-", 1)) for e in skeleton.split(",") if "-" in e]
    project = create_project(path, name, parts, videos=[str(v) for v in videos], skeleton=edges,
                             preset_name=preset_name, scorer=scorer)
    click.echo(f"wrote {project.path}: {len(parts)} body parts, {len(videos)} videos, preset {preset_name}")


@command.command("import")
@click.argument("dlc_folder", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Project TOML (or a folder for project.toml) that uses the DeepLabCut folder in place.")
@click.option("--preset", "preset_name", default=None,
              help="Network preset (default: lite0, ImageNet-pretrained EfficientNet-Lite0; see project create).")
@overwrite_option("Replace an existing project TOML.")
def import_(dlc_folder, out, preset_name, overwrite) -> None:
    """Import a DeepLabCut project (config.yaml + labeled-data) without touching it.

    \b
    Example:
      mocap3d project import ~/dlc/openfield-Pranav-2018-10-30 --out openfield/
    """
    from ..io.labels import find_label_files
    from ..io.outputs import check_output

    check_output(out if out.suffix.lower() == ".toml" else out / "project.toml", [dlc_folder], overwrite=overwrite,
                 kinds=["settings"])  # fmt: skip
    from ..nn.project import import_dlc

    project = import_dlc(dlc_folder, out, preset_name)
    files = find_label_files(project.data_root)
    click.echo(f"wrote {project.path}: {len(project.bodyparts)} body parts ({', '.join(project.bodyparts)}), "
               f"{len(files)} label files, {len(project.videos)} videos")
