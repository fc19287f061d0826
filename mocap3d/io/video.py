"""Videos every browser plays: H.264 (libx264), yuv420p, the index at the front of the file (fast start).

The encoder is the ffmpeg binary that ``imageio-ffmpeg`` ships (it includes
libx264). Frames are RGB uint8; width and height must be even (yuv420p halves
the colour resolution).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import MocapError
from .atomic import atomic_path

__all__ = ["h264_writer", "video_codec"]


@contextlib.contextmanager
def h264_writer(path: str | Path, size: tuple[int, int], fps: float, crf: int = 18) -> Iterator:
    """A context manager yielding ``write(frame)`` for RGB frames ``(h, w, 3)`` uint8; the file appears atomically.

    ``crf`` is x264's constant quality (18: visually lossless; 23: ffmpeg's default).
    """
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        raise MocapError("writing H.264 video needs imageio-ffmpeg; install it (pip install imageio-ffmpeg).") from None
    w, h = (int(v) for v in size)
    if w % 2 or h % 2:
        raise MocapError(f"H.264 (yuv420p) video needs an even width and height; {w}x{h} is not.")
    with atomic_path(path) as tmp:
        gen = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=float(fps), codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=None, macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", "veryfast", "-movflags", "+faststart"],
        )
        gen.send(None)

        def write(frame: np.ndarray) -> None:
            if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                raise ValueError(f"expected an RGB uint8 frame of {h}x{w}, got {frame.shape} {frame.dtype}")
            gen.send(np.ascontiguousarray(frame))

        try:
            yield write
        finally:
            gen.close()


def video_codec(path: str | Path) -> dict[str, str]:
    """``{"codec": "h264", "pix_fmt": "yuv420p", "faststart": "yes"|"no"}`` of a video, read by ffmpeg."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    text = subprocess.run([exe, "-hide_banner", "-v", "trace", "-i", str(path)], capture_output=True, text=True,
                          check=False).stderr  # fmt: skip
    m = re.search(r"Video: (\w+).*?\b(yuvj?\d+p\w*|[a-z]*rgb\w*|bgr\w*|gray\w*|nv\d+)", text)
    if not m:
        raise MocapError(f"{path}: ffmpeg finds no video stream in it.")
    # with fast start the 'moov' atom (the index) comes before 'mdat' (the frames)
    moov, mdat = text.find("type:'moov'"), text.find("type:'mdat'")
    fast = "yes" if moov >= 0 and (mdat < 0 or moov < mdat) else "no"
    return {"codec": m.group(1), "pix_fmt": m.group(2), "faststart": fast}
