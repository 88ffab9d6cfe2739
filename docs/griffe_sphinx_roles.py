"""A griffe extension for the API reference: turn the docstrings' reStructuredText bits into Markdown.

typedrl's docstrings are written to read well in ``help()`` and in an editor, so they use Sphinx roles
(``:func:`gae```, ``:mod:`typedrl.spec```, ``:class:`ValueError```) and the ``::`` that introduces a
literal block. MkDocs renders Markdown, where both would show up verbatim. This extension rewrites them
before mkdocstrings renders the page:

* a role becomes an *optional* cross-reference (an ``<autoref ... optional>`` tag of mkdocs-autorefs):
  a link where the target is documented on the site, plain code where it is not (``ValueError``), and
  never a build warning;
* a paragraph ending in ``::`` ends in ``:``; the indented block after it is already a Markdown code block.

Names are resolved as Sphinx resolves them: first among the object's own members (a class's methods), then in
its module, else taken as a full dotted path; ``:func:`td_errors``` in ``typedrl.spec.returns`` points at
``typedrl.spec.returns.td_errors``. A leading ``~`` shows only the last component, as in Sphinx.
"""

import re
from typing import Any

from griffe import Extension, Module, Object

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|obj|attr|data|exc|const):`(~?)([^`<>]+?)`")
_LITERAL_MARKER = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)


def _module_of(obj: Object) -> Module:
    return obj if isinstance(obj, Module) else obj.module


def _identifier(name: str, obj: Object) -> str:
    """The full dotted path a role's target names, seen from ``obj``'s module."""
    name = name.strip().lstrip(".")
    first = name.split(".", 1)[0]
    module = _module_of(obj)
    for scope in (obj, module):  # the object's own members (a class's methods), then its module's
        if first in scope.members:
            return f"{scope.path}.{name}"
    return name


def _rewrite(text: str, obj: Object) -> str:
    def role(match: re.Match[str]) -> str:
        tilde, target = match.group(1), match.group(2).strip()
        identifier = _identifier(target, obj)
        shown = target.rsplit(".", 1)[-1] if tilde else target  # Sphinx's ~: show the last component only
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    text = _ROLE.sub(role, text)
    return _LITERAL_MARKER.sub(r"\1:", text)


class SphinxRolesToMarkdown(Extension):
    """Rewrite Sphinx roles and ``::`` literal markers in every docstring of a loaded package."""

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        self._walk(pkg, seen=set())

    def _walk(self, obj: Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = _rewrite(obj.docstring.value, obj)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]
