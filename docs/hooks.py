"""mkdocs hooks: Sphinx roles in the docstrings as links; complete API pages.

1. Sphinx roles (``:func:`x```) as links or plain code.

The docstrings use Sphinx roles (``:func:``, ``:class:``, ``:mod:``, ``:meth:``, ``:data:``,
``:attr:``, ``:math:``), which mkdocstrings renders as the role name followed by inline code.
This hook removes the role name and links the target where it can: a fully qualified
``neurofond.`` name becomes an optional cross-reference (``mkdocs-autorefs`` links it when the
object is documented on the site and leaves the code as it is otherwise, without a warning);
a short name (``fev``, ``Window.bins``) links to the one object on the same page whose
qualified name ends with it, and stays plain code when there is none or more than one. A
leading ``~`` shows only the last name, as in Sphinx.

2. API pages (``docs/api/*.md``) name their packages in a ``<!-- api-roots: ... -->`` marker;
a public module of those packages that the page does not list yet (one added since the page
was written) gets its ``:::`` section appended at build time, so the reference is never
incomplete. ``tests/test_docs.py`` rewrites the pages themselves (``NEUROFOND_UPDATE_DOCS=1``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|math|ref):"
                   r"<code>(~?)([^<]*)</code>")
_ANCHOR = re.compile(r'\bid="(neurofond(?:\.\w+)+)"')


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite the roles of one page's HTML (before autorefs resolves the references)."""
    anchors = set(_ANCHOR.findall(html))

    def replace(match: re.Match[str]) -> str:
        role, tilde, target = match[1], match[2], match[3]
        shown = target.rsplit(".", 1)[-1] if tilde else target
        name = target.rstrip("()")
        if role in ("math", "ref") or not re.fullmatch(r"\w+(\.\w+)*", name):
            return f"<code>{shown}</code>"
        if not name.startswith("neurofond."):
            found = [a for a in anchors if a.endswith("." + name)]
            if len(found) != 1:
                return f"<code>{shown}</code>"
            name = found[0]
        return f'<autoref identifier="{name}" optional><code>{shown}</code></autoref>'

    return _ROLE.sub(replace, html)


# ---------------------------------------------------------------- complete API pages
_ROOTS = re.compile(r"<!-- api-roots: ([^>]*?) -->")
_DIRECTIVE = re.compile(r"^::: ([\w.]+)", re.M)


def public_modules(package_dir: Path) -> list[str]:
    """Dotted names of the public modules under ``package_dir`` (no ``_``-prefixed part)."""
    names = set()
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return sorted(names)


def _under(module: str, roots: list[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def complete_api_page(markdown: str, modules: list[str], named_roots: list[str]) -> str:
    """Append a ``::: module`` section for every public module of the page's roots it lacks.

    The roots are the page's ``<!-- api-roots: ... -->`` marker; ``*`` stands for every
    top-level module or package outside ``named_roots`` (the roots of the other pages).
    Pages without a marker are returned unchanged.
    """
    marker = _ROOTS.search(markdown)
    if marker is None:
        return markdown
    roots = marker[1].split()
    if roots == ["*"]:
        tops = {".".join(m.split(".")[:2]) for m in modules if "." in m}
        roots = sorted(t for t in tops if not _under(t, named_roots))
    present = set(_DIRECTIVE.findall(markdown))
    missing = [m for m in modules if _under(m, roots) and m not in present]
    return markdown + "".join(f"\n\n::: {m}\n" for m in missing)


def page_roots(markdown: str) -> list[str]:
    """The roots named in a page's marker (none for ``*`` or a page without a marker)."""
    marker = _ROOTS.search(markdown)
    return [] if marker is None or marker[1].strip() == "*" else marker[1].split()


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """API pages list every public module of their packages, also ones added since."""
    if not page.file.src_uri.startswith("api/"):
        return markdown
    docs = Path(config["docs_dir"])
    named = [r for p in sorted((docs / "api").glob("*.md")) for r in page_roots(p.read_text())]
    modules = public_modules(Path(config["config_file_path"]).parent / "neurofond")
    return complete_api_page(markdown, modules, named)
