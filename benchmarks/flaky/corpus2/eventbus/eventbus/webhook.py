"""Outgoing webhooks over HTTP."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field


class Session:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {"User-Agent": "eventbus/1.2"}
        self.timeout = 2.0


@dataclass
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class WebhookClient:
    def __init__(self, base_url: str = "http://127.0.0.1:9") -> None:
        self.base_url = base_url
        self.session = Session()

    def build_request(self, path: str, payload: object = None) -> Request:
        headers = {**self.session.headers, "Content-Type": "application/json"}
        return Request(self.base_url + path, json.dumps(payload).encode(), headers)

    def post(self, path: str, payload: object) -> int:
        req = self.build_request(path, payload)
        http = urllib.request.Request(req.url, data=req.body, headers=req.headers, method="POST")
        with urllib.request.urlopen(http, timeout=self.session.timeout) as response:
            return response.status


default = WebhookClient()
