"""mkdocs hook: Sphinx roles in the docstrings (``:func:`x```) as links or plain code.

The docstrings use Sphinx roles (``:func:``, ``:class:``, ``:mod:``, ``:meth:``, ``:data:``,
``:attr:``, ``:math:``), which mkdocstrings renders as the role name followed by inline code.
This hook removes the role name and links the target where it can: a fully qualified
``neurofond.`` name becomes an optional cross-reference (``mkdocs-autorefs`` links it when the
object is documented on the site and leaves the code as it is otherwise, without a warning);
a short name (``fev``, ``Window.bins``) links to the one object on the same page whose
qualified name ends with it, and stays plain code when there is none or more than one. A
leading ``~`` shows only the last name, as in Sphinx.
"""

from __future__ import annotations

import re
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
