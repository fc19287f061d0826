"""A stand-in 2D network for the project pipeline's analyze stage (shared by the serial and Dask tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

FAKE_NETWORK = '''
import os
import shutil
from pathlib import Path


def analyze(videos, out_dir, source, calls):
    with open(calls, "a") as log:
        log.write(f"{os.getpid()} {len(videos)}\\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    for video in videos:  # a stand-in network: the '2D detections' of each video are in `source`
        shutil.copy(Path(source) / (video.stem + ".h5"), out_dir / (video.stem + ".h5"))
    return [out_dir / (v.stem + ".h5") for v in videos]
'''


def use_fake_network(root: Path, session: Path, tmp_path: Path, module: str) -> tuple[Path, Path, Path]:
    """Make ``session`` of project ``root`` need the analyze stage, served by ``<module>:analyze``.

    Its 2D detections move to a stash the fake network copies from, its
    videos become placeholder files, and the project config gains a
    ``[network]`` table. Returns the module file (importable once its folder
    is on the path), the log of calls (one line ``<pid> <n videos>`` per
    call) and the config file.
    """
    module_path = tmp_path / f"{module}.py"
    module_path.write_text(FAKE_NETWORK)
    stash = tmp_path / "detections"
    shutil.move(session / "pose-2d", stash)
    (session / "videos-raw").mkdir()
    for cam in ("cam1", "cam2", "cam3", "cam4"):
        (session / "videos-raw" / f"{cam}.mp4").write_bytes(cam.encode())
    calls = tmp_path / "calls.txt"
    config = root / "config.toml"
    config.write_text(config.read_text() + f'\n[network]\nanalyzer = "{module}:analyze"\nsource = "{stash}"\n'
                      f'calls = "{calls}"\n')
    return module_path, calls, config
