"""Views: "Your data" — the streamed export, account deletion, the public signing keys."""

from __future__ import annotations

import structlog
from aiohttp import web

from haven_crypto.crypto import b64e
from services.gateway.edge.http import caller, endpoint, parse, render
from services.gateway.edge.keys import deletion_key, exporter_key, receipt_signer_key
from services.gateway.model.data_schemas import (
    DeleteAccount,
    DeletionReceipt,
    ExportDocument,
    PublicKey,
    PublicKeys,
)
from shared.errors import HavenError

log = structlog.get_logger(__name__)


@endpoint(
    "GET",
    "/v1/me/export",
    "Everything the server holds about you, streamed as one JSON document",
    response=ExportDocument,
    tag="data",
)
async def export(request: web.Request) -> web.StreamResponse:
    chunks = request.app[exporter_key].chunks(caller(request))
    first = await anext(chunks)  # a failure before any byte is sent is still a problem+json
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": 'attachment; filename="haven-export.json"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(first)
    try:
        async for chunk in chunks:
            await response.write(chunk)
    except HavenError as error:  # too late for a status: cut it short, visibly incomplete
        log.warning("export_interrupted", reason=type(error).__name__)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


@endpoint(
    "POST",
    "/v1/me/delete",
    "Delete your account; answers a signed receipt",
    body=DeleteAccount,
    response=DeletionReceipt,
    status=202,
    tag="data",
)
async def delete_account(request: web.Request) -> web.Response:
    body = await parse(request, DeleteAccount)
    receipt, signature = await request.app[deletion_key].delete(caller(request), body.password)
    return render(DeletionReceipt(receipt=receipt, receipt_signature=signature), 202)


@endpoint(
    "GET",
    "/v1/keys",
    "The public keys of deletion receipts (a key of their own; token keys are never published)",
    auth=False,
    response=PublicKeys,
    tag="data",
)
async def public_keys(request: web.Request) -> web.Response:
    signer = request.app[receipt_signer_key]
    keys = [
        PublicKey(kid=kid, public_key=b64e(raw), current=kid == signer.kid)
        for kid, raw in sorted(signer.public_keys().items())
    ]
    return render(PublicKeys(keys=keys))
