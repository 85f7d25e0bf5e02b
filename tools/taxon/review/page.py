"""The review page: one self-contained HTML file (inline CSS and JavaScript, no network) that
shows per leaf the seeds beside the generated samples, judge scores and the dropped samples
with their reasons, with a search box and filters.

The data travels as JSON in a `<script type="application/json">` element with `<`, `>` and
`&` escaped, so no contributed text can close the element; the script puts text into the
page with `textContent` only. A Content-Security-Policy allows just the page's own inline
style and script (by hash) and no network at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources

from taxon.review.data import ReviewData


def _asset(name: str) -> str:
    return resources.files("taxon.review").joinpath(name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def embed_json(value: object) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or entity can appear."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def render_page_html(data: ReviewData) -> str:
    css, js = _asset("page.css"), _asset("page.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    html = _asset("page.html")
    # The data goes in last, so no text in it is ever taken for a placeholder.
    for placeholder, value in (
        ("{{CSP}}", csp),
        ("{{CSS}}", css),
        ("{{JS}}", js),
        ("{{DATA}}", embed_json(data.to_json())),
    ):
        html = html.replace(placeholder, value, 1)
    return html
