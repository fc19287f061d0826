"""Transfer learning on real labels: ImageNet-pretrained EfficientNet-Lite0 against the same network from random
weights, on DeepLabCut's openfield example (Mathis et al. 2018's central result, reproduced on 2 CPU cores).

Usage::

    python benchmarks/bench_transfer.py openfield --minutes 20             # 80/20 split, both runs, same budget
    python benchmarks/bench_transfer.py efficiency --minutes 4 --seeds 0 1 # error against the number of images
    python benchmarks/bench_transfer.py openfield --minutes 20 --parallel  # both runs at once, one core each

Both arms train the same architecture (presets ``lite0`` and ``lite0_scratch``: identical but for
``pretrained``) on the same seeded split, with the same wall-clock budget: each run measures its own speed
on iterations 10-40 (after start-up), lays the learning-rate schedule over the iteration count that fits the
budget, and trains that many. Errors are DeepLabCut's "RMSE" (mean Euclidean distance, full-image pixels)
on the test images. ``--parallel`` runs the two arms at the same time with one thread each, so each has one
core for the budget (a harder condition than two cores each, and the same for both arms).

``efficiency`` draws ``n`` training images from the 80 % split (10, 23, 46, 93 by default; ``--seeds``
draws) and tests every run on the same 23 test images: the paper's data-efficiency figure, written as a
PNG and a table. Results go to ``benchmarks/results/transfer-<mode><settings>.md`` (efficiency also ``.json``,
the runs, and ``.png``), named by the settings so that runs do not overwrite each other.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MOCAP3D_DATASETS", REPO.parent / "shared" / "datasets"))
PROJECT = DATA / "deeplabcut" / "examples" / "openfield-Pranav-2018-10-30"
ARMS = {"pretrained": "lite0", "scratch": "lite0_scratch"}


def _overrides(settings: list[str]) -> dict[str, dict]:
    """``["model.output_stride=4", ...]`` as preset overrides (values parsed as JSON where they parse)."""
    out: dict[str, dict] = {}
    for item in settings:
        key, _, value = item.partition("=")
        table, _, name = key.partition(".")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(table, {})[name] = parsed
    return out


def openfield_split():
    """The openfield project, its labelled images and the benchmark's seeded 80/20 split (train, test indices)."""
    from mocap3d.nn.dataset import split
    from mocap3d.nn.project import dlc_project

    project = dlc_project(PROJECT / "config.yaml")
    data = project.training_set()
    train_idx, test_idx = split(len(data), 0.8, 1)
    return project, data, train_idx, test_idx


def at_chosen_scale(model_path: Path, data, train_idx: np.ndarray, factors: tuple[float, ...]):
    """A trained network, its model settings at 1x, and the analysis factor its training images choose (as
    training does, :func:`mocap3d.nn.train.choose_test_scale`) with each factor's training error."""
    from mocap3d.nn.train import choose_test_scale, load_model

    model, info = load_model(model_path)
    mc = info.config.model.replace(test_scale=1.0)
    factor, errors = choose_test_scale(model, mc, data.subset(train_idx), factors)
    return model, mc, factor, errors


