"""GitHub's webhooks at ``POST /webhooks/github``, and what became of them.

A delivery is verified (``X-Hub-Signature-256``, HMAC-SHA256 of the raw body under
``GREENLINE_GITHUB_WEBHOOK_SECRET``, compared in constant time) before anything is read from it
or stored; a body over GitHub's 25 MB cap is refused (413) before more of it is read. A verified
delivery is recorded by its ``X-GitHub-Delivery`` id and answered at once (202); the work is
done in the background (``web.webhooks``). Without a secret the route answers 503: webhooks
are off until one is set, so an unsigned delivery can never be taken.

    POST /webhooks/github                     a delivery (no token: the signature is the proof)
    GET  /api/v1/github/deliveries            the newest deliveries and their outcomes (read)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from greenline import views
from greenline.api.github import WEBHOOK_SECRET_ENV
from greenline.errors import GreenlineError, UsageError
from greenline.model.forge import DeliveryStatus
from greenline.web import bodies
from greenline.web.deps import Api, AuthError, require

#: GitHub caps a webhook's payload at 25 MB
MAX_BODY = 25 << 20

webhook_router = APIRouter(tags=["github"])
router = APIRouter(tags=["github"], dependencies=[Depends(require("read"))])


class WebhooksOffError(GreenlineError):
    """No webhook secret is configured: deliveries cannot be verified, so none is taken."""

    exit_code = 4
    http_status = 503


class SignatureError(AuthError):
    """A delivery whose signature is missing or does not match its body."""


@webhook_router.post("/webhooks/github", status_code=202, include_in_schema=True)
async def receive_webhook(request: Request, gl: Api) -> JSONResponse:
    """A GitHub webhook delivery: verified, recorded once per delivery id, processed in the
    background. 202 when queued; 200 for a replay, an event greenline does not use, or a
    repository this server does not know (each acknowledged, none processed)."""
    if gl.github.webhook_secret is None:
        raise WebhooksOffError(
            "GitHub webhooks are off on this server: no webhook secret is configured",
            hint=f"set {WEBHOOK_SECRET_ENV} to the webhook's secret and restart the server",
        )
    body = await bodies.read_body(request, MAX_BODY, "webhook delivery")
    if not gl.github.is_signed(body, request.headers.get("x-hub-signature-256")):
        raise SignatureError(
            "the delivery's X-Hub-Signature-256 is missing or does not match its body",
            hint=f"give the webhook at GitHub the secret in {WEBHOOK_SECRET_ENV}",
        )
    event = request.headers.get("x-github-event", "")
    delivery = request.headers.get("x-github-delivery", "")
    if not event or not delivery:
        raise UsageError(
            "a delivery needs X-GitHub-Event and X-GitHub-Delivery",
            hint="send deliveries from GitHub's webhook, which sets both",
        )
    receipt = await run_in_threadpool(gl.github.receive, delivery, event, body)
    queued = receipt.status is DeliveryStatus.QUEUED
    if queued:
        request.app.state.webhooks.wake()
    document = views.delivery_receipt_document(receipt)
    return JSONResponse(document, status_code=202 if queued else 200)


@router.get("/github/deliveries")
async def list_deliveries(
    gl: Api, limit: int = Query(50, ge=1, le=1000, description="How many, newest first.")
) -> dict[str, Any]:
    """The newest webhook deliveries: their event, repository, attempts and outcome."""
    found = await run_in_threadpool(gl.github.deliveries, limit)
    pending = await run_in_threadpool(gl.github.pending)
    return views.deliveries_document(found, pending)
