"""The AsyncAPI page: the HTML that renders the document with the AsyncAPI web component.

The one rule: nothing taken from the document or the settings can end an element early. The
document goes into a ``<script type="application/json">`` block with ``<``, ``>`` and ``&``
written as JSON ``\\u`` escapes, so no ``</script>`` or ``<!--`` can appear inside it; the script
reads it back with ``JSON.parse``. The title and the asset URLs are HTML-escaped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_SCRIPT_URL", "DEFAULT_STYLESHEET_URL", "embed_json", "render_page"]

_COMPONENT = "https://unpkg.com/@asyncapi/react-component@3.2.1"
DEFAULT_SCRIPT_URL = f"{_COMPONENT}/browser/standalone/index.js"
DEFAULT_STYLESHEET_URL = f"{_COMPONENT}/styles/default.min.css"

_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",  # line and paragraph separators end a line in older JavaScript
    0x2029: "\\u2029",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{stylesheet_url}">
</head>
<body>
<div id="asyncapi"></div>
<noscript>This page needs JavaScript. The document itself is at
<a href="{json_href}">{json_href}</a>.</noscript>
<script type="application/json" id="asyncapi-document">{document}</script>
<script src="{script_url}"></script>
<script>
AsyncApiStandalone.render(
  {{
    schema: JSON.parse(document.getElementById("asyncapi-document").textContent),
    config: {{show: {{sidebar: true}}}},
  }},
  document.getElementById("asyncapi"),
);
</script>
</body>
</html>
"""


def embed_json(value: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element."""
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_JSON_ESCAPES)


def render_page(
    document: dict[str, Any], *, json_href: str, script_url: str, stylesheet_url: str
) -> str:
    """The HTML page for ``document``; ``json_href`` links to the JSON for readers without JS."""
    from html import escape

    return _PAGE.format(
        title=escape(f"{document['info']['title']} - AsyncAPI"),
        stylesheet_url=escape(stylesheet_url),
        script_url=escape(script_url),
        json_href=escape(json_href),
        document=embed_json(document),
    )