def run_one(preset_name: str, minutes: float, n_train: int, seed: int, threads: int, out: Path,
            settings: list[str] | None = None, iterations: int = 0, curve: int = 0) -> dict:
    """Train one arm within the budget (or for a fixed number of iterations) and evaluate it; with ``curve``,
    also every ``curve`` iterations on the way (a snapshot each, tested at 1x: the learning curve)."""
    import torch

    from mocap3d.nn.config import preset
    from mocap3d.nn.evaluate import check_labels, evaluate
    from mocap3d.nn.predict import Predictor
    from mocap3d.nn.train import load_model, snapshots, train

    torch.set_num_threads(threads)
    project, data, train_idx, test_idx = openfield_split()
    if n_train and n_train < len(train_idx):
        train_idx = np.sort(np.random.default_rng(seed).permutation(train_idx)[:n_train])
    cfg = preset(preset_name, _overrides(settings or []))
    cfg = cfg.replace(train=cfg.train.replace(threads=threads, checkpoint_every=curve or 10**6))
    subset = data.subset(train_idx)
    t0 = time.perf_counter()
    cfg = cfg.replace(train=cfg.train.replace(iterations=10**6))  # speed probe: iterations 10..40, after start-up
    first = train(subset, cfg, out, symmetric_pairs=project.symmetric_pairs, stop_after=10, progress=False)
    probe = train(subset, cfg, out, symmetric_pairs=project.symmetric_pairs, stop_after=40, progress=False)
    spent = time.perf_counter() - t0
    budget = max(100, int((minutes * 60 - spent) / probe.seconds_per_iteration) + 40)
    cfg = cfg.replace(train=cfg.train.replace(iterations=iterations or budget))
    result = train(subset, cfg, out, symmetric_pairs=project.symmetric_pairs, progress=False, keep=10**6)
    seconds = time.perf_counter() - t0
    learning = [(it, test_error(path, data, test_idx)) for it, path in snapshots(out) if curve and it % curve == 0]
    model, info = load_model(result.model_path)
    ev = evaluate(Predictor(model, info.config.model), data, train_idx, test_idx, project.pcutoff)
    # the same network analysed at its training scale: what the chosen test_scale ([train] test_scales) changes
    at_1x = ev.test.mean_error if info.config.model.test_scale == 1.0 else evaluate(
        Predictor(model, info.config.model.replace(test_scale=1.0)), data, train_idx, test_idx, project.pcutoff
    ).test.mean_error
    issues = check_labels(data, ev.predictions, ev.scores, project.symmetric_pairs, project.pcutoff)
    fixed = swaps_corrected(data.keypoints, data.bodyparts, issues)
    test_fixed = float(np.nanmean(np.linalg.norm(ev.predictions - fixed, axis=-1)[test_idx]))
    return {"preset": preset_name, "n_train": len(train_idx), "n_test": len(test_idx), "seed": seed,
            "settings": settings or [],
            "iterations": result.iterations, "minutes": seconds / 60, "s_per_it": probe.seconds_per_iteration,
            "started_from": first.started_from, "train": ev.train.mean_error, "test": ev.test.mean_error,
            "test_rms": ev.test.rms, "test_fixed": test_fixed, "test_pcut": ev.test.mean_error_pcutoff,
            "pck5": ev.test.pck[5.0], "test_scale": info.config.model.test_scale, "test_at_1x": at_1x,
            "label_check": [i.line() for i in issues], "curve": [*learning, (result.iterations, at_1x)]}


def test_error(model_path: Path, data, test_idx: np.ndarray) -> float:
    """Mean test error (px) of a network or snapshot, analysed at its training scale."""
    from mocap3d.nn.evaluate import predict_images
    from mocap3d.nn.predict import Predictor
    from mocap3d.nn.train import load_model

    model, info = load_model(model_path)
    test = data.subset(test_idx)
    xy, _ = predict_images(Predictor(model, info.config.model.replace(test_scale=1.0)), test.images)
    return float(np.nanmean(np.linalg.norm(xy - test.keypoints, axis=-1)))


def rescore(model_path: Path, factors: tuple[float, ...]) -> str:
    """Choose a trained openfield network's analysis scale as training does (on its training images of the
    seeded 80/20 split, :func:`mocap3d.nn.train.choose_test_scale`) and test it at 1x and at that factor: for
    networks trained before the choice was part of training."""
    from mocap3d.nn.evaluate import evaluate
    from mocap3d.nn.predict import Predictor

    project, data, train_idx, test_idx = openfield_split()
    model, mc, factor, errors = at_chosen_scale(model_path, data, train_idx, factors)
    lines = [f"{model_path}: training images' mean error " + ", ".join(f"{f:g}x {e:.3f} px" for f, e in errors.items()),
             f"chosen {factor:g}x", "",
             "| analysis scale | train mean (px) | test mean (RMSE, px) | test RMS | PCK@5px |",
             "|---|---|---|---|---|"]
    for f in dict.fromkeys((1.0, factor)):
        ev = evaluate(Predictor(model, mc.replace(test_scale=f)), data, train_idx, test_idx, project.pcutoff)
        lines.append(f"| {f:g}x | {ev.train.mean_error:.2f} | {ev.test.mean_error:.2f} | {ev.test.rms:.2f} | "
                     f"{ev.test.pck[5.0]:.1%} |")
    return "\n".join(lines)


