"""``mocap3d export-onnx``: a trained network as ONNX for ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import overwrite_option


@click.command("export-onnx")
@click.argument("model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output .onnx (default: beside the model).")
@click.option("--size", default="640x480", show_default=True, help="Example frame size WxH (shapes stay dynamic).")
@overwrite_option("Replace an existing ONNX file.")
def command(model_path, out, size, overwrite) -> None:
    """Export model.pt to ONNX (input: images N x 3 x H x W, 0-255 RGB; outputs: heatmaps, locref).

    \b
    Example:
      mocap3d export-onnx openfield/models/openfield/model.pt
    """
    from ..io.outputs import check_output

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter("give the size as WIDTHxHEIGHT, e.g. 640x480", param_hint="--size") from None
    out = check_output(out or model_path.with_suffix(".onnx"), [model_path], overwrite=overwrite, kinds=["onnx-model"])
    from ..nn.predict import export_onnx  # PyTorch: imported once the options are known to be right
    from ..nn.train import load_model

    model, _ = load_model(model_path)
    path = export_onnx(model, out, (w, h))
    click.echo(f"wrote {path}")
