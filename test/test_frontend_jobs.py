"""The Jobs side panel and the SlurmJobs widget in a real browser (same set-up as test_frontend.py)
against a real one-node Slurm: a server without a cluster is named as such; with one, a template
submitted from the form runs, its output is followed live, a running job is cancelled from its row,
and the notebook widget shows the same jobs."""
from __future__ import annotations

import json

from conftest import ServerProcess
from test_frontend import ARTIFACTS, Lab, browser, open_notebook, run_cell  # noqa: F401 - fixtures

import daqlab
import pytest


@pytest.fixture(scope="module")
def servers(slurm_cluster):
    off = ServerProcess("--slurm", "off", "--detector", "sim-camera")
    on = ServerProcess("--detector", "sim-camera,sim-eiger-500k", *slurm_cluster.server_args("rest"))
    yield off, on
    off.stop()
    on.stop()


def use_server(lab: Lab, url: str) -> None:
    """Point the panels at `url` (JupyterLab reads user settings from disk on each page load)."""
    folder = lab.root.parent / "config" / "lab" / "user-settings" / "@daqlab" / "jupyterlab"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.jupyterlab-settings").write_text(json.dumps({"serverUrl": url}))


def test_jobs_panel(servers, browser, tmp_path):  # noqa: F811
    off, on = servers
    ARTIFACTS.mkdir(exist_ok=True)
    lab = Lab(tmp_path, on.url)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # no cluster on this server: the panel says so
        use_server(lab, off.url)
        page.goto(f"{lab.url}/lab?token={lab.token}")
        page.locator(".jp-SideBar [data-id='daqlab-jobs-panel']").click()
        panel = page.locator("#daqlab-jobs-panel")
        panel.locator(".daqlab-jobs-cluster[data-configured='false']").filter(
            has_text="no Slurm cluster is configured").wait_for(timeout=60000)

        # with a cluster: partitions shown, a demo job submitted from the form, its output followed
        use_server(lab, on.url)
        page.reload()
        page.locator(".jp-SideBar [data-id='daqlab-jobs-panel']").click()
        panel.locator(".daqlab-jobs-cluster[data-configured='true']").wait_for(timeout=60000)
        assert "debug" in panel.locator(".daqlab-jobs-cluster").inner_text()
        panel.locator("select.daqlab-jobs-template").select_option("demo")
        panel.locator("select.daqlab-jobs-partition").select_option("debug")
        panel.locator("input.daqlab-jobs-time").fill("00:02:00")
        panel.locator("textarea.daqlab-jobs-params").fill(json.dumps({"message": "hello from the panel", "seconds": 1, "steps": 2}))
        panel.locator("button.daqlab-jobs-submit").click()
        panel.locator(".daqlab-jobs-message").filter(has_text="submitted job").wait_for(timeout=30000)
        job = panel.locator(".daqlab-jobs-message").inner_text().split()[-1]
        row = panel.locator(f"tr[data-job='{job}']")
        row.locator("[data-field='state'][data-state='COMPLETED']").wait_for(timeout=30000)  # live, by jobs.state
        assert row.locator("[data-field='exit']").inner_text() == "0"
        page.wait_for_function("() => document.querySelector('.daqlab-jobs-log')?.textContent"
                               ".includes('hello from the panel\\nprogress 1 2\\nprogress 2 2')", timeout=30000)

        # a long job: cancelled from its row
        panel.locator("textarea.daqlab-jobs-params").fill(json.dumps({"message": "long", "seconds": 120}))
        panel.locator("button.daqlab-jobs-submit").click()
        panel.locator(".daqlab-jobs-message").filter(has_text=f"submitted job {int(job) + 1}").wait_for(timeout=30000)
        long_row = panel.locator(f"tr[data-job='{int(job) + 1}']")
        long_row.locator("[data-field='state'][data-state='RUNNING']").wait_for(timeout=30000)
        panel.screenshot(path=str(ARTIFACTS / "jobs-panel.png"))
        long_row.locator("button.daqlab-jobs-cancel").click()
        long_row = panel.locator(f"tr[data-job='{int(job) + 1}']")
        long_row.locator("[data-field='state'][data-state='CANCELLED']").wait_for(timeout=30000)

        # the same board as a notebook widget: SlurmJobs()
        nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c0", "metadata": {}, "outputs": [],
                         "source": f"import daqlab\nfrom daqlab.widgets import SlurmJobs\nSlurmJobs(daqlab.connect({on.url!r}))"}],
              "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
              "nbformat": 4, "nbformat_minor": 5}
        (lab.root / "jobs.ipynb").write_text(json.dumps(nb))
        open_notebook(page, lab, "jobs.ipynb")
        run_cell(page, 0)
        widget = page.locator(".jp-Notebook .daqlab-slurmjobs")
        widget.locator(".daqlab-jobs-cluster[data-configured='true']").wait_for(timeout=60000)
        done = widget.locator(f"tr[data-job='{job}']")
        done.locator("[data-field='state'][data-state='COMPLETED']").wait_for(timeout=30000)
        widget.locator(f"tr[data-job='{int(job) + 1}'] [data-field='state'][data-state='CANCELLED']").wait_for(timeout=30000)
        done.click()
        page.wait_for_function("() => document.querySelector('.jp-Notebook .daqlab-slurmjobs .daqlab-jobs-log')?.textContent"
                               ".includes('hello from the panel')", timeout=30000)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()
        widget.screenshot(path=str(ARTIFACTS / "slurmjobs-widget.png"))

        # a template job's result is registered back: the DAQ panel lists it under its source
        c = daqlab.connect(on.url)
        try:
            acq = c.detector("sim-eiger-500k").prepare(
                acquisition={"nb_frames": 4, "expo_time": 0.002}, detector={"scene": "powder", "seed": 2},
                processing={"pipeline": "azint", "npt": 200}, saving={"enabled": True, "base_path": str(tmp_path / "scans"), "prefix": "panel"},
                scan={"name": "panel"})
            acq.start()
            acq.wait(timeout=60, progress=False)
            job = daqlab.jobs.submit(template="azint", scan=acq.scan, params={"npt": 200}, time="00:05:00", client=c)
            job.wait(timeout=60, progress=False)
            assert job.state == "COMPLETED", job.logs("stderr")
            number = acq.scan.identity["number"]
        finally:
            c.close()
        page.locator(".jp-SideBar [data-id='daqlab-panel']").click()
        derived = page.locator("#daqlab-panel li.daqlab-panel-derived").filter(has_text=f"derived from panel #{number} by job {job.id}")
        derived.wait_for(timeout=30000)
        assert derived.locator(".daqlab-panel-scanlabel").inner_text().startswith("azint-panel #")
        assert not errors, errors
    finally:
        page.close()
        lab.stop()