def floor(model_paths: list[Path], factors: tuple[float, ...]) -> str:
    """How far two independently trained openfield networks are from the labels' own noise.

    Each network is analysed at the scale its training images choose (as :func:`rescore`). If the two
    networks' errors and the labels' noise are independent, ``E|A-B|^2 = 2 s_net^2`` and
    ``E|A-L|^2 = s_net^2 + s_label^2``: the networks' disagreement measures their own error, and what is left
    of their error against the labels is the labelling noise, which no network can go below. Images that the
    label check flags as swapped are left out of this estimate (their labels are wrong, not noisy). Errors the
    two networks share (the same hard image) would make the disagreement smaller than independence predicts:
    the floor is then lower, and the ratio cap higher, than this estimate.
    """
    from mocap3d.nn.evaluate import check_labels, predict_images
    from mocap3d.nn.predict import Predictor

    project, data, train_idx, test_idx = openfield_split()
    test = data.subset(test_idx)
    preds, lines = [], []
    for path in model_paths:
        model, mc, factor, _ = at_chosen_scale(path, data, train_idx, factors)
        xy, scores = predict_images(Predictor(model, mc.replace(test_scale=factor)), test.images)
        preds.append(xy)
        lines.append((path, factor, xy, scores))
    swapped = {i.index for i in check_labels(test, preds[0], lines[0][3], project.symmetric_pairs, project.pcutoff)
               if i.kind == "swapped"}
    keep = np.array([i not in swapped for i in range(len(test_idx))])
    labels = test.keypoints[keep]
    rows = ["| network | scale | test mean (px) | test median | without swapped labels: mean | RMS |",
            "|---|---|---|---|---|---|"]
    ms, means = [], []
    for path, factor, xy, _ in lines:
        e = np.linalg.norm(xy - test.keypoints, axis=-1)
        k = np.linalg.norm(xy[keep] - labels, axis=-1)
        ms.append(float(np.nanmean(k ** 2)))
        means.append(float(np.nanmean(k)))
        rows.append(f"| {path.parent.parent.name}/{path.parent.name} | {factor:g}x | {np.nanmean(e):.2f} | "
                    f"{np.nanmedian(e):.2f} | {np.nanmean(k):.2f} | {np.sqrt(ms[-1]):.2f} |")
    d = np.linalg.norm(preds[0][keep] - preds[1][keep], axis=-1)
    s_net = float(np.sqrt(np.nanmean(d ** 2) / 2))
    s_label = float(np.sqrt(max(np.mean(ms) - s_net ** 2, 0.0)))
    best = s_label * np.sqrt(np.pi) / 2  # mean length of a 2D isotropic Gaussian error with this RMS
    rows += ["", f"test images left out as swapped by the label check: "
                 f"{', '.join(test.names[i] for i in sorted(swapped)) or 'none'}",
             f"the two networks disagree by {np.nanmean(d):.2f} px mean ({np.sqrt(np.nanmean(d ** 2)):.2f} RMS): "
             f"each network's own error ~{s_net:.2f} px RMS",
             f"the labels' own noise: ~{s_label:.2f} px RMS, so even a perfect network would measure "
             f"~{best:.2f} px mean error on these labels",
             f"the largest ratio any network could show against the worse of these two ({max(means):.2f} px on the "
             f"same images): ~{max(means) / best:.2f}x"]
    return "\n".join(rows)


def swaps_corrected(keypoints: np.ndarray, bodyparts: tuple[str, ...], issues: list) -> np.ndarray:
    """The labels with every left/right swap that the label check flags exchanged back (a copy)."""
    fixed = keypoints.copy()
    for issue in issues:
        if issue.kind == "swapped":
            a, b = (bodyparts.index(name) for name in issue.bodyparts)
            fixed[issue.index, [a, b]] = keypoints[issue.index, [b, a]]
    return fixed


