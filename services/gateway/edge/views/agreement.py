"""Views: the messaging agreement (operators publish, clients accept or withdraw)."""

from __future__ import annotations

from aiohttp import web

from services.gateway.edge.http import caller, endpoint, no_content, parse, render
from services.gateway.edge.keys import agreement_key
from services.gateway.model.schemas import AgreementAccept, AgreementOut, AgreementPut


@endpoint(
    "PUT",
    "/v1/admin/agreement",
    "Publish a version of the messaging agreement (operators)",
    body=AgreementPut,
    response=AgreementOut,
    tag="safety",
)
async def publish_agreement(request: web.Request) -> web.Response:
    body = await parse(request, AgreementPut)
    published = await request.app[agreement_key].publish(caller(request), body.version, body.text)
    return render(published)


@endpoint(
    "GET",
    "/v1/agreement",
    "The current messaging agreement and whether you accepted it",
    response=AgreementOut,
    tag="safety",
)
async def get_agreement(request: web.Request) -> web.Response:
    return render(await request.app[agreement_key].current(caller(request)))


@endpoint(
    "POST",
    "/v1/agreement/accept",
    "Accept the current version",
    body=AgreementAccept,
    response=AgreementOut,
    tag="safety",
)
async def accept_agreement(request: web.Request) -> web.Response:
    body = await parse(request, AgreementAccept)
    return render(await request.app[agreement_key].accept(caller(request), body.version))


@endpoint("POST", "/v1/agreement/withdraw", "Withdraw your acceptance", status=204, tag="safety")
async def withdraw_agreement(request: web.Request) -> web.Response:
    await request.app[agreement_key].withdraw(caller(request))
    return no_content()
