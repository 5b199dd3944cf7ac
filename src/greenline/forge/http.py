"""One HTTP client for the providers' REST APIs: errors as ForgeError with a hint, and rate
limits (429, or 403 with no requests left) waited out when the wait is short, reported when it
is long."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self

import httpx

from greenline.errors import ForgeError


class ApiClient:
    """A provider's client names itself, its API's address, how a token travels and what to
    do when the provider refuses one."""

    name = ""
    api = ""
    token_hint = ""
    rate_limit_hint = "run the fetch again later: it resumes where it stopped"

    def __init__(
        self,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        base_url: str | None = None,
        max_wait: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url or self.api,
            headers=self.headers(token),
            transport=transport,
            timeout=30.0,
        )
        self.max_wait, self.sleep, self.clock = max_wait, sleep, clock
        self.requests = 0
        self.waited = 0.0

    def headers(self, token: str | None) -> dict[str, str]:
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def auth_headers(self) -> dict[str, str]:
        """Headers that authorize one request (a token that changes over the client's life,
        such as a GitHub App's installation token, is asked for here)."""
        return {}

    def mask(self, text: str) -> str:
        """``text`` with every credential this client holds hidden."""
        return text

    def get(self, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", url, params=params)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: object = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One call, rate limits waited out; a status in ``allow`` is returned to the caller,
        any other error status is a ForgeError with a hint."""
        self._check_origin(url)
        for _ in range(5):
            try:
                response = self.http.request(
                    method, url, params=params, json=json, headers=self.auth_headers()
                )
            except httpx.HTTPError as exc:
                raise ForgeError(
                    self.mask(f"{self.name} did not answer {self._call(method, url)}: {exc}"),
                    hint="check the network and run it again",
                ) from None
            self.requests += 1
            wait = self._rate_limit_wait(response)
            if wait is None:
                break
            if wait > self.max_wait:
                raise ForgeError(
                    f"{self.name}'s rate limit is spent for {wait / 60:.0f} more minutes",
                    hint=self.rate_limit_hint,
                )
            self.waited += wait
            self.sleep(wait)
        if response.status_code in allow or response.status_code < 400:
            return response
        raise self.refusal(response, method, url)

    def _call(self, method: str, url: str) -> str:
        return url if method == "GET" else f"{method} {url}"

    def refusal(self, response: httpx.Response, method: str, url: str) -> ForgeError:
        """The error for a response with an error status."""
        call = self._call(method, url)
        if response.status_code in (401, 403):
            return ForgeError(
                self.mask(f"{self.name} refused the request ({response.status_code}): {call}"),
                hint=self.token_hint,
            )
        if response.status_code == 404:
            return ForgeError(
                self.mask(f"{self.name} has no {call} (404)"),
                hint="check the project's name, and that the token can see it",
            )
        return ForgeError(
            self.mask(
                f"{self.name} answered {response.status_code} to {call}: {response.text[:200]}"
            ),
            hint="run it again; if it persists, check the provider's status page",
        )

    def _check_origin(self, url: str) -> None:
        """Refuse an absolute URL on another origin: the client's headers carry the token, and a
        page link from a response (or a proxy in between) must never send it elsewhere."""
        target = self.http.base_url.join(url)
        base = self.http.base_url
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            origin = f"{target.scheme}://{target.netloc.decode('ascii', 'replace')}"
            raise ForgeError(
                f"{self.name} pointed to {origin}, not to its API at "
                f"{base.scheme}://{base.netloc.decode('ascii', 'replace')}: not followed, so "
                "the token stays with the API",
                hint="check for a proxy or mirror rewriting the API's Link headers",
            )

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None when this is no rate-limit response."""
        if response.status_code not in (403, 429):
            return None
        if "retry-after" in response.headers:
            return max(1.0, float(response.headers["retry-after"]))
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = float(response.headers.get("x-ratelimit-reset", self.clock() + 60))
            return max(1.0, reset - self.clock())
        if response.status_code == 429 or "secondary rate limit" in response.text.lower():
            return 60.0  # GitHub's advice when a secondary limit names no time
        return None