def launch(arm: str, args, n_train: int, seed: int, threads: int, work: Path) -> subprocess.Popen:
    """One arm in its own process (so parallel arms do not share torch's thread pool)."""
    out = work / f"{arm}-n{n_train}-s{seed}"
    cmd = [sys.executable, __file__, "_one", ARMS[arm], str(args.minutes), str(n_train), str(seed), str(threads),
           str(out), str(args.iterations), str(args.curve), *args.set]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def collect(proc: subprocess.Popen) -> dict:
    stdout, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"a training run failed (exit {proc.returncode})")
    return json.loads(stdout.strip().splitlines()[-1])


def run_pairs(jobs: list[tuple[str, int, int]], args, work: Path) -> list[dict]:
    """Run (arm, n_train, seed) jobs: two at a time with one thread each (--parallel), else one at a time."""
    results: list[dict] = []
    width = 2 if args.parallel else 1
    threads = 1 if args.parallel else args.threads
    for i in range(0, len(jobs), width):
        procs = [launch(arm, args, n, s, threads, work) for arm, n, s in jobs[i:i + width]]
        for (arm, _, s), proc in zip(jobs[i:i + width], procs, strict=True):
            r = collect(proc)
            r["arm"] = arm
            results.append(r)
            print(f"{arm:10s} n={r['n_train']:3d} seed={s} {r['iterations']:5d} it in {r['minutes']:.1f} min: "
                  f"test {r['test']:.2f} px (train {r['train']:.2f})", flush=True)
    return results


def openfield(args, work: Path) -> str:
    results = run_pairs([(arm, 0, 0) for arm in args.arms], args, work)
    by = {r["arm"]: r for r in results}
    p, s = by.get("pretrained"), by.get("scratch")
    cores = "1 core each, both arms at once" if args.parallel else f"{args.threads} threads, one arm at a time"
    first = results[0]
    lines = [f"DeepLabCut openfield, seeded 80/20 split ({first['n_train']} train / {first['n_test']} test images), "
             f"{args.minutes:g}-minute budget per arm ({cores})", "",
             "| arm | preset | started from | iterations | minutes | train mean (px) | test mean (RMSE, px) | "
             "test RMS | test mean p>cutoff | test PCK@5px | test mean, flagged swaps corrected (px) | "
             "analysis scale (x training's, chosen on the training images) | test mean at 1x (px) |",
             "|" + "---|" * 13]
    for r in results:
        lines.append(f"| {r['arm']} | {r['preset']} | {r['started_from'].split(' from ')[0]} | {r['iterations']} | "
                     f"{r['minutes']:.1f} | {r['train']:.2f} | {r['test']:.2f} | {r['test_rms']:.2f} | "
                     f"{r['test_pcut']:.2f} | {r['pck5']:.1%} | {r.get('test_fixed', float('nan')):.2f} | "
                     f"{r.get('test_scale', 1.0):g} | {r.get('test_at_1x', r['test']):.2f} |")
    if p and s:
        lines += ["", f"pretrained is **{s['test'] / p['test']:.2f}x** lower in test error than from scratch "
                  f"({p['test']:.2f} against {s['test']:.2f} px)"]
    lines += ["", f"labels to review ({results[0]['arm']} run):"]
    lines += [f"- {line}" for line in results[0]["label_check"][:10]]
    return "\n".join(lines)


def efficiency(args, work: Path, raw: Path) -> str:
    jobs = [(arm, n, seed) for n in args.sizes for seed in args.seeds for arm in ARMS]
    results = run_pairs(jobs, args, work)
    raw.write_text(json.dumps({"minutes": args.minutes, "iterations": args.iterations, "seeds": args.seeds,
                               "settings": args.set, "runs": results}, indent=1))
    return efficiency_report(raw)


