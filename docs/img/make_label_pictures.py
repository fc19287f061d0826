"""Regenerate the README pictures of the labelling tool (``label_multiview.png``, ``label_refine.png``).

Run from the repository root (needs Chromium and the ``playwright`` package)::

    python docs/img/make_label_pictures.py

It writes the 3-camera sample project to a temporary folder, labels a few body
parts through the library (one of them 25 px off in one view, to show that only
that view is flagged), opens the page in headless Chromium at 1600x900 with the
default view (each frame fitted to the animal; no zooming by the script), clicks
one body part in two views so that its epipolar curves and the third view's
proposal show, and saves the screenshots next to this file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
from playwright.sync_api import sync_playwright

from mocap3d.label import LabelSession, LabelToolConfig, start_in_thread
from mocap3d.label.sample import write_label_sample

HERE = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _shrink(path: Path, width: int) -> None:
    img = cv2.imread(str(path))
    scale = width / img.shape[1]
    img = cv2.resize(img, (width, round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mocap3d-label-pictures-"))
    sample = write_label_sample(tmp / "walk", predictions_noise_px=4.0)
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    frame = session.frame(0)
    for k, name in enumerate(sample.bodyparts[:8]):
        for c, view in enumerate(frame["views"]):
            shift = [0.0, 25.0] if (name == "l_elbow" and c == 2) else [0.0, 0.0]
            xy = (sample.truth2d[c, 0, k] + shift).tolist()
            view["revision"] = session.set_point(view["video"], view["image"], 0, k, xy, view["revision"])["revision"]
    server, url = start_in_thread(session)
    knee = sample.bodyparts.index("l_knee")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(url)
        page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
        page.evaluate("document.getElementById('message').hidden = true")
        page.select_option("#bodypart", str(knee))
        for c in (0, 1):
            x, y = page.evaluate(f"window.labelApp.toClient({c}, {sample.truth2d[c, 0, knee][0]}, "
                                 f"{sample.truth2d[c, 0, knee][1]})")  # fmt: skip
            page.mouse.click(x, y)
            page.wait_for_function("window.labelApp.idle()")
        page.mouse.move(*page.evaluate(f"window.labelApp.toClient(0, {sample.truth2d[0, 0, 1][0]}, "
                                       f"{sample.truth2d[0, 0, 1][1]})"))  # hover the neck: its name shows
        page.evaluate("document.getElementById('message').hidden = true")
        page.wait_for_timeout(300)
        page.screenshot(path=str(HERE / "label_multiview.png"))
        browser.close()
    server.shutdown()
    _shrink(HERE / "label_multiview.png", 1280)

    # Refinement: one camera's folder on its own, the network's predictions (diamonds) to correct.
    single = LabelSession.open(sample.project)
    server, url = start_in_thread(single)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(url + "/")
        page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
        page.keyboard.press("ArrowRight")  # an unlabelled frame
        page.wait_for_function("window.labelApp.state.frameIndex === 1 && window.labelApp.imagesLoaded()")
        page.evaluate("document.getElementById('message').hidden = true")
        pred = np.array(page.evaluate("window.labelApp.state.frame.views[0].predictions[0]"), dtype=float)
        truth = sample.truth2d[0, 1]
        for k in (0, 1, 2, 3, 4):  # drag five predictions onto the figure
            a = page.evaluate(f"window.labelApp.toClient(0, {pred[k][0]}, {pred[k][1]})")
            b = page.evaluate(f"window.labelApp.toClient(0, {truth[k][0]}, {truth[k][1]})")
            page.mouse.move(*a)
            page.mouse.down()
            page.mouse.move(*b, steps=4)
            page.mouse.up()
            page.wait_for_function("window.labelApp.idle()")
        page.mouse.move(5, 5)
        page.evaluate("document.getElementById('message').hidden = true")
        page.wait_for_timeout(300)
        page.screenshot(path=str(HERE / "label_refine.png"))
        browser.close()
    server.shutdown()
    _shrink(HERE / "label_refine.png", 960)
    print(f"wrote {HERE / 'label_multiview.png'} and {HERE / 'label_refine.png'}")


if __name__ == "__main__":
    main()
