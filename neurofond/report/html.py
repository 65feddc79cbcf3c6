"""The report's HTML page: one self-contained file (figures embedded as base64 PNG).

A script at the end of the page checks, once the page has loaded, that every figure decoded
(``naturalWidth > 0``) and writes the counts into ``<div id="report-check">`` (read by the
browser test through Chromium's ``--dump-dom``).
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["PAGE_CHECK", "write_html"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;
color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right} th{background:#f3f3f3}
td.l,th.l{text-align:left}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#444}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
.ok{color:#1a7f37}.failed{color:#b42318;font-weight:bold}.skipped{color:#9a6700}
.error{border-left:4px solid #b42318;padding-left:.8em}
.note{color:#555;font-size:.9em}
"""

#: The load-time check appended to every report page.
PAGE_CHECK = """
<div id="report-check" data-state="pending"></div>
<script>
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img');
  var broken = 0;
  imgs.forEach(function (im) { if (!(im.complete && im.naturalWidth > 0)) { broken++; } });
  var failed = document.querySelectorAll('section[data-status="failed"]').length;
  var el = document.getElementById('report-check');
  el.setAttribute('data-images', imgs.length);
  el.setAttribute('data-broken', broken);
  el.setAttribute('data-failed-sections', failed);
  el.setAttribute('data-state', 'checked');
  el.textContent = 'figures: ' + imgs.length + ', not loaded: ' + broken +
                   ', failed sections: ' + failed;
});
</script>
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return html.escape(", ".join(_fmt(x) for x in v))
    if isinstance(v, dict):
        return html.escape(json.dumps(v, default=str))
    return html.escape(str(v))


def _table(columns: list[str], rows: list[Mapping[str, Any]], title: str = "") -> str:
    head = "".join(f"<th class='{'l' if i == 0 else ''}'>{html.escape(c)}</th>"
                   for i, c in enumerate(columns))
    def cell(i: int, v: Any) -> str:
        left = i == 0 or isinstance(v, str)
        return f"<td class='{'l' if left else ''}'>{_fmt(v)}</td>"

    body = "".join("<tr>" + "".join(cell(i, r.get(c)) for i, c in enumerate(columns)) + "</tr>"
                   for r in rows)
    cap = f"<p class='note'>{html.escape(title)}</p>" if title else ""
    return f"{cap}<table><tr>{head}</tr>{body}</table>"


def _img(path: Any, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(caption, quote=True)
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{alt}' "
            f"data-file='{html.escape(path.name, quote=True)}'>"
            f"<figcaption>{html.escape(caption)} (<a href='{html.escape(path.name)}'>"
            f"{html.escape(path.name)}</a>)</figcaption></figure>")


def _headline(results: Mapping[str, Any]) -> str:
    rows = []
    for name in results.get("model_names", []):
        m = results.get("models", {}).get(name, {})
        lat = results.get("onset_latency_ms", {}).get(name)
        rows.append({"model": name, "R^2": m.get("r2"), "zeros": m.get("zeros"),
                     "convergence step": m.get("convergence_step"),
                     "Gabor-like": m.get("gabor_fraction"),
                     "orientation-selective": results.get("fraction_orientation_selective",
                                                          {}).get(name),
                     "median Fano": results.get("median_fano_factor", {}).get(name),
                     "onset latency (ms) per contrast": (
                         None if lat is None else
                         "; ".join(f"{c}: {_fmt(v)}" for c, v in lat.items()))})
    cols = ["model", "R^2", "zeros", "convergence step", "Gabor-like",
            "orientation-selective", "median Fano", "onset latency (ms) per contrast"]
    return _table(cols, rows, "Headline values (details in each section; every number is in "
                              "results.json)")


def write_html(results: Mapping[str, Any], outputs: Mapping[str, Any],
               sections: Mapping[str, Any]) -> str:
    """The report page of a run (``results``: what results.json holds)."""
    secs = results["sections"]
    timing = [{"section": f"{name}", "title": s["title"], "status": s["status"],
               "seconds": s["seconds"],
               "note": s.get("error") or s.get("reason") or ""} for name, s in secs.items()]
    git = results.get("git") or {}
    commit = (f"{git.get('commit')}{' (uncommitted changes)' if git.get('dirty') else ''}"
              if git else "not a git checkout")
    versions = [{"package": k, "version": v} for k, v in results.get("versions", {}).items()]
    machine = results.get("machine", {})
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>neurofond report</title><style>{_STYLE}</style></head><body>",
             "<h1>neurofond: in-silico V1 report</h1>",
             f"<p>Mode <b>{_fmt(results['mode'])}</b>, seed <b>{_fmt(results['seed'])}</b>, "
             f"models: {_fmt(results.get('model_names'))}. Recordings: "
             f"{_fmt(results.get('recordings'))} ({_fmt(results.get('recordings_note'))}). "
             f"Total {_fmt(results.get('seconds'))} s, started "
             f"{_fmt(results.get('started_utc'))} on {_fmt(machine.get('cpus'))} CPUs "
             f"(load average {_fmt(machine.get('load_average_1_5_15_min'))}).</p>",
             f"<p>Command:</p><pre><code>{html.escape(str(results['command']))}</code></pre>",
             f"<p>Git commit: <code>{html.escape(commit)}</code>. Raw numbers: "
             "<a href='results.json'>results.json</a>.</p>",
             _headline(results),
             _table(["section", "title", "status", "seconds", "note"], timing,
                    "Sections: status and wall time"),
             "<details><summary>Package versions and settings</summary>",
             _table(["package", "version"], versions),
             f"<pre>{html.escape(json.dumps(results.get('settings'), indent=1, default=str))}"
             "</pre></details>"]
    for name, s in secs.items():
        out = outputs.get(name)
        desc = getattr(sections.get(name), "description", "")
        parts.append(f"<section id='{html.escape(name)}' data-status='{s['status']}'>"
                     f"<h2>{html.escape(s['title'])}</h2><p class='note'>{html.escape(desc)}"
                     f"</p><p>Status: <span class='{s['status']}'>{s['status']}</span> "
                     f"({s['seconds']:.1f} s)</p>")
        if s["status"] == "failed":
            tb = "\n".join(s.get("traceback", []))
            parts.append(f"<div class='error'><pre>{html.escape(s['error'])}\n\n"
                         f"{html.escape(tb)}</pre></div>")
        elif s["status"] == "skipped":
            parts.append(f"<p class='skipped'>Skipped: {html.escape(s['reason'])}</p>")
        if s.get("warnings"):
            items = "".join(f"<li>{html.escape(w)}</li>" for w in s["warnings"])
            parts.append(f"<details class='note'><summary>{len(s['warnings'])} warning(s) "
                         f"raised by the library during this section</summary><ul>{items}"
                         "</ul></details>")
        if out is not None:
            for t in out.tables:
                parts.append(_table(t.columns, t.rows, t.title))
            for caption, path in out.figures:
                parts.append(_img(path, caption))
        parts.append("</section>")
    parts.append(PAGE_CHECK)
    parts.append("</body></html>")
    return "\n".join(parts)