def efficiency_report(raw: Path) -> str:
    """Table and figure (``raw``'s name, ``.png``) from the runs :func:`efficiency` saved (``replot`` redraws)."""
    saved = json.loads(raw.read_text())
    minutes, seeds = saved["minutes"], saved["seeds"]
    budget = f"{saved['iterations']} iterations" if saved.get("iterations") else f"{minutes:g} minutes"
    from mocap3d.nn.train import MIN_SCALE_IMAGES

    table: dict[tuple[str, int], list[float]] = {}
    rescaled = 0
    for r in saved["runs"]:
        # training keeps the training scale with fewer than MIN_SCALE_IMAGES images; runs made before that rule
        # chose another scale on them, and are given at 1x, as training now analyses them
        few = r["n_train"] < MIN_SCALE_IMAGES and r.get("test_scale", 1.0) != 1.0 and "test_at_1x" in r
        rescaled += few
        table.setdefault((r["arm"], r["n_train"]), []).append(r["test_at_1x"] if few else r["test"])
    sizes = sorted({n for _, n in table})
    lines = [f"DeepLabCut openfield: test error (mean px, the same 23 test images) against the number of training "
             f"images, {budget} per run, seeds {seeds}", "",
             "| training images | pretrained (px) | from scratch (px) | ratio |", "|---|---|---|---|"]
    for n in sizes:
        p, s = np.mean(table["pretrained", n]), np.mean(table["scratch", n])
        lines.append(f"| {n} | {p:.2f} ({', '.join(f'{v:.2f}' for v in table['pretrained', n])}) | "
                     f"{s:.2f} ({', '.join(f'{v:.2f}' for v in table['scratch', n])}) | {s / p:.1f}x |")
    if rescaled:
        lines += ["", f"{rescaled} run(s) with fewer than {MIN_SCALE_IMAGES} training images had chosen an analysis "
                      "scale other than 1x before training stopped choosing on so few images; they are given at 1x "
                      "(their test_at_1x), as training now analyses them."]
    curves = _curves(saved["runs"])
    if curves:
        iters = sorted({it for c in curves.values() for it in c})
        lines += ["", "Learning curves (mean test px over seeds, analysed at the training scale; from `--curve`):", "",
                  "| training images | iterations | pretrained (px) | from scratch (px) | ratio |",
                  "|---|---|---|---|---|"]
        for n in sorted({n for _, n in curves}):
            for it in iters:
                p, s = curves.get(("pretrained", n), {}).get(it), curves.get(("scratch", n), {}).get(it)
                if p is not None and s is not None:
                    lines.append(f"| {n} | {it} | {p:.2f} | {s:.2f} | {s / p:.1f}x |")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from mocap3d.io.atomic import save_figure

    fig, axes = plt.subplots(1, 2 if curves else 1, figsize=(12.4 if curves else 6.4, 4.2), squeeze=False)
    ax = axes[0, 0]
    if curves:
        right = axes[0, 1]
        curve_sizes = sorted({n for _, n in curves})
        for (arm, n), c in sorted(curves.items()):
            shade = 0.45 + 0.55 * (curve_sizes.index(n) + 1) / len(curve_sizes)  # more images: darker
            colour = (plt.cm.Blues if arm == "pretrained" else plt.cm.Reds)(shade)
            right.plot(list(c), list(c.values()), "o-", color=colour, ms=3, lw=1.2, label=f"{arm}, {n} images")
        right.set(yscale="log", xlabel="training iterations", ylabel="test error (mean px, 1x)",
                  title="learning curves (mean over seeds)")
        right.yaxis.set_major_formatter(ScalarFormatter())
        right.yaxis.set_minor_formatter(NullFormatter())
        right.set_yticks([2, 3, 5, 10, 20, 30, 60, 100, 300])
        right.axhline(3.0, color="grey", ls=":", lw=1)
        right.legend(fontsize=8)
    for arm, colour in (("pretrained", "tab:blue"), ("scratch", "tab:red")):
        means = [np.mean(table[arm, n]) for n in sizes]
        for n in sizes:
            ax.scatter([n] * len(table[arm, n]), table[arm, n], color=colour, alpha=0.4, s=12)
        label = "ImageNet-pretrained EfficientNet-Lite0" if arm == "pretrained" else "same network, random weights"
        ax.plot(sizes, means, "o-", color=colour, label=label)
        for n, m in zip(sizes, means, strict=True):
            ax.annotate(f"{m:.1f}", (n, m), textcoords="offset points", xytext=(6, 4), color=colour, fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel="training images", ylabel="test error (mean px)",
           title=f"openfield: test error after {budget} of training per run")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.set_xticks(sizes)
    ax.set_yticks([2, 3, 5, 10, 20, 30])
    ax.axhline(3.0, color="grey", ls=":", lw=1)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, raw.with_suffix(".png"), dpi=120)
    return "\n".join(lines + ["", f"![data efficiency]({raw.with_suffix('.png').name})"])


