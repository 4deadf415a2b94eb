"""HTML → PDF with WeasyPrint, allowed to read files only from the template and branding folders.

The fetcher refuses every URL except ``data:`` URIs (the charts) and ``file:`` paths inside
the allowed folders — no network, no ``/etc/passwd`` from a crafted override template.
Refused URLs are recorded on the fetcher (and logged); the document renders without them.
The generation time goes into the PDF metadata only (``dcterms.created``), never the body.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

log = logging.getLogger("nrr.reports")


class RestrictedFetcher(URLFetcher):
    """A URLFetcher that serves ``data:`` URIs and files under ``roots`` and nothing else."""

    def __init__(self, roots: list[Path]):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False)
        self.roots = [Path(r).resolve() for r in roots]
        self.blocked: list[str] = []

    def allowed(self, url: str) -> bool:
        parsed = urlparse(url)
        if parsed.scheme == "data":
            return True
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return False
        path = Path(unquote(parsed.path)).resolve()
        return path.is_file() and any(path.is_relative_to(r) for r in self.roots)

    def fetch(self, url, headers=None):
        if not self.allowed(url):
            self.blocked.append(url)
            log.warning("report resource blocked (outside the template and branding folders): %s", url[:200])
            raise ValueError(f"resource outside the template and branding folders: {url[:200]}")
        return super().fetch(url, headers)


def data_uri(content: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


def with_created(html: str, created: dt.datetime | None) -> str:
    """Put the generation time in the PDF metadata (``<meta name=dcterms.created>``), not the body."""
    if created is None:
        return html
    aware = created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc)
    stamp = aware.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return html.replace("</head>", f'<meta name="dcterms.created" content="{stamp}">\n</head>', 1)


def write_pdf(html: str, css_file: Path, roots: list[Path], out: Path, *,
              created: dt.datetime | None = None) -> RestrictedFetcher:
    """Render ``html`` with the stylesheet ``css_file`` into ``out``; returns the fetcher (for its ``blocked`` list)."""
    fetcher = RestrictedFetcher(roots)
    base = css_file.parent.as_uri() + "/"
    css = CSS(filename=str(css_file), url_fetcher=fetcher)
    HTML(string=with_created(html, created), base_url=base, url_fetcher=fetcher).write_pdf(
        str(out), stylesheets=[css])
    return fetcher
