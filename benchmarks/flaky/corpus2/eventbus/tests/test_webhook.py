import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from eventbus import webhook
from eventbus.webhook import WebhookClient


def test_anonymous_request_has_no_credentials():
    request = webhook.default.build_request("/hooks/order")
    assert "Authorization" not in request.headers


def test_authenticated_delivery():
    webhook.default.session.headers["Authorization"] = "Bearer s3cr3t-t0ken"
    request = webhook.default.build_request("/hooks/order", {"id": 1})
    assert request.headers["Authorization"].startswith("Bearer ")


def test_request_body_is_json():
    request = WebhookClient("http://example.invalid").build_request("/x", {"a": [1, 2]})
    assert json.loads(request.body) == {"a": [1, 2]}


class _Upstream(BaseHTTPRequestHandler):
    """The partner's endpoint: it answers 503 while it is overloaded (a third of the time)."""

    chance = random.SystemRandom()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status = 503 if self.chance.random() < 0.35 else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_post_to_partner_endpoint():
    server = HTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        client = WebhookClient(f"http://127.0.0.1:{server.server_port}")
        assert client.post("/hooks/order", {"id": 3}) == 204
    finally:
        thread.join(5)
        server.server_close()