def merge_runs(paths: list[Path], results: Path) -> Path:
    """Several efficiency runs' ``.json`` (the same iterations and settings: sizes and seeds run apart) as one
    ``transfer-efficiency-merged-<budget>.json`` in ``results``, for one table and figure."""
    saved = [json.loads(p.read_text()) for p in paths]
    for key in ("minutes", "iterations", "settings"):
        if any(s.get(key) != saved[0].get(key) for s in saved):
            raise SystemExit(f"replot: the runs differ in {key} ({', '.join(str(s.get(key)) for s in saved)}); "
                             "merge only runs of one budget and one setting.")
    runs, seen = [], set()
    for p, s in zip(paths, saved, strict=True):
        for r in s["runs"]:
            key = (r["arm"], r["n_train"], r["seed"])
            if key in seen:
                raise SystemExit(f"replot: {p} repeats the run {key} (arm, images, seed) of another file.")
            seen.add(key)
            runs.append(r)
    first = saved[0]
    budget = f"{first['iterations']}it" if first.get("iterations") else f"{first['minutes']:g}min"
    out = results / f"transfer-efficiency-merged-{budget}.json"
    if out.resolve() in [p.resolve() for p in paths]:
        raise SystemExit(f"replot: {out.name} is one of the runs to merge and would be replaced; merge the "
                         "runs it was made from instead.")
    out.write_text(json.dumps({"minutes": first["minutes"], "iterations": first.get("iterations"),
                               "seeds": sorted({r["seed"] for r in runs}), "settings": first.get("settings", []),
                               "merged_from": [p.name for p in paths], "runs": runs}, indent=1))
    return out


