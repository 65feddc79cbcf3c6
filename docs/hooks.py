"""mkdocs hook: Sphinx roles in the docstrings (``:func:`x```) as links or plain code.

The docstrings use Sphinx roles (``:func:``, ``:class:``, ``:mod:``, ``:meth:``, ``:data:``,
``:attr:``, ``:math:``), which mkdocstrings renders as the role name followed by inline code.
This hook removes the role name; a fully qualified ``neurofond.`` target becomes an optional
cross-reference (``mkdocs-autorefs`` links it when the object is documented on the site, and
leaves the code as it is otherwise, without a warning). A leading ``~`` shows only the last
name, as in Sphinx.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|math|ref):"
                   r"<code>(~?)([^<]*)</code>")


def _replace(match: re.Match[str]) -> str:
    role, tilde, target = match[1], match[2], match[3]
    shown = target.rsplit(".", 1)[-1] if tilde else target
    name = target.rstrip("()")
    if role not in ("math", "ref") and re.fullmatch(r"neurofond(\.\w+)+", name):
        return f'<autoref identifier="{name}" optional><code>{shown}</code></autoref>'
    return f"<code>{shown}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite the roles of one page's HTML (before autorefs resolves the references)."""
    return _ROLE.sub(_replace, html)
