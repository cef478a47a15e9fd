"""Page assembly from the `string.Template` files in ``templates/``; every value is escaped here.

Templates hold markup only. Values reach them through `page`/`fill`, which escape everything
except arguments named ``*_html`` — fragments this package built from escaped parts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from html import escape
from importlib import resources
from string import Template

from ozgbridge.reporting.render_html import CSS as REPORT_CSS

# The report's stylesheet plus the operations pages' additions, inlined into every page.
CSS = REPORT_CSS + resources.files("ozgbridge.ui").joinpath("templates", "ops.css").read_text(
    "utf-8"
)
# The Content-Security-Policy allows exactly this stylesheet and nothing else: no scripts at all.
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own
    # form posts, and the Origin check against login CSRF would refuse them.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@functools.cache
def _template(name: str) -> Template:
    text = resources.files("ozgbridge.ui").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def fill(name: str, **values: str) -> str:
    """Template ``name`` with ``values``: escaped, except keys ending in ``_html``."""
    return _template(name).substitute(
        {
            k.removesuffix("_html"): v if k.endswith("_html") else escape(v)
            for k, v in values.items()
        }
    )


def page(title: str, content_html: str, account_html: str = "") -> str:
    return fill(
        "page.html", title=title, css_html=CSS, content_html=content_html, account_html=account_html
    )


def message_page(title: str, message: str, account_html: str = "") -> str:
    return page(title, fill("message.html", heading=title, message=message), account_html)
