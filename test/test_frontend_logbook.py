"""The Logbook side panel in a real browser (same set-up as test_frontend.py): the timeline shows entries
written from Python (sanitised: a script in an entry does not run) with their images, entries written in the
panel (Markdown, a pasted image) reach Python, entries written elsewhere appear live, filters narrow it, an
entry edited in the panel becomes its next version, and "attach view" attaches the picture of the live monitor's
LiveImage in one click."""
from __future__ import annotations

import base64
import io
import json

import pytest

from conftest import ServerProcess, wait_until
from test_frontend import ARTIFACTS, Lab, browser  # noqa: F401 - fixtures

import daqlab


@pytest.fixture(scope="module")
def lbdaq():
    s = ServerProcess("--detector", "sim-camera")
    yield s
    s.stop()


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 4, 9, 16], color="tab:red")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_logbook_panel(lbdaq, browser, tmp_path):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    c = daqlab.connect(lbdaq.url)
    lab = Lab(tmp_path, lbdaq.url)
    folder = lab.root.parent / "config" / "lab" / "user-settings" / "@daqlab" / "jupyterlab"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.jupyterlab-settings").write_text(json.dumps({"serverUrl": lbdaq.url}))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        evil = c.logbook.add('<p>alignment done<img src="x" onerror="window.__pwned = 1"><script>window.__pwned = 2</script></p>',
                             format="html", tags=["alignment"], proposal="mx-panel")
        fig = c.logbook.add(_png(), caption="a red parabola", proposal="mx-panel", category="info")
        c.logbook.add("beam lost", category="error", type="notification", proposal="mx-panel")

        page.goto(f"{lab.url}/lab?token={lab.token}")
        page.locator(".jp-SideBar [data-id='daqlab-logbook-panel']").click()
        panel = page.locator("#daqlab-logbook-panel")
        panel.locator(f".daqlab-logbook-entry[data-entry='{evil.id}']").wait_for(timeout=60000)
        assert "alignment done" in panel.locator(f".daqlab-logbook-entry[data-entry='{evil.id}'] .daqlab-logbook-body").inner_text()
        assert panel.locator(f".daqlab-logbook-entry[data-entry='{evil.id}'] script").count() == 0
        # the figure's PNG, fetched from the server and drawn
        page.wait_for_function(
            f"() => {{ const i = document.querySelector(\".daqlab-logbook-entry[data-entry='{fig.id}'] img.daqlab-logbook-image\");"
            " return i && i.complete && i.naturalWidth > 50 && i.src.startsWith('data:image/png'); }", timeout=30000)
        assert page.evaluate("() => window.__pwned === undefined"), "a script in an entry ran"

        # write in the panel: Markdown, tags, a pasted image
        png = base64.b64encode(_png()).decode()
        panel.locator("textarea.daqlab-logbook-text").fill("**hello** from the panel")
        page.evaluate("""(b64) => {
            const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
            const ta = document.querySelector('#daqlab-logbook-panel textarea.daqlab-logbook-text');
            ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
        }""", png)
        panel.locator(".daqlab-logbook-pending img").wait_for(timeout=10000)
        panel.locator("input.daqlab-logbook-write-tags").fill("panel, test")
        panel.locator("input.daqlab-logbook-write-proposal").fill("mx-panel")
        panel.locator("button.daqlab-logbook-post").click()
        panel.locator(".daqlab-logbook-message[data-state='ok']").wait_for(timeout=30000)
        assert wait_until(lambda: len(c.logbook.search(tags=["panel"])) == 1, timeout=10)
        mine = c.logbook.search(tags=["panel"])[0]
        assert mine.format == "markdown" and "<strong>hello</strong>" in mine.html and mine.tags == ["panel", "test"]
        assert [a["mime"] for a in mine.attachments] == ["image/png"]
        assert c.logbook.attachment(mine.attachments[0]) == base64.b64decode(png)
        row = panel.locator(f".daqlab-logbook-entry[data-entry='{mine.id}']")
        row.locator(".daqlab-logbook-body strong").filter(has_text="hello").wait_for(timeout=10000)  # live, by logbook.entry

        # written elsewhere: appears without a reload
        other = c.logbook.add("sample changed to lyso2", proposal="mx-panel")
        panel.locator(f".daqlab-logbook-entry[data-entry='{other.id}']").wait_for(timeout=10000)
        panel.screenshot(path=str(ARTIFACTS / "logbook-panel.png"))

        # filters: category, then text
        panel.locator("select.daqlab-logbook-filter-category").select_option("error")
        page.wait_for_function("() => [...document.querySelectorAll('#daqlab-logbook-panel .daqlab-logbook-entry')]"
                               ".every((e) => e.dataset.category === 'error')", timeout=10000)
        assert panel.locator(".daqlab-logbook-entry").count() == 1
        panel.locator("select.daqlab-logbook-filter-category").select_option("")
        panel.locator("input.daqlab-logbook-filter-text").fill("parabola")
        page.wait_for_function("(id) => { const rows = document.querySelectorAll('#daqlab-logbook-panel .daqlab-logbook-entry');"
                               " return rows.length === 1 && rows[0].dataset.entry === String(id); }", arg=fig.id, timeout=10000)
        panel.locator("input.daqlab-logbook-filter-text").fill("")
        row.wait_for(timeout=10000)

        # edit an entry: the form takes it, saving writes version 2 (version 1 is kept), the row shows it live
        row.locator("button.daqlab-logbook-edit").click()
        assert panel.locator("textarea.daqlab-logbook-text").input_value() == "**hello** from the panel"
        assert "editing #%d" % mine.id in panel.locator(".daqlab-logbook-editing").inner_text()
        panel.locator("textarea.daqlab-logbook-text").fill("**hello** again, *edited*")
        panel.locator("input.daqlab-logbook-write-tags").fill("panel, edited")
        panel.locator("button.daqlab-logbook-post").click()
        panel.locator(".daqlab-logbook-message[data-state='ok']", has_text=f"saved #{mine.id} v2").wait_for(timeout=30000)
        edited = c.logbook.get(mine.id)
        assert edited.version == 2 and "<em>edited</em>" in edited.html and edited.tags == ["panel", "edited"], edited
        assert [v.content for v in c.logbook.get(mine.id, versions=True)] == ["**hello** from the panel", "**hello** again, *edited*"]
        row.locator(".daqlab-logbook-id", has_text="v2").wait_for(timeout=10000)
        assert panel.locator("button.daqlab-logbook-post").inner_text() == "post"  # back to writing new entries

        # attach view: the live monitor's LiveImage (the view used last), in one click
        acq = c.detector("sim-camera").prepare(acquisition={"nb_frames": 0, "expo_time": 0.05}, scan={"name": "attach"})
        acq.start()  # continuous: the monitor draws while it runs
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        page.locator("#daqlab-panel .daqlab-panel-status[data-state='ok']").wait_for(timeout=30000)
        page.locator("#daqlab-panel button.daqlab-panel-monitor").click()
        stage = page.locator(".daqlab-monitor .daqlab-liveimage .daqlab-li-stage").first
        page.locator(f".daqlab-monitor .daqlab-li-status[data-scan='{acq.scan.key}']").wait_for(timeout=30000)
        page.wait_for_function("() => parseFloat(document.querySelector('.daqlab-monitor .daqlab-li-fps')?.textContent) > 0", timeout=30000)
        stage.click()  # the view used last
        page.locator(".jp-SideBar [data-id='daqlab-logbook-panel']").click()
        panel.locator("textarea.daqlab-logbook-text").fill("the camera, attached from the monitor")
        panel.locator("button.daqlab-logbook-attach-view").click()
        panel.locator(".daqlab-logbook-pending img").wait_for(timeout=10000)
        acq.stop()
        panel.locator("input.daqlab-logbook-write-tags").fill("view")
        panel.locator("button.daqlab-logbook-post").click()
        assert wait_until(lambda: len(c.logbook.search(tags=["view"])) == 1, timeout=10)
        shot = c.logbook.search(tags=["view"])[0]
        assert len(shot.attachments) == 1 and shot.attachments[0]["name"].startswith("attach"), shot.attachments
        from PIL import Image

        img = Image.open(io.BytesIO(c.logbook.attachment(shot.attachments[0])))
        assert img.width > 200 and img.height > 150, img.size
        page.wait_for_function(
            f"() => {{ const i = document.querySelector(\".daqlab-logbook-entry[data-entry='{shot.id}'] img.daqlab-logbook-image\");"
            " return i && i.complete && i.naturalWidth > 200; }", timeout=30000)
        panel.screenshot(path=str(ARTIFACTS / "logbook-panel-edited.png"))
        img.save(ARTIFACTS / "logbook-attached-view.png")
        assert not errors, errors
    finally:
        page.close()
        lab.stop()
        c.close()
