"""Zalando Shipping Solutions (ZSS): list an order's shipping documents and download the PDFs.

Listing follows the documented ``GET /zss/shipping-documents?order_id=…``. The per-document PDF path is not
in any published contract this project has; ``GET /zss/shipping-documents/{id}`` (``Accept:
application/pdf``) is assumed and isolated here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import structlog

from ordersyncd.plugin import TransientError

from .client import ZDirectClient

__all__ = ["ShippingDocument", "fetch_documents"]

log = structlog.get_logger("ordersyncd.plugins.zalando")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ShippingDocument:
    """One downloaded document: its id, type (``OUTBOUND_LABEL``, ``RETURN_LABEL``, …), tracking id, file."""

    document_id: str
    type: str
    tracking_id: str
    path: Path


def _documents(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("documents", []), list):
        raise TransientError("zalando: the shipping document list is malformed")
    return [d for d in body.get("documents") or [] if isinstance(d, dict) and d.get("id")]


async def fetch_documents(client: ZDirectClient, order_id: str, state_dir: Path) -> list[ShippingDocument]:
    """List the order's documents and download every PDF not yet on disk (``state_dir/zss/<order id>/``).

    An empty list (or 404) means "not generated yet" and returns ``[]``.
    """
    response = await client.request(
        "GET",
        "/zss/shipping-documents",
        params={"order_id": order_id},
        accept="application/json",
        expect=(404,),
    )
    if response.status_code == 404:
        return []
    try:
        body = response.json()
    except ValueError:
        raise TransientError("zalando: the shipping document list is not JSON") from None
    folder = state_dir / "zss" / _SAFE.sub("_", order_id)
    result = []
    for document in _documents(body):
        document_id = str(document["id"])
        kind = str(document.get("type") or "DOCUMENT")
        path = folder / f"{_SAFE.sub('_', kind.lower())}-{_SAFE.sub('_', document_id)}.pdf"
        if not path.exists():
            pdf = await client.request(
                "GET", f"/zss/shipping-documents/{document_id}", accept="application/pdf"
            )
            if not pdf.content.startswith(b"%PDF"):
                raise TransientError(f"zalando: shipping document {document_id} is not a PDF")
            await anyio.Path(folder).mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            await anyio.Path(partial).write_bytes(pdf.content)
            await anyio.Path(partial).replace(path)
            log.info("zalando shipping document saved", order_id=order_id, type=kind, path=str(path))
        result.append(
            ShippingDocument(
                document_id=document_id,
                type=kind,
                tracking_id=str(document.get("tracking_id") or ""),
                path=path,
            )
        )
    return result
