"""Who greenline is on GitHub: a token from the environment, or a GitHub App (a JWT signed with
the app's private key, exchanged for an installation token of the repository's installation,
kept until shortly before it expires); and the masking that keeps every credential out of
output, logs and errors.

Everything here comes from the environment alone, the API's address included: a change to a
repository's ``pyproject.toml`` (a pull request's, say) cannot point a CI job's token elsewhere.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from greenline.errors import ConfigError, ForgeError
from greenline.forge.http import ApiClient

API = "https://api.github.com"
API_URL_ENV = "GREENLINE_GITHUB_API_URL"
TOKEN_ENV = ("GREENLINE_GITHUB_TOKEN", "GITHUB_TOKEN")
APP_ID_ENV = "GREENLINE_GITHUB_APP_ID"
APP_KEY_ENV = "GREENLINE_GITHUB_APP_PRIVATE_KEY"
APP_KEY_FILE_ENV = "GREENLINE_GITHUB_APP_PRIVATE_KEY_FILE"
#: optional: the installation to use, instead of asking GitHub which one covers the repository
INSTALLATION_ENV = "GREENLINE_GITHUB_APP_INSTALLATION_ID"
HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": "greenline",
}
#: GitHub's token formats (personal, fine-grained, OAuth, user-to-server, installation,
#: refresh) and JWTs: hidden wherever they appear, whoever's they are
_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
#: how long before its expiry an installation token is replaced (GitHub's last an hour)
REFRESH_MARGIN = 300.0
#: a JWT's life: GitHub refuses one that expires more than ten minutes after it was issued
JWT_SECONDS = 540
#: how far back a JWT's issue time is set, for clocks that run ahead of GitHub's
CLOCK_DRIFT = 60


def mask_tokens(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secrets, and anything shaped like a GitHub token, as ``***``."""
    for secret in sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _JWT.sub("***", _TOKEN.sub("***", text))


def api_url(env: Mapping[str, str]) -> str:
    """The API's address: ``GREENLINE_GITHUB_API_URL`` (GitHub Enterprise, or a fake in
    tests), else api.github.com."""
    url = (env.get(API_URL_ENV) or "").strip().rstrip("/") or API
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise ConfigError(
            f"{API_URL_ENV} = {url!r}: not an http(s) URL",
            hint="e.g. https://github.example.com/api/v3 for GitHub Enterprise Server",
        )
    return url


class Credentials(Protocol):
    """What authorizes a request to one repository's API."""

    kind: str

    def authorization(self, repository: str) -> str:
        """The ``Authorization`` header's value for a request about ``repository``."""
        ...

    def secrets(self) -> list[str]:
        """Every credential held (to mask them)."""
        ...


class TokenCredentials:
    """A token from the environment (a personal, fine-grained or Actions token)."""

    kind = "token"

    def __init__(self, token: str) -> None:
        self.token = token.strip()

    def authorization(self, repository: str) -> str:
        return f"Bearer {self.token}"

    def secrets(self) -> list[str]:
        return [self.token]


class _AppClient(ApiClient):
    """The calls a GitHub App makes as itself (a JWT): find an installation, get its token."""

    name = "GitHub"
    api = API
    token_hint = (
        f"check {APP_ID_ENV} and the private key ({APP_KEY_FILE_ENV}), and that the app is "
        "installed on the repository"
    )
    rate_limit_hint = "try again later"

    def __init__(self, app: AppCredentials, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.app = app

    def headers(self, token: str | None) -> dict[str, str]:
        return dict(HEADERS)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app.app_jwt()}"}

    def mask(self, text: str) -> str:
        return mask_tokens(text, self.app.secrets())


