"""Signing in and out: a token pasted into the login form becomes the session cookie
(HttpOnly, SameSite=Strict, Secure over HTTPS); signing out clears it. And the static files."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from greenline.errors import GreenlineError
from greenline.web.dashboard.render import error_page, render_page, signed_context, static_file
from greenline.web.dashboard.session import (
    COOKIE,
    COOKIE_AGE,
    check_origin,
    csrf_of,
    current_viewer,
    read_form,
    safe_next,
)
from greenline.web.deps import Api, ScopeError

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, gl: Api, next: str = "/") -> Response:
    return render_page(
        request,
        "login.html",
        {**signed_context(current_viewer(request, gl)), "next": safe_next(next), "failed": False},
    )


@router.post("/login")
async def login(request: Request, gl: Api) -> Response:
    try:
        check_origin(request)
        form = await read_form(request)
    except GreenlineError as exc:
        return error_page(request, None, exc)
    text = form.get("token", "").strip()
    token = await run_in_threadpool(gl.tokens.check, text) if text else None
    target = safe_next(form.get("next"))
    if token is None:
        context = {"next": target, "failed": True}
        return render_page(request, "login.html", context, status_code=401)
    done = RedirectResponse(target, status_code=303)
    done.set_cookie(
        COOKIE,
        text,
        max_age=COOKIE_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return done


@router.post("/logout")
async def logout(request: Request, gl: Api) -> Response:
    try:
        check_origin(request)
        form = await read_form(request)
        session = request.cookies.get(COOKIE, "")
        if session and not hmac.compare_digest(form.get("csrf", ""), csrf_of(session)):
            raise ScopeError("the form's token does not match this session", hint="reload")
    except GreenlineError as exc:
        return error_page(request, None, exc)
    done = RedirectResponse("/login", status_code=303)
    done.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return done


@router.get("/static/{name}")
def static(name: str) -> Response:
    return static_file(name)
