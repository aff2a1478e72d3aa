"""A griffe extension for the docs site: Sphinx cross-reference roles in docstrings -> Markdown.

The docstrings of ``forensics`` follow numpydoc, whose cross-references are Sphinx roles
(``:class:`~forensics.media.CodecEqualizer```, ``:func:`make_cv```). mkdocstrings renders
Markdown, where such a role would show as raw text. This extension rewrites each role when the
package is loaded:

- a public class or function of a documented ``forensics`` module (``forensics.<module>.<Name>``
  with ``<Name>`` in the module's ``__all__``, or ``forensics.<Name>``) becomes an autorefs link,
  ``[CodecEqualizer][forensics.media.CodecEqualizer]``;
- anything else (scikit-learn, a relative name, a method, a private module) becomes inline code,
  so no link can dangle (``mkdocs build --strict`` fails on a dangling one).

``~`` keeps the last component as the text, as in Sphinx; ``title <target>`` keeps the title.
Only the docs build uses this file (``mkdocs.yml``: ``extensions``); the package does not.
"""

from __future__ import annotations

import re

import griffe

#: Subpackages with an API page (``docs/api/<module>.md``): their exports can be linked.
DOCUMENTED = ("forensics", "forensics.features", "forensics.media", "forensics.datasets",
              "forensics.model_selection", "forensics.metrics", "forensics.preprocessing",
              "forensics.heads", "forensics.inspection", "forensics.embeddings", "forensics.deep",
              "forensics.tracking", "forensics.tuning", "forensics.cli", "forensics.audio")

_ROLE = re.compile(r":(?:py:)?(?P<role>[a-z]+):`(?P<body>[^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in the docstrings of every object of a loaded package."""

    def on_package(self, *, pkg, **kwargs):
        exports = {}
        for path in DOCUMENTED:
            try:
                module = pkg.modules_collection[path]
            except KeyError:
                continue
            exports[path] = {str(name) for name in (module.exports or ()) if _rendered(module, str(name))}
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _ROLE.sub(lambda m: _replace(m, exports), obj.docstring.value)


def _rendered(module, name):
    """Whether the API page shows ``name``: an exported class or function with a docstring."""
    try:
        member = module.members[name]
        target = member.final_target if member.is_alias else member
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
    return target.kind.value in ("class", "function") and target.docstring is not None


def _walk(obj, seen=None):
    seen = set() if seen is None else seen
    if obj.path in seen:
        return
    seen.add(obj.path)
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member, seen)


def _replace(match, exports):
    role, body = match["role"], match["body"].strip()
    if role == "math":
        return f"`{body}`"
    title = None
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", body)
    if explicit:
        title, body = explicit["title"], explicit["target"]
    short = body.startswith("~")
    target = body.lstrip("~").strip()
    text = title or (target.rsplit(".", 1)[-1] if short else target)
    module, _, name = target.rpartition(".")
    if module in exports and name in exports[module]:
        return f"[`{text}`][{target}]"
    return f"`{text}`"
