"""Option types and checks shared by the commands: numbers that must be possible, ports, torch devices.

A value that cannot be right (a frame rate of 0 or NaN, port 70000, cuda:0 on a
machine without a GPU) is a usage error with a sentence naming the option; the
command line exits with code 1.
"""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["FPS", "PORT", "PositiveFloat", "check_device", "device_callback", "overwrite_option"]


class PositiveFloat(click.ParamType):
    """A finite number above zero (``nan``, ``inf``, 0 and negatives are refused)."""

    name = "number"

    def __init__(self, what: str = "value", example: str = "60"):
        self.what = what
        self.example = example

    def convert(self, value: Any, param, ctx) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"'{value}' is not a number; give the {self.what}, e.g. {self.example}.", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value} is not a possible {self.what}; give a number above 0, e.g. {self.example}.", param, ctx)
        return number


#: A frame rate in frames per second.
FPS = PositiveFloat("frame rate (frames per second)", "60")
#: A TCP port; 0 asks the system for a free one.
PORT = click.IntRange(0, 65535)


def check_device(device: str) -> str:
    """A torch device string that can be used here; a sentence (``click.BadParameter``) otherwise."""
    text = device.strip().lower()
    if text == "cpu":
        return "cpu"
    kind, _, index = text.partition(":")
    if kind not in ("cuda", "mps") or (index and not index.isdigit()):
        raise click.BadParameter(f"'{device}' is not a device; use cpu, cuda, cuda:0 (first GPU) or mps.",
                                 param_hint="--device")  # fmt: skip
    try:
        import torch
    except ImportError:
        raise click.BadParameter(f"'{device}' needs PyTorch, which is not installed; use --device cpu.",
                                 param_hint="--device") from None  # fmt: skip
    if kind == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise click.BadParameter("this machine has no Apple GPU (mps); use --device cpu.", param_hint="--device")
        return text
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise click.BadParameter(f"'{device}' asks for a GPU, but PyTorch sees none on this machine (no CUDA "
                                 "device or driver); use --device cpu.", param_hint="--device")  # fmt: skip
    if index and int(index) >= count:
        raise click.BadParameter(f"'{device}': this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}.",
                                 param_hint="--device")  # fmt: skip
    return text


def device_callback(ctx, param, value: str | None) -> str | None:
    """click callback for ``--device`` options."""
    return None if value is None else check_device(value)


def overwrite_option(help_text: str = "Replace outputs that exist (never an input, never a file of another kind)."):
    """The ``--overwrite`` flag every command that writes files has."""
    return click.option("--overwrite", is_flag=True, default=False, help=help_text)
