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


# --------------------------------------------------------------------------- issue 16's sessions, replayed


def _prelabel(sample, bodyparts, views=(0,), frame=0):
    """Label some body parts at their true pixels through the library (as an earlier session would have)."""
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    f = session.frame(frame)
    for c in views:
        view = f["views"][c]
        for k in bodyparts:
            xy = sample.truth2d[c, frame, k].tolist()
            view["revision"] = session.set_point(view["video"], view["image"], 0, k, xy, view["revision"])["revision"]


def _h5(sample, c):
    return sample.project / "labeled-data" / sample.videos[c] / "CollectedData_sample.h5"


def test_clicks_next_to_labels_place_the_current_body_part(browser, tmp_path, tmp_path_factory):
    """At the default zoom of a 1600x900 window, a click 8 screen px from a label places the current body part
    (it used to select the neighbour); only a click on the marker itself selects it; re-placing says so."""
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    neck, r_shoulder, l_shoulder = (sample.bodyparts.index(n) for n in ("neck", "r_shoulder", "l_shoulder"))
    _prelabel(sample, [0, neck])
    server, url = _serve(sample.project, sample.calibration)
    try:
        page = _open(browser, url, (1600, 900))
        # the frame opens fitted to the labelled animal, not the whole 1280x1024 image at 0.36x
        assert page.evaluate("window.labelApp.state.views[0].scale") > 0.6
        page.select_option("#bodypart", str(r_shoulder))
        nx, ny = _client(page, 0, sample.truth2d[0, 0, neck])
        page.mouse.click(nx - 8, ny)  # 8 screen px left of the neck marker
        _idle(page)
        placed = page.evaluate(f"window.labelApp.toImage(0, {nx - 8}, {ny})")
        h5 = _h5(sample, 0)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", r_shoulder), placed, atol=1e-3)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", neck), sample.truth2d[0, 0, neck], atol=1e-3)
        # A click on the neck marker itself selects neck and changes no file.
        before = h5.read_bytes()
        page.mouse.click(nx + 2, ny + 1)
        _idle(page)
        assert page.evaluate("window.labelApp.state.bp") == neck and h5.read_bytes() == before
        # Clicking elsewhere re-places the selected neck and says so (Z undoes).
        page.mouse.click(nx + 30, ny + 30)
        _idle(page)
        assert "Moved neck in cam1 (Z undoes)" in page.inner_text("#message-text")
        assert np.linalg.norm(_file_point(h5, "img0040.png", neck) - sample.truth2d[0, 0, neck]) > 5
        page.keyboard.press("z")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0040.png", neck), sample.truth2d[0, 0, neck], atol=1e-3)
        # Hovering a marker names it.
        page.mouse.move(nx, ny)
        assert page.inner_text("#tooltip").startswith("neck · label · saved")
        # Zoomed in 4x, the hit radius stays a few screen px: a click 8 px away still places the current part.
        page.select_option("#bodypart", str(l_shoulder))
        scale = page.evaluate("window.labelApp.state.views[0].scale")
        for _ in range(4):
            page.mouse.wheel(0, -240)
        page.wait_for_function(f"window.labelApp.state.views[0].scale > {scale * np.exp(4 * 240 * 0.0015) * 0.99}")
        nx, ny = _client(page, 0, sample.truth2d[0, 0, neck])
        page.mouse.click(nx, ny + 8)
        _idle(page)
        placed = page.evaluate(f"window.labelApp.toImage(0, {nx}, {ny + 8})")
        np.testing.assert_allclose(_file_point(h5, "img0040.png", l_shoulder), placed, atol=1e-3)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_enter_accept_and_proposal_clicks_advance(browser, tmp_path, tmp_path_factory):
    """After Enter, the Accept button or a click on a proposal, the next click labels the next body part."""
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, sample.calibration)
    try:
        page = _open(browser, url, (1600, 900))
        assert page.evaluate("window.labelApp.state.bp") == 0
        for how in ("Enter", "button", "proposal"):
            k = page.evaluate("window.labelApp.state.bp")
            for c in (0, 1):
                page.mouse.click(*_client(page, c, sample.truth2d[c, 0, k]))
                _idle(page)
            page.wait_for_function(f"(window.labelApp.state.geometry.proposed[2] || [])[{k}] !== null")
            if how == "Enter":
                page.keyboard.press("Enter")
            elif how == "button":
                page.click("#accept")
            else:
                proposal = page.evaluate(f"window.labelApp.state.geometry.proposed[2][{k}]")
                page.mouse.click(*_client(page, 2, proposal))
            _idle(page)
            assert np.linalg.norm(_file_point(_h5(sample, 2), "img0040.png", k) - sample.truth2d[2, 0, k]) < 2.0
            assert page.evaluate("window.labelApp.state.bp") == k + 1, how
        # the next click labels body part 3, and body part 2 stays where it was accepted
        accepted = _file_point(_h5(sample, 0), "img0040.png", 2)
        page.mouse.click(*_client(page, 0, sample.truth2d[0, 0, 3]))
        _idle(page)
        np.testing.assert_allclose(_file_point(_h5(sample, 0), "img0040.png", 3), sample.truth2d[0, 0, 3], atol=1e-3)
        np.testing.assert_allclose(_file_point(_h5(sample, 0), "img0040.png", 2), accepted, atol=1e-9)
        # "stay" mode: a placed body part stays current
        page.select_option("#mode", "stay")
        page.mouse.click(*_client(page, 1, sample.truth2d[1, 0, 3]))
        page.keyboard.press("Enter")
        _idle(page)
        assert page.evaluate("window.labelApp.state.bp") == 3
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_delete_removes_the_label_under_the_mouse(browser, tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    _prelabel(sample, [0, 1, 2, 8])
    server, url = _serve(sample.project, None)
    try:
        page = _open(browser, url, (1600, 900))
        page.select_option("#bodypart", "0")  # the current body part is not the one under the mouse
        page.mouse.move(*_client(page, 0, sample.truth2d[0, 0, 2] + [0.5, 0.5]))
        page.keyboard.press("Delete")
        _idle(page)
        saved = load_labels(_h5(sample, 0))
        assert saved.labelled[0, 0].nonzero()[0].tolist() == [0, 1, 8]
        # over empty image: nothing is deleted, a sentence says why
        page.mouse.move(*_client(page, 0, sample.truth2d[0, 0, 8] + [60, 0]))
        page.keyboard.press("Delete")
        assert "Delete removes the label under the mouse pointer" in page.inner_text("#message-text")
        _idle(page)
        assert load_labels(_h5(sample, 0)).labelled[0, 0].nonzero()[0].tolist() == [0, 1, 8]
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_stopped_server_shows_not_saved_and_saves_when_back(browser, tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, None)
    port = server.server_address[1]
    try:
        page = _open(browser, url, (1600, 900))
        server.shutdown()
        server.server_close()
        target = [640.25, 512.75]
        page.mouse.click(*_client(page, 0, target))
        page.wait_for_function("document.body.dataset.status === 'offline'")
        assert page.inner_text("#status") == "NOT SAVED (1)"
        assert "NOT SAVED: the server cannot be reached; 1 change is queued" in page.inner_text("#message-text")
        image = page.evaluate("window.labelApp.state.frame.views[0].image")
        assert page.evaluate(f"window.labelApp.pointState(0, {image!r}, 0, 0)") == "unsaved"
        assert "TypeError" not in page.inner_text("body")
        h5 = _h5(sample, 0)
        assert not h5.exists()
        page.wait_for_timeout(400)  # a retry or two against the stopped server
        # The server is back (a new process would read the same files): the queued point is saved.
        server, url = _serve(sample.project, None, port)
        page.wait_for_function("document.body.dataset.status === 'saved'", timeout=10_000)
        assert page.inner_text("#status") == "all saved"
        np.testing.assert_allclose(_file_point(h5, "img0040.png", 0), target, atol=1e-3)
        assert load_labels(h5).labelled.sum() == 1
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_reload_keeps_frame_body_part_and_history(browser, tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, None)
    try:
        page = _open(browser, url, (1600, 900))
        page.keyboard.press("ArrowRight")
        page.wait_for_function("window.labelApp.state.frameIndex === 1 && window.labelApp.imagesLoaded()")
        page.select_option("#bodypart", "5")
        page.mouse.click(*_client(page, 0, [600.5, 400.5]))
        _idle(page)
        h5 = _h5(sample, 0)
        np.testing.assert_allclose(_file_point(h5, "img0100.png", 5), [600.5, 400.5], atol=1e-3)
        page.reload()
        page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
        assert page.evaluate("[window.labelApp.state.frameIndex, window.labelApp.state.bp]") == [1, 6]
        assert page.inner_text("#frame-name") == "walk_cam1/img0100.png"
        page.keyboard.press("Control+z")
        _idle(page)
        assert not load_labels(h5).labelled.any() and load_labels(h5).images == ()
        page.keyboard.press("Control+y")
        _idle(page)
        np.testing.assert_allclose(_file_point(h5, "img0100.png", 5), [600.5, 400.5], atol=1e-3)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_accept_all_is_one_request_and_copy_previous(browser, tmp_path, tmp_path_factory):
    """57 predicted points (19 body parts x 3 views) accepted with one request; the files hold them exactly."""
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp(), predictions_noise_px=3.0)
    server, url = _serve(sample.project, sample.calibration)
    try:
        page = _open(browser, url, (1600, 900))
        posts = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        predicted = np.array(page.evaluate("window.labelApp.state.frame.views.map((v) => v.predictions[0])"),
                             dtype=float)  # fmt: skip
        page.click("#accept-all")
        _idle(page)
        assert len(posts) == 1 and posts[0].endswith("/api/labels")
        for c in range(3):
            saved = load_labels(_h5(sample, c))
            assert [name.split("/")[-1] for name in saved.images] == ["img0040.png"]
            np.testing.assert_allclose(saved.points[0, 0], predicted[c], atol=1e-3)
        # the time is measured by benchmarks/bench_label_accept_all.py (a test would measure the machine's load)
        # Next frame: copy the previous frame's labels as a starting point (one request, Z undoes it all).
        page.keyboard.press("ArrowRight")
        page.wait_for_function("window.labelApp.state.frameIndex === 1 && window.labelApp.imagesLoaded()")
        page.keyboard.press("c")
        _idle(page)
        for c in range(3):
            np.testing.assert_allclose(load_labels(_h5(sample, c)).points[:, 0], predicted[c][None].repeat(2, 0),
                                       atol=1e-3)  # fmt: skip
        page.keyboard.press("z")
        _idle(page)
        assert [name.split("/")[-1] for name in load_labels(_h5(sample, 1)).images] == ["img0040.png"]
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_only_the_inconsistent_view_is_flagged_and_help(browser, tmp_path, tmp_path_factory):
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    k = sample.bodyparts.index("l_elbow")
    session = LabelSession.open(sample.project, LabelToolConfig(calibration=sample.calibration))
    f = session.frame(0)
    for c, view in enumerate(f["views"]):
        xy = sample.truth2d[c, 0, k] + ([0.0, 25.0] if c == 2 else 0.0)
        session.set_point(view["video"], view["image"], 0, k, xy.tolist(), view["revision"])
    server, url = _serve(sample.project, sample.calibration)
    try:
        page = _open(browser, url, (1600, 900))
        page.wait_for_function("window.labelApp.state.geometry !== null")
        heads = [page.inner_text(f".view:nth-child({c + 1}) .viewhead") for c in range(3)]
        assert "l_elbow" in heads[2] and "⚠" not in heads[0] and "⚠" not in heads[1], heads
        assert "rev" not in " ".join(heads)
        page.keyboard.press("?")
        assert page.is_visible("#help") and "Ctrl+Shift+Z" in page.inner_text("#help")
        page.keyboard.press("Escape")
        assert not page.is_visible("#help")
        assert page.is_visible("#legend") and "NOT SAVED" in page.inner_text("#legend")
        # linked zoom: the wheel over one view zooms every view by the same factor
        scales = page.evaluate("window.labelApp.state.views.map((v) => v.scale)")
        page.check("#link-zoom")
        page.mouse.move(*_client(page, 0, sample.truth2d[0, 0, k]))
        page.mouse.wheel(0, -200)
        page.wait_for_function(f"window.labelApp.state.views[2].scale > {scales[2] * 1.2}")
        ratios = np.array(page.evaluate("window.labelApp.state.views.map((v) => v.scale)")) / scales
        np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_multi_animal_individuals_have_their_own_colours_and_rows(browser, tmp_path):
    import cv2
    import yaml

    project = tmp_path / "mice"
    folder = project / "labeled-data" / "cage"
    folder.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(folder / f"img{i:03d}.png"), np.full((300, 400, 3), 60, np.uint8))
    config = {"scorer": "bob", "multianimalproject": True, "individuals": ["m1", "m2"],
              "multianimalbodyparts": ["nose", "ear", "tail"], "uniquebodyparts": []}  # fmt: skip
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    server, url = start_in_thread(LabelSession.open(project))
    try:
        page = _open(browser, url)
        page.select_option("#individual", "1")
        colours = [page.eval_on_selector_all("#bodypart-list .dot", "ds => ds.map((d) => d.style.background)")]
        page.select_option("#individual", "0")
        colours.append(page.eval_on_selector_all("#bodypart-list .dot", "ds => ds.map((d) => d.style.background)"))
        assert len(set(colours[0])) == 3 and not set(colours[0]) & set(colours[1])
        page.select_option("#individual", "1")
        page.mouse.click(*_client(page, 0, [100.0, 50.0]))
        _idle(page)
        # a click outside the image places nothing and says so
        page.mouse.click(*_client(page, 0, [-30.0, 100.0]))  # the panel's margin, left of the image
        assert "outside the image" in page.inner_text("#message-text")
        _idle(page)
        labels = load_labels(folder / "CollectedData_bob.h5")
        assert labels.images == ("labeled-data/cage/img000.png",) and labels.labelled.sum() == 1
        np.testing.assert_allclose(labels.points[0, 1, 0], [100.0, 50.0], atol=1e-3)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_add_a_frame_from_the_video(browser, tmp_path, tmp_path_factory):
    from _label_helpers import write_videos

    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    write_videos(sample, n_frames=12)
    server, url = _serve(sample.project, sample.calibration)
    try:
        page = _open(browser, url, (1600, 900))
        page.keyboard.press("v")
        assert page.is_visible("#video-panel") and "3 of" not in page.inner_text("#video-total")
        page.fill("#video-number", "7")
        page.dispatch_event("#video-number", "change")
        page.wait_for_function("[...document.querySelectorAll('#video-previews img')].every((i) => i.complete && "
                               "i.naturalWidth === 1280)")  # fmt: skip
        assert "not extracted yet" in page.inner_text("#video-note")
        page.click("#video-add")
        page.wait_for_function("window.labelApp.state.frame.name.endsWith('img07.png') && "
                               "window.labelApp.imagesLoaded()")  # fmt: skip
        assert not page.is_visible("#video-panel")
        page.mouse.click(*_client(page, 2, [640.0, 512.0]))
        _idle(page)
        labels = load_labels(_h5(sample, 2))
        assert labels.images == ("labeled-data/walk_cam3/img07.png",)
        np.testing.assert_allclose(labels.points[0, 0, 0], [640.0, 512.0], atol=1e-3)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_full_disk_shows_not_saved_and_retries(browser, tmp_path, tmp_path_factory, monkeypatch):
    import errno

    import mocap3d.label.session as session_module

    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    real_save = session_module.save_labels
    full = {"on": True}

    def save(labels, path):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(labels, path)

    monkeypatch.setattr(session_module, "save_labels", save)
    server, url = _serve(sample.project, None)
    try:
        page = _open(browser, url)
        page.mouse.click(*_client(page, 0, [500.0, 600.0]))
        page.wait_for_function("document.body.dataset.status === 'offline'")
        assert page.inner_text("#status") == "NOT SAVED (1)"
        assert "NOT SAVED: the label could not be written: No space left on device" in page.inner_text("#message-text")
        assert not _h5(sample, 0).exists()
        full["on"] = False  # space freed: the next retry saves the point
        page.wait_for_function("document.body.dataset.status === 'saved'", timeout=10_000)
        np.testing.assert_allclose(_file_point(_h5(sample, 0), "img0040.png", 0), [500.0, 600.0], atol=1e-3)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_unsaved_points_survive_a_reload(browser, tmp_path, tmp_path_factory):
    """Saving cut off (here: the page's save requests fail), the page reloaded: the points are still queued,
    shown as NOT SAVED, and written once saving works again."""
    sample = sample_project(tmp_path / "p", tmp_path_factory.getbasetemp())
    server, url = _serve(sample.project, None)
    try:
        page = _open(browser, url, (1600, 900))
        page.route("**/api/labels", lambda route: route.abort())
        targets = [[700.5, 400.25], [720.75, 450.5]]
        for xy in targets:
            page.mouse.click(*_client(page, 0, xy))
        page.wait_for_function("document.body.dataset.status === 'offline'")
        page.reload()
        page.wait_for_function("window.labelApp && window.labelApp.imagesLoaded()")
        page.wait_for_function("document.body.dataset.status === 'offline'")
        assert page.inner_text("#status") == "NOT SAVED (2)"
        assert "2 changes are queued" in page.inner_text("#message-text")
        shown = page.evaluate("window.labelApp.state.frame.views[0].labels[0].slice(0, 2)")
        np.testing.assert_allclose(np.array(shown, dtype=float), targets, atol=1e-9)
        assert not _h5(sample, 0).exists()
        page.unroute("**/api/labels")
        page.wait_for_function("document.body.dataset.status === 'saved'", timeout=10_000)
        for k, xy in enumerate(targets):
            np.testing.assert_allclose(_file_point(_h5(sample, 0), "img0040.png", k), xy, atol=1e-3)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()