def _curves(runs: list[dict]) -> dict[tuple[str, int], dict[int, float]]:
    """``{(arm, n_train): {iteration: mean test error over seeds}}`` of runs that recorded a learning curve
    (iterations every seed reached)."""
    by: dict[tuple[str, int], list[dict[int, float]]] = {}
    for r in runs:
        if len(r.get("curve", [])) > 1:
            by.setdefault((r["arm"], r["n_train"]), []).append({int(it): e for it, e in r["curve"]})
    out = {}
    for key, seeds in by.items():
        common = sorted(set.intersection(*(set(c) for c in seeds)))
        out[key] = {it: float(np.mean([c[it] for c in seeds])) for it in common}
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_one":
        logging.basicConfig(level=logging.ERROR)
        preset_name, minutes, n_train, seed, threads, out, iterations, curve = sys.argv[2:10]
        r = run_one(preset_name, float(minutes), int(n_train), int(seed), int(threads), Path(out), sys.argv[10:],
                    int(iterations), int(curve))
        print(json.dumps(r))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["openfield", "efficiency", "replot", "rescore", "floor"],
                    help="replot: redraw an efficiency run's table and figure from its .json (--replot); "
                         "floor: the labels' noise, from two trained networks' disagreement (--models)")
    ap.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget per training run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", action="store_true", help="two runs at once, one thread each")
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="openfield: which arms to run")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 23, 46, 93])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--set", nargs="*", default=[], metavar="TABLE.KEY=VALUE",
                    help="preset overrides for both arms, e.g. model.output_stride=4")
    ap.add_argument("--iterations", type=int, default=0,
                    help="train exactly this many iterations instead of fitting them to --minutes (for runs on a "
                         "busy machine: the count an idle machine reaches in the budget, from a speed probe)")
    ap.add_argument("--curve", type=int, default=0, metavar="N",
                    help="also test every N iterations on the way (efficiency: the learning curves, a table and "
                         "a second panel)")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mocap3d-transfer")
    ap.add_argument("--replot", type=Path, nargs="+",
                    default=[REPO / "benchmarks" / "results" / "transfer-efficiency-6min.json"],
                    help="replot: the saved runs (an efficiency run's .json) to draw; several are merged into one "
                         "table and figure (transfer-efficiency-merged-<budget>)")
    ap.add_argument("--model", type=Path, help="rescore: a trained openfield network (model.pt)")
    ap.add_argument("--models", type=Path, nargs=2, help="floor: two openfield networks trained independently")
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 1.1, 1.2, 1.3],
                    help="rescore: the analysis scales to choose from ([train] test_scales)")
    args = ap.parse_args()
    results = REPO / "benchmarks" / "results"
    if args.mode == "rescore":
        if args.model is None or not args.model.is_file():
            raise SystemExit("rescore needs --model, a trained openfield network's model.pt")
        text = rescore(args.model, tuple(args.factors))
        print(text)
        factors = "-".join(f"{f:g}" for f in args.factors)  # named by model and factors: no run overwrites another
        (results / f"transfer-rescore-{args.model.parent.parent.name}-x{factors}.md").write_text(
            f"`{' '.join(['python', *sys.argv])}`\n\n{text}\n")
        return
    if args.mode == "floor":
        if args.models is None or not all(m.is_file() for m in args.models):
            raise SystemExit("floor needs --models A.pt B.pt, two trained openfield networks")
        if args.models[0].resolve() == args.models[1].resolve():
            raise SystemExit("floor: --models names the same network twice; give two networks trained apart "
                             "(one network agrees with itself, which says nothing about the labels)")
        text = floor(list(args.models), tuple(args.factors))
        print(text)
        pair = "-".join(m.parent.parent.name for m in args.models)  # named by the two runs: none overwrites another
        (results / f"transfer-floor-{pair}.md").write_text(f"`{' '.join(['python', *sys.argv])}`\n\n{text}\n")
        return
    if args.mode == "replot":
        raw = args.replot[0] if len(args.replot) == 1 else merge_runs(args.replot, results)
        text = efficiency_report(raw)
        print(text)
        if len(args.replot) > 1:
            raw.with_suffix(".md").write_text(f"`{' '.join(['python', *sys.argv])}`\n\n{text}\n")
        return
    if not PROJECT.is_dir():
        raise SystemExit(f"dataset not found at {PROJECT} (set MOCAP3D_DATASETS)")
    results.mkdir(exist_ok=True)
    suffix = f"-{args.arms[0]}-{args.threads}threads" if args.mode == "openfield" and len(args.arms) == 1 else ""
    if args.mode == "efficiency" and args.sizes != [10, 23, 46, 93]:
        suffix += "-n" + "-".join(map(str, args.sizes))
    if args.mode == "efficiency" and args.seeds != [0, 1]:
        suffix += "-s" + "-".join(map(str, args.seeds))
    suffix += "".join(f"-{item.split('.', 1)[-1].replace('=', '')}" for item in args.set)
    suffix += f"-{args.iterations}it" if args.iterations else f"-{args.minutes:g}min"  # runs do not overwrite others
    suffix += f"-curve{args.curve}" if args.curve else ""
    if args.mode == "openfield":
        text = openfield(args, args.out)
    else:
        text = efficiency(args, args.out, results / f"transfer-efficiency{suffix}.json")
    print(text)
    (results / f"transfer-{args.mode}{suffix}.md").write_text(f"`{' '.join(['python', *sys.argv])}`\n\n{text}\n")


if __name__ == "__main__":
    main()
