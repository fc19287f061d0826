"""Labelling page: "Accept all" of 57 predicted points (3 views x 19 body parts), click to saved on disk.

Usage::

    python benchmarks/bench_label_accept_all.py      # needs Chromium (/usr/bin/chromium) and playwright; ~15 s

Opens the 3-camera sample project with network predictions in headless
Chromium at 1600x900, clicks "Accept all", waits until the page has no unsaved
edit (the server wrote the three CollectedData .h5/.csv pairs), checks that
the 57 points are in the files, undoes (Z) and repeats. Prints the times and
the number of POST requests per click, and writes benchmarks/results/label_accept_all.md.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_results
from playwright.sync_api import sync_playwright

from mocap3d.io.labels import load_labels
from mocap3d.label import LabelSession, LabelToolConfig, start_in_thread
from mocap3d.label.sample import write_label_sample

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main(repeats: int = 7) -> None:
    sample = write_label_sample(Path(tempfile.mkdtemp(prefix="mocap3d-bench-label-")) / "p", predictions_noise_px=3.0)
    server, url = start_in_thread(LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration)))
    times, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(url)
        page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
        for _ in range(repeats):
            posts.clear()
            t0 = time.perf_counter()
            page.click("#accept-all")
            page.wait_for_function("window.labelApp.idle()", polling=5)
            times.append(time.perf_counter() - t0)
            requests.append(len(posts))
            saved = sum(int(load_labels(sample.project / "labeled-data" / v / "CollectedData_sample.h5").labelled.sum())
                        for v in sample.videos)  # fmt: skip
            assert saved == 57, saved
            page.keyboard.press("z")
            page.wait_for_function("window.labelApp.idle()")
        browser.close()
    server.shutdown()
    t = np.array(times)
    text = (
        "| Accept all, 57 points, click to saved | median | best | worst | POST requests per click |\n"
        "|---|---|---|---|---|\n"
        f"| 3-camera sample, headless Chromium 1600x900 | {np.median(t):.3f} s | {t.min():.3f} s | {t.max():.3f} s "
        f"| {sorted(set(requests))} |\n"
    )
    write_results(text, Path(__file__).with_name("results") / "label_accept_all.md")


if __name__ == "__main__":
    main()