class AppCredentials:
    """A GitHub App: its id and private key; installation tokens made and cached per
    installation (thread-safe: the server's background work shares one)."""

    kind = "app"

    def __init__(
        self,
        app_id: str,
        private_key: str,
        *,
        installation_id: int | None = None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self._key = _load_key(private_key)
        self.installation_id = installation_id
        self.clock = clock
        self.client = _AppClient(self, base_url=base_url, transport=transport, clock=clock)
        self._installations: dict[str, int] = {}
        self._tokens: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def app_jwt(self) -> str:
        """The app's JWT: RS256, issued a minute back (clock drift), expiring within ten."""
        import jwt

        now = int(self.clock())
        claims = {"iat": now - CLOCK_DRIFT, "exp": now + JWT_SECONDS, "iss": self.app_id}
        return str(jwt.encode(claims, self._key, algorithm="RS256"))

    def authorization(self, repository: str) -> str:
        return f"Bearer {self.installation_token(repository)}"

    def installation_token(self, repository: str) -> str:
        """A token of the installation covering ``repository``, reused until shortly before
        it expires."""
        with self._lock:
            installation = self._installation_of(repository)
            cached = self._tokens.get(installation)
            if cached is not None and cached[1] - REFRESH_MARGIN > self.clock():
                return cached[0]
            token, expires = self._new_token(installation)
            self._tokens[installation] = (token, expires)
            return token

    def _installation_of(self, repository: str) -> int:
        if self.installation_id is not None:
            return self.installation_id
        if repository not in self._installations:
            url = f"/repos/{repository}/installation"
            response = self.client.request("GET", url, allow=(404,))
            doc = response.json() if response.status_code == 200 else None
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), int):
                raise ForgeError(
                    f"GitHub App {self.app_id} is not installed on {repository}",
                    hint="install the app on the repository (its settings, GitHub Apps)",
                )
            self._installations[repository] = int(doc["id"])
        return self._installations[repository]

    def _new_token(self, installation: int) -> tuple[str, float]:
        response = self.client.request("POST", f"/app/installations/{installation}/access_tokens")
        doc = response.json()
        token, expires = doc.get("token"), doc.get("expires_at")
        if not isinstance(token, str) or not isinstance(expires, str):
            raise ForgeError(
                f"GitHub's answer for installation {installation} holds no token",
                hint="check the app's permissions (checks, pull requests, contents: write)",
            )
        when = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        return token, when

    def secrets(self) -> list[str]:
        return [token for token, _ in self._tokens.values()]

    def close(self) -> None:
        self.client.close()


def _load_key(text: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(
            "the GitHub App's private key is not an RSA private key in PEM",
            hint=f"point {APP_KEY_FILE_ENV} at the .pem file GitHub made for the app",
        )
    return key


def credentials_from_env(
    env: Mapping[str, str],
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Credentials:
    """A GitHub App when ``GREENLINE_GITHUB_APP_ID`` is set (with its private key), else a
    token from ``GREENLINE_GITHUB_TOKEN`` or ``GITHUB_TOKEN``."""
    app_id = (env.get(APP_ID_ENV) or "").strip()
    if app_id:
        return AppCredentials(
            app_id,
            _private_key(env),
            installation_id=_installation(env),
            base_url=api_url(env),
            transport=transport,
            clock=clock,
        )
    token = next((env[name] for name in TOKEN_ENV if (env.get(name) or "").strip()), None)
    if token is None:
        raise ConfigError(
            "no GitHub credentials in the environment",
            hint=f"set {TOKEN_ENV[0]} (or {TOKEN_ENV[1]}), or {APP_ID_ENV} with {APP_KEY_FILE_ENV}",
        )
    return TokenCredentials(token)


def _private_key(env: Mapping[str, str]) -> str:
    text = env.get(APP_KEY_ENV) or ""
    if text.strip():
        return text.replace("\\n", "\n")  # a PEM pasted into one line of a secret store
    path = (env.get(APP_KEY_FILE_ENV) or "").strip()
    if not path:
        raise ConfigError(
            f"{APP_ID_ENV} is set, but not the app's private key",
            hint=f"set {APP_KEY_FILE_ENV} to the .pem file's path (or {APP_KEY_ENV} to its text)",
        )
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{APP_KEY_FILE_ENV} = {path}: cannot read it ({type(exc).__name__})",
            hint="point it at the .pem file GitHub made for the app",
        ) from None


def _installation(env: Mapping[str, str]) -> int | None:
    raw = (env.get(INSTALLATION_ENV) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ConfigError(
            f"{INSTALLATION_ENV} = {raw!r}: not an installation id",
            hint="leave it unset: greenline asks GitHub which installation covers the repository",
        )
    return int(raw)
