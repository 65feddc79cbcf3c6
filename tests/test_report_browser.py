"""Issue 16 item 4: the main job's index.html opened in headless Chromium.

The report (``neurofond run``, the ``tiny`` sizes, no recordings) is written into a temporary
folder and loaded by Debian's ``chromium`` with ``--dump-dom``; a script in the page checks,
after the load event, that every ``<img>`` decoded (``naturalWidth > 0``) and counts the
failed sections into ``<div id="report-check">``. A second test makes one section fail on
purpose and checks that the page shows its error, that the other section still ran, and that
the in-page check counts the failure (so the check itself can fail).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from neurofond import report
from neurofond.cli import main
from neurofond.report.html import PAGE_CHECK
from neurofond.report.sections import SECTIONS, Section

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found (Debian package 'chromium'; .ci/run installs "
                             "it): the browser test needs a headless browser")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its load event, as headless Chromium serialises it."""
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
           "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def page_check(dom: str) -> dict[str, str]:
    """The attributes the page's own script wrote into ``<div id="report-check">``."""
    tag = re.search(r'<div id="report-check"([^>]*)>', dom)
    assert tag, "the report has no report-check element"
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag.group(1)))


def section_status(dom: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)" data-status="([^"]+)"', dom))


@needs_chromium
def test_every_figure_loads_and_no_section_fails(tmp_path):
    out = tmp_path / "results"
    rc = main(["run", "--out", str(out), "--mode", "tiny", "--no-recordings", "--no-progress"])
    assert rc == 0
    dom = dump_dom(out / "index.html", tmp_path / "profile")
    check = page_check(dom)
    assert check["data-state"] == "checked", "the page's load-time check did not run"
    n_img = int(check["data-images"])
    results = json.loads((out / "results.json").read_text())
    n_fig = sum(len(s["figures"]) for s in results["sections"].values())
    assert n_img == n_fig >= 9  # one <img> per figure; every in-silico section drew one
    assert check["data-broken"] == "0"
    assert check["data-failed-sections"] == "0"
    status = section_status(dom)
    assert set(status) == set(SECTIONS)
    for name, section in SECTIONS.items():
        # without recordings the two recorded-data sections say why they were skipped
        assert status[name] == ("skipped" if section.needs_recordings else "ok"), name
    assert "recordings not requested" in dom
    # the page is self-contained: every figure is embedded, none is fetched from a file
    assert len(re.findall(r"<img src=\"data:image/png;base64,", dom)) == n_img


@needs_chromium
def test_a_failing_section_shows_its_error_and_the_others_run(tmp_path, monkeypatch):
    def boom(ctx):
        raise RuntimeError("simulated failure of one section")

    monkeypatch.setitem(SECTIONS, "boom", Section("A section that fails", "test only", boom))
    out = tmp_path / "results"
    report.run_main_job(out, mode="tiny", recordings=None, sections=["boom", "direction"],
                        progress=False)
    results = json.loads((out / "results.json").read_text())
    failed = results["sections"]["boom"]
    assert failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: simulated failure of one section"
    assert any("in boom" in line for line in failed["traceback"])
    assert results["sections"]["direction"]["status"] == "ok"
    dom = dump_dom(out / "index.html", tmp_path / "profile")
    check = page_check(dom)
    assert check["data-failed-sections"] == "1" and check["data-broken"] == "0"
    assert int(check["data-images"]) == 1
    assert "simulated failure of one section" in dom
    assert section_status(dom) == {"boom": "failed", "direction": "ok"}


@needs_chromium
def test_a_broken_figure_is_detected(tmp_path):
    """The in-page check fails on an image that does not decode (a control of the check)."""
    page = tmp_path / "index.html"
    page.write_text("<!doctype html><html><body><img src='data:image/png;base64,AAAA'>"
                    f"{PAGE_CHECK}</body></html>")
    check = page_check(dump_dom(page, tmp_path / "profile"))
    assert check["data-images"] == "1" and check["data-broken"] == "1"


@needs_chromium
@pytest.mark.slow
def test_the_quick_report_in_the_browser(tmp_path):
    """The real default run (``neurofond run``, quick sizes, all shipped models, recordings
    where the dataset registry finds them): every figure loads, no section fails."""
    out = tmp_path / "results"
    assert main(["run", "--out", str(out), "--no-progress"]) == 0
    check = page_check(dump_dom(out / "index.html", tmp_path / "profile"))
    assert check["data-broken"] == "0" and check["data-failed-sections"] == "0"
    results = json.loads((out / "results.json").read_text())
    assert int(check["data-images"]) == sum(len(s["figures"])
                                            for s in results["sections"].values())
    assert {s["status"] for s in results["sections"].values()} <= {"ok", "skipped"}
