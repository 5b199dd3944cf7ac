"""A line-based TCP transport to the broker: each message is acknowledged."""

from __future__ import annotations

import socket


class TcpTransport:
    def __init__(self, host: str, port: int, timeout: float = 0.1) -> None:
        self.address = (host, port)
        self.timeout = timeout

    def send(self, message: str) -> str:
        with socket.create_connection(self.address, timeout=self.timeout) as conn:
            conn.sendall(message.encode() + b"\n")
            return conn.makefile("r").readline().strip()
