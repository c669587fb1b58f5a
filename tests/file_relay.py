"""What the file-analysis tests share: the seed document's file server (https://www.bt.cn on port 443 of a loopback
address of its own, certified by a test CA the relaygate under test trusts), images made in the tests, and helpers
to read what the fake upstream received."""

from __future__ import annotations

import io
import random
import ssl
from typing import Any

import trustme
from aiohttp import web
from fpdf import FPDF
from PIL import Image

from tests.upstreams.server import MockServer

SEED_HOST = "www.bt.cn"
SEED_URL = "https://www.bt.cn/data/api-doc.pdf"
SEED_MARKER = "To add a domain call the API POST /api/domain/add with the domain name and the site id."
SEED_MARKER_PAGE = 37


def seed_pdf() -> bytes:
    """A 60-page API document, far over gpt-4's 8,192-token context; one page tells how to add a domain."""
    doc = FPDF()
    doc.set_font("Helvetica", size=11)
    for number in range(1, 61):
        doc.add_page()
        doc.multi_cell(0, 6, f"Page {number} of the panel manual. Filler sentence about clouds and rivers. " * 12,
                       new_x="LMARGIN", new_y="NEXT")
        if number == SEED_MARKER_PAGE:
            doc.multi_cell(0, 6, SEED_MARKER, new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def png(width: int = 4, height: int = 3, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


class SeedServer(MockServer):
    """Serves files by path over TLS on port 443 of a loopback address of its own (no other test shares it)."""

    NAME = "SeedServer"

    def __init__(self, authority: trustme.CA) -> None:
        super().__init__()
        self.address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
        self.bind = (self.address, 443)
        self.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(SEED_HOST).configure_cert(self.ssl_context)
        self.files: dict[str, bytes] = {}

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests.append(request)
        body = self.files.get(request.path)
        if body is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=body, content_type="application/pdf")


def user_text(sent: Any, index: int = -1) -> str:
    """The text a recorded chat request carried in its user message (text parts joined)."""
    users = [m for m in sent.json["messages"] if m["role"] == "user"]
    content = users[index]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if p["type"] == "text")
