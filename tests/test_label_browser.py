"""The labelling page driven in headless Chromium (Playwright with the system's Chromium).

The browser clicks at the page coordinates of chosen image pixels (the page's
own transform, ``window.labelApp.toClient``), and every expectation is read
from the DeepLabCut files on disk or from the calibration, never from the page
alone. The tests replay the sessions of issue 16 (a lab member at 1600x900 on
the 3-camera sample): clicks next to existing labels, Enter/Accept then the
next click, Delete under the mouse, redo, a stopped server, a reload.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _label_helpers import sample_project

from mocap3d.io.labels import load_labels
from mocap3d.label import LabelSession, LabelToolConfig, start_in_thread

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
EPIPOLAR_RGB = (255, 0, 255)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _serve(project: Path, calibration: Path | None, port: int = 0):
    session = LabelSession.open(project, LabelToolConfig(calibration=calibration))
    return start_in_thread(session, port=port)


def _open(browser, url, size=(1400, 700)):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]}, device_scale_factor=1)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
    page.errors = errors
    return page


def _client(page, view, xy):
    return page.evaluate(f"window.labelApp.toClient({view}, {float(xy[0])}, {float(xy[1])})")


def _idle(page):
    page.wait_for_function("window.labelApp.idle()")


def _file_point(path: Path, image_name: str, bodypart: int):
    labels = load_labels(path)
    row = next(r for r, name in enumerate(labels.images) if name.endswith(image_name))
    return labels.points[row, 0, bodypart]


def test_label_move_save_reload(browser, tmp_path, tmp_path_factory):
    """Click three body parts, drag one, reload: the DeepLabCut file holds the clicked pixels."""
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, None)  # single-view mode: each camera's folder on its own
    try:
        page = _open(browser, url)
        assert page.evaluate("window.labelApp.state.frame.name") == "walk_cam1/img0040.png"
        targets = np.array([[400.25, 300.5], [612.75, 333.0], [700.5, 820.25]])
        for xy in targets:  # the current body part advances after each click
            page.mouse.click(*_client(page, 0, xy))
        _idle(page)
        h5 = sample.project / "labeled-data" / "walk_cam1" / "CollectedData_sample.h5"
        for k in range(3):
            np.testing.assert_allclose(_file_point(h5, "img0040.png", k), targets[k], atol=1e-3)
        # Drag body part 1 to a new place.
        moved = np.array([650.5, 360.25])
        page.mouse.move(*_client(page, 0, targets[1]))
        page.mouse.down()
        page.mouse.move(*_client(page, 0, (targets[1] + moved) / 2), steps=3)
        page.mouse.move(*_client(page, 0, moved), steps=3)
        page.mouse.up()
        _idle(page)
        page.reload()
        page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
        shown = page.evaluate("window.labelApp.state.frame.views[0].labels[0].slice(0, 3)")
        expected = np.array([targets[0], moved, targets[2]])
        for path in (h5, h5.with_suffix(".csv")):
            got = np.array([_file_point(path, "img0040.png", k) for k in range(3)])
            np.testing.assert_allclose(got, expected, atol=1e-3)
        np.testing.assert_allclose(np.array(shown, dtype=float), expected, atol=1e-3)
        assert np.isnan(load_labels(h5).points[:, 0, 3:]).all()  # nothing else was labelled
        # Only the labelled image has a row (as DeepLabCut writes the files).
        assert [name.split("/")[-1] for name in load_labels(h5).images] == ["img0040.png"]
        # The undo history survived the reload: Z takes the move back, Shift+Z, Ctrl+Shift+Z and Ctrl+Y redo.
        page.keyboard.press("z")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), targets[1], atol=1e-3)
        page.keyboard.press("Shift+Z")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), moved, atol=1e-3)
        page.keyboard.press("Control+z")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), targets[1], atol=1e-3)
        page.keyboard.press("Control+Shift+Z")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), moved, atol=1e-3)
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+y")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), moved, atol=1e-3)
        page.select_option("#bodypart", "3")
        page.mouse.click(*_client(page, 0, [700.0, 600.0]))
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 3), [700.0, 600.0], atol=1e-3)
        page.keyboard.press("z")
        _idle(page)
        assert np.isnan(_file_point(h5, "img0040.png", 3)).all()
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def _pixel(page, view, xy):
    return page.evaluate(
        """([view, x, y]) => {
            const v = window.labelApp.state.views[view];
            const [cx, cy] = [x * v.scale + v.ox, y * v.scale + v.oy];
            const d = v.canvas.getContext("2d").getImageData(Math.round(cx - 0.5), Math.round(cy - 0.5), 1, 1).data;
            return [d[0], d[1], d[2]];
        }""",
        [view, float(xy[0]), float(xy[1])],
    )


def _magenta(rgb) -> bool:
    return bool(np.abs(np.array(rgb) - EPIPOLAR_RGB).max() < 40)  # the curve is antialiased at any zoom


def test_multiview_epipolar_line_and_proposal(browser, tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, sample.calibration)
    try:
        page = _open(browser, url)
        assert page.evaluate("window.labelApp.state.views.length") == 3
        k = sample.bodyparts.index("l_knee")
        page.select_option("#bodypart", str(k))
        page.mouse.click(*_client(page, 0, sample.truth2d[0, 0, k]))
        _idle(page)
        page.wait_for_function("window.labelApp.state.geometry && window.labelApp.state.geometry.epipolar[0]")
        page.wait_for_timeout(100)
        # The magenta curve is drawn through the true point in the other views, and not 15 px beside it.
        for view in (1, 2):
            truth = sample.truth2d[view, 0, k]
            assert _magenta(_pixel(page, view, truth))
            scale = page.evaluate(f"window.labelApp.state.views[{view}].scale")
            # the curve runs roughly horizontally here (cameras at similar heights): step off it vertically
            for dy in (-15 / scale, 15 / scale):
                assert not _magenta(_pixel(page, view, truth + [0, dy]))
        # Label the second view; the third view's proposal is accepted with Enter and lands within 2 px.
        page.mouse.click(*_client(page, 1, sample.truth2d[1, 0, k]))
        _idle(page)
        page.wait_for_function(f"(window.labelApp.state.geometry.proposed[2] || [])[{k}] !== null")
        page.keyboard.press("Enter")
        _idle(page)
        h5 = sample.project / "labeled-data" / "walk_cam3" / "CollectedData_sample.h5"
        err = np.linalg.norm(_file_point(h5, "img0040.png", k) - sample.truth2d[2, 0, k])
        assert err < 2.0
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_second_tab_gets_a_conflict_message(browser, tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, None)
    try:
        first, second = _open(browser, url), _open(browser, url)
        first.mouse.click(*_client(first, 0, [300.0, 300.0]))
        _idle(first)
        second.keyboard.press("ArrowDown")  # another body part: the file changed all the same
        second.mouse.click(*_client(second, 0, [500.0, 500.0]))
        _idle(second)
        second.wait_for_selector("#message.error")
        assert "another tab" in second.inner_text("#message-text")
        h5 = sample.project / "labeled-data" / "walk_cam1" / "CollectedData_sample.h5"
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 0), [300.0, 300.0], atol=1e-3)
        assert np.isnan(_file_point(h5, "img0040.png", 1)).all()
        # The second tab reloaded the labels: it shows the first tab's point and can write again.
        assert second.evaluate("window.labelApp.state.frame.views[0].labels[0][0]") is not None
        second.mouse.click(*_client(second, 0, [500.0, 500.0]))
        _idle(second)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), [500.0, 500.0], atol=1e-3)
    finally:
        server.shutdown()
        server.server_close()


def test_zoom_pan_keys_hide_and_refinement(browser, tmp_path, tmp_path_factory):
    """Wheel zoom keeps the pixel under the cursor, a drag on empty image pans without labelling, arrow keys
    change frame and body part, H hides the points, and a dragged prediction becomes a label where dropped."""
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp(), predictions_noise_px=3.0)
    server, url = _serve(sample.project, None)
    try:
        page = _open(browser, url)
        # wheel events carry whole CSS pixels: zoom about a whole-pixel cursor position
        x, y = np.round(_client(page, 0, [640.0, 512.0]))
        anchor = page.evaluate(f"window.labelApp.toImage(0, {x}, {y})")
        scale0 = page.evaluate("window.labelApp.state.views[0].scale")
        page.mouse.move(x, y)
        page.mouse.wheel(0, -400)
        page.wait_for_function(f"window.labelApp.state.views[0].scale > {scale0 * 1.5}")
        np.testing.assert_allclose(page.evaluate(f"window.labelApp.toImage(0, {x}, {y})"), anchor, atol=1e-6)
        # Pan: press on empty image, drag 60 px, release: the image moved, nothing was labelled.
        empty = np.array([700.0, 560.0])  # inside the zoomed view, away from the figure's points
        start = _client(page, 0, empty)
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(start[0] + 60, start[1] - 20, steps=5)
        page.mouse.up()
        np.testing.assert_allclose(_client(page, 0, empty), [start[0] + 60, start[1] - 20], atol=1e-6)
        _idle(page)
        h5 = sample.project / "labeled-data" / "walk_cam1" / "CollectedData_sample.h5"
        assert not h5.exists() or not load_labels(h5).labelled.any()
        # Keys: next body part, next frame, previous frame.
        page.keyboard.press("ArrowDown")
        assert page.evaluate("window.labelApp.state.bp") == 1
        assert page.input_value("#bodypart") == "1"
        page.keyboard.press("ArrowRight")
        page.wait_for_function("window.labelApp.state.frameIndex === 1")
        assert page.inner_text("#frame-name") == "walk_cam1/img0100.png"
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("window.labelApp.state.frameIndex === 0 && window.labelApp.imagesLoaded()")
        # Refinement: drag the prediction of body part 1 to the true point; it is saved there.
        pred = np.array(page.evaluate("window.labelApp.state.frame.views[0].predictions[0][1]"), dtype=float)
        truth = sample.truth2d[0, 0, 1]
        page.mouse.move(*_client(page, 0, pred))
        page.mouse.down()
        page.mouse.move(*_client(page, 0, truth), steps=5)
        page.mouse.up()
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 1), truth, atol=1e-3)
        assert load_labels(h5).labelled.sum() == 1
        # H hides the points: the pixel at the label shows the image again.
        before = _pixel(page, 0, truth)
        page.keyboard.press("h")
        hidden = _pixel(page, 0, truth)
        page.keyboard.press("h")
        assert before != hidden and _pixel(page, 0, truth) == before
        # Shift+Enter accepts every remaining prediction of the frame as a label.
        page.keyboard.press("Shift+Enter")
        _idle(page)
        saved = load_labels(h5)
        row = next(r for r, name in enumerate(saved.images) if name.endswith("img0040.png"))
        assert saved.labelled[row, 0].all()
        np.testing.assert_allclose(saved.points[row, 0, 2], page.evaluate(
            "window.labelApp.state.frame.views[0].predictions[0][2]"), atol=1e-9)  # fmt: skip
        # Progress panel: this frame complete for this view.
        page.wait_for_function("document.querySelector('#frame-list li.current .count').textContent === '19/19'")
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()
