"""The dashboard: server-rendered pages over the same api and JSON views as the REST routes
(no build step; its stylesheet and script are served by the app, charts are inline SVG).
Every page needs a signed-in token (the login form's cookie) and has a JSON twin
(``?format=json``); writing forms need a write token and carry a form token."""

from __future__ import annotations

from fastapi import APIRouter

from greenline.web.dashboard import flaky, history, insights, login, overview, queue, runs

router = APIRouter(include_in_schema=False)
for _module in (login, overview, runs, history, flaky, queue, insights):
    router.include_router(_module.router)

__all__ = ["router"]
