"""Several animals through ``mocap3d run`` (``[triangulation] individuals = "all"``): stage times and 3D errors.

Usage::

    python benchmarks/bench_multi_run.py              # 2 and 3 walkers x 600 frames (about a minute)
    python benchmarks/bench_multi_run.py --frames 3000

For each herd (:mod:`mocap3d.synthetic.herd`, 4 cameras, labels swapped per
camera) a session is written (:func:`~mocap3d.synthetic.herd.write_herd_session`)
with the config of ``tests/multi/test_multi_pipeline.py`` (robust triangulation,
Butterworth 6 Hz, two knee angles, TRC and netCDF export); the project is run
serially, then run again (every stage should be skipped). Prints each stage's
time and each walker's median 3D error (mm, against the individual nearest
to it) before and after the 3D filter.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_multi_pipeline import CONFIG  # noqa: E402  (the tested config, one place)

from mocap3d.io.individuals import load_individuals  # noqa: E402
from mocap3d.pipeline import run_project  # noqa: E402
from mocap3d.synthetic.herd import make_herd, write_herd_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--walkers", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.walkers:
            root = Path(tmp) / f"herd{n}"
            shutil.rmtree(root, ignore_errors=True)
            write_herd_session(make_herd(n_individuals=n, n_frames=args.frames, seed=1), root / "s")
            (root / "config.toml").write_text(CONFIG)
            start = time.perf_counter()
            report = run_project(root, workers=0, progress=False)
            wall = time.perf_counter() - start
            stages = {s.stage: round(s.seconds, 2) for s in report.sessions[0].stages if s.status == "done"}
            truth = load_individuals(root / "s" / "ground_truth.h5")
            print(f"{n} walkers, {args.frames} frames: run {wall:.1f} s, stages {stages}")
            for folder in ("pose-3d", "pose-3d-filtered"):
                got = load_individuals(root / "s" / folder / "s.h5")
                errs = [min(float(np.nanmedian(np.linalg.norm(p.points - t.points, axis=-1))) for p in got.values())
                        for t in truth.values()]  # fmt: skip
                print(f"  {folder}: {len(got)} individuals, median error per walker (mm) {np.round(errs, 2).tolist()}")
            start = time.perf_counter()
            again = run_project(root, workers=0, progress=False)
            print(f"  second run: {time.perf_counter() - start:.2f} s ({again.scheduler})")


if __name__ == "__main__":
    main()
