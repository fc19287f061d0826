"""Command-line speed: ``mocap3d --version`` and ``mocap3d triangulate --method dlt`` against aniposelib.

Usage::

    python benchmarks/bench_cli.py            # 25,000 frames x 20 body parts x 4 cameras
    python benchmarks/bench_cli.py --quick    # 2,000 frames, a smoke run

Prints a Markdown table and writes it to benchmarks/results/cli.md.

What is compared
----------------
* ``mocap3d --version`` as a subprocess (interpreter start-up included), best of 5.
* Every command runs once untimed first, and with Python allowed to write its bytecode
  (``PYTHONDONTWRITEBYTECODE`` removed): what a user's installed package runs.
* The same 2D points, one run: aniposelib's in-memory ``CameraGroup.triangulate``
  (JAX, warm, undistortion included; the points already in memory, nothing read
  or written) against the whole ``mocap3d triangulate --method dlt`` process as a
  subprocess: interpreter start-up, reading four DeepLabCut ``.h5`` files and the
  calibration, undistortion, DLT, and writing the anipose CSV. The two alternate
  (5 runs each); the best wall time and the best CPU time of each are reported
  (CPU time: user + system of all threads, which other jobs on the machine
  disturb less than wall time).
  The input is a sample rig's 4 cameras, 20 body parts moving smoothly, 1 px
  noise, 5 % of the points undetected (NaN, likelihood 0) and 10 % with a low
  likelihood (still triangulated by both: ``--score-threshold 0``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import best_time, write_results

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def make_input(folder: Path, n_frames: int, n_parts: int, seed: int = 0) -> tuple[Path, list[Path], np.ndarray]:
    """Calibration + one DeepLabCut .h5 per camera; returns their paths and the 2D points (cameras, N, 2)."""
    from mocap3d.io.calibration import save_calibration
    from mocap3d.io.pose2d import save_dlc
    from mocap3d.poses import Track2D
    from mocap3d.sample import make_rig

    rng = np.random.default_rng(seed)
    rig = make_rig(n_cameras=4, seed=seed)
    t = np.arange(n_frames)[:, None] / 100.0
    centre = np.stack([600 * np.sin(0.3 * t), 400 * np.cos(0.2 * t), 900 + 0 * t], axis=-1)  # (F, 1, 3)
    offsets = rng.normal(0, 250, (n_parts, 3))
    X = centre + offsets[None] + rng.normal(0, 5, (n_frames, n_parts, 3))
    uv = rig.project(X.reshape(-1, 3)).reshape(4, n_frames, n_parts, 2) + rng.normal(0, 1.0, (4, n_frames, n_parts, 2))
    likelihood = rng.uniform(0.6, 1.0, (4, n_frames, n_parts))
    likelihood[rng.random(likelihood.shape) < 0.10] = rng.uniform(0.01, 0.3)
    missing = rng.random(likelihood.shape) < 0.05
    uv[missing] = np.nan
    likelihood[missing] = 0.0
    calibration = save_calibration(rig, folder / "calibration.toml")
    keypoints = [f"part{j:02d}" for j in range(n_parts)]
    files = []
    for c, name in enumerate(rig.names):
        track = Track2D(uv[c][:, None], likelihood[c][:, None], keypoints)
        files.append(save_dlc(track, folder / f"{name}.h5", scorer="DLC_bench"))
    return Path(calibration), files, uv.reshape(4, -1, 2)


def mocap3d_command() -> list[str]:
    script = Path(sys.executable).parent / "mocap3d"
    return [str(script)] if script.exists() else [shutil.which("mocap3d") or "mocap3d"]


def _env(pythonpath: Path | None = None) -> dict[str, str]:
    """The commands' environment: this one, with Python allowed to keep its bytecode (an installed package has
    its ``.pyc`` files, and an editable one writes them on its first run; with ``PYTHONDONTWRITEBYTECODE`` set,
    every run would compile mocap3d's modules again, ~50 ms that no user pays twice)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def run(cmd: list[str], pythonpath: Path | None = None) -> tuple[float, float]:
    """Run a command to the end; its wall time and CPU time (user + system of all its threads, from the kernel's
    account of that one process, ``wait4``), in seconds. (Not its peak memory: a child of this large process
    starts out sharing it, and the kernel's high-water mark counts that; ``--phases`` reads the command's own.)"""
    with tempfile.TemporaryFile() as log:
        w = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(pythonpath))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - w
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        if proc.returncode != 0:
            log.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed:\n{log.read().decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def largest_difference(ours: Path, baseline: Path) -> str:
    """How far our CSV's numbers are from the baseline's (the same columns), and whether the same points are
    missing."""
    import pandas as pd

    a, b = pd.read_csv(ours), pd.read_csv(baseline)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return "the outputs differ in their columns or rows"
    xyz = [c for c in a.columns if c.endswith(("_x", "_y", "_z"))]
    err = [c for c in a.columns if c.endswith("_error")]
    same_nan = bool((a.isna().to_numpy() == b.isna().to_numpy()).all())
    d_xyz = float(np.nanmax(np.abs(a[xyz].to_numpy() - b[xyz].to_numpy())))
    d_err = float(np.nanmax(np.abs(a[err].to_numpy() - b[err].to_numpy())))
    return (f"largest difference from the baseline's output: {d_xyz:.2g} in a coordinate, {d_err:.2g} px in an "
            f"error; missing points {'the same' if same_nan else 'DIFFERENT'}")


PHASES = """
import sys, time
t0 = time.perf_counter()
marks = []
import mocap3d.triangulation.triangulate_stage as ts
marks.append(("imports", time.perf_counter()))
def timed(fn, name):
    def call(*a, **k):
        out = fn(*a, **k)
        marks.append((name, time.perf_counter()))
        return out
    return call
ts._load = timed(ts._load, "read the 2D files and calibration")
ts.triangulate = timed(ts.triangulate, "triangulate (undistort, DLT, reprojection errors)")
ts.write_output = timed(ts.write_output, "write the CSV")
ts.summarize = timed(ts.summarize, "summary")
from mocap3d.cli import main
sys.argv = ["mocap3d", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
prev = t0
for name, t in marks:
    print(f"{name}: {t - prev:.3f} s", file=sys.stderr)
    prev = t
# this process's own peak memory (the kernel's high-water mark of its address space since exec)
peak = next((line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")), "0")
print(f"peak memory {int(peak) / 1024:.0f} MB", file=sys.stderr)
print(f"{prev - t0}", file=sys.stderr)
"""


def phases(cmd: list[str], out: Path, repeats: int) -> str:
    """Where the command's time goes, in-process (best run of ``repeats``, by total)."""
    runs = []
    for _ in range(repeats):
        out.unlink(missing_ok=True)
        w = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PHASES, *cmd[1:]], capture_output=True, text=True, env=_env())
        wall, lines = time.perf_counter() - w, done.stderr.strip().splitlines()
        runs.append((wall, [*lines[-7:-2], f"interpreter start-up and exit: {wall - float(lines[-1]):.3f} s"],
                     lines[-2]))
    wall, lines, peak = min(runs)
    return "\n".join([f"whole process {wall:.3f} s (best of {repeats}, {peak}), of which:",
                      *(f"- {x}" for x in lines)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=25_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="also time the command from this source tree (e.g. a checkout of an older commit)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each (best is reported)")
    parser.add_argument("--quick", action="store_true", help="2,000 frames (smoke run)")
    parser.add_argument("--keep", type=Path, default=None, help="write the input and output here (kept)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cli.md")
    parser.add_argument("--phases", action="store_true",
                        help="also time the command's steps in-process (imports, reading, triangulation, writing)")
    args = parser.parse_args()
    if args.quick:
        args.frames = 2000

    from aniposelib.cameras import CameraGroup

    folder = args.keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    calibration, files, points = make_input(folder, args.frames, args.parts)
    mocap3d = mocap3d_command()

    group = CameraGroup.load(str(calibration))
    group.triangulate(points[:, :100], progress=False)  # warm up JAX
    out = folder / "pose3d.csv"

    def command(target: Path) -> list[str]:
        return [*mocap3d, "triangulate", "--method", "dlt", "--score-threshold", "0", "-c", str(calibration),
                "-o", str(target), *map(str, files)]  # fmt: skip

    cmd = command(out)
    # A first run of each, not timed: the one that writes the bytecode (see _env) and reads the input from disk;
    # with a baseline, the two outputs are compared.
    out.unlink(missing_ok=True)
    run(cmd)
    difference = ""
    if args.baseline:
        base_out = folder / "pose3d-baseline.csv"
        base_out.unlink(missing_ok=True)
        run(command(base_out), args.baseline)
        difference = largest_difference(out, base_out)
        base_out.unlink()
        print(difference, flush=True)
    out.unlink()
    # Interleaved (A B A B ...) so that a change of the machine's load hits both; best wall time of each, and
    # CPU time (user + system, all threads), which load disturbs less.
    ani_wall, ani_cpu, ours_runs, base_runs = [], [], [], []
    for _ in range(args.repeats):
        w, c = time.perf_counter(), time.process_time()
        group.triangulate(points, progress=False)
        ani_wall.append(time.perf_counter() - w)
        ani_cpu.append(time.process_time() - c)
        ours_runs.append(run(cmd))
        out.unlink()
        if args.baseline:
            base_runs.append(run(cmd, args.baseline))
            out.unlink()
        print(f"aniposelib {ani_wall[-1]:.2f} s wall / {ani_cpu[-1]:.2f} s CPU; mocap3d triangulate "
              f"{ours_runs[-1][0]:.2f} s wall / {ours_runs[-1][1]:.2f} s CPU", flush=True)
    breakdown = phases(cmd, out, args.repeats) if args.phases else ""
    if breakdown:
        print(breakdown, flush=True)
    # after the big runs: right after writing the input, the disk's write-back can stall a short process
    t_version = best_time(lambda: run([*mocap3d, "--version"]), repeats=5)
    print(f"mocap3d --version: {t_version:.3f} s", flush=True)
    t_ani, c_ani = min(ani_wall), min(ani_cpu)
    t_ours, c_ours = min(r[0] for r in ours_runs), min(r[1] for r in ours_runs)

    n = args.frames * args.parts
    load = os.getloadavg()[0]
    lines = [
        "# Command-line speed",
        "",
        f"Input: {args.frames} frames x {args.parts} body parts x 4 cameras ({n} points per camera), DeepLabCut "
        f".h5 in, anipose CSV out. Best of {args.repeats} interleaved runs (5 for --version), one run of the script.",
        "",
        "| what | wall time | CPU time | ratio (wall) | ratio (CPU) |",
        "|---|---|---|---|---|",
        f"| `mocap3d --version` (subprocess) | {t_version:.3f} s | | | |",
        f"| aniposelib `CameraGroup.triangulate`, in memory (warm JAX) | {t_ani:.2f} s | {c_ani:.2f} s | 1.0x | 1.0x |",
        f"| `mocap3d triangulate --method dlt`, whole process (start-up, read .h5, write CSV) | {t_ours:.2f} s "
        f"| {c_ours:.2f} s | **{t_ani / t_ours:.2f}x** | **{c_ani / c_ours:.2f}x** |",
    ]
    if args.baseline:
        tb, cb = min(r[0] for r in base_runs), min(r[1] for r in base_runs)
        lines.append(f"| the same command from `{args.baseline}` (baseline) | {tb:.2f} s | {cb:.2f} s "
                     f"| {t_ani / tb:.2f}x | {c_ani / cb:.2f}x |")
    lines += [
        *(["", difference] if difference else []),
        "",
        f"mocap3d's whole process is {t_ani / t_ours:.2f}x as fast as aniposelib's in-memory triangulation in wall "
        f"time, {c_ani / c_ours:.2f}x in CPU time (load average {load:.1f} on {os.cpu_count()} cores at the end).",
        "",
        *([breakdown, ""] if breakdown else []),
        "Command: `python benchmarks/bench_cli.py" + (" --quick" if args.quick else "")
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + (f" --repeats {args.repeats}" if args.repeats != 5 else "") + (" --phases" if args.phases else "") + "`",
        "",
    ]
    write_results("\n".join(lines), args.out)
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
