import random
import socket
import threading
import time

from eventbus.transport import TcpTransport


def _broker(delays):
    """A broker on a local port that acknowledges each message after one of ``delays``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    chance = random.SystemRandom()

    def serve():
        conn, _ = server.accept()
        with conn:
            line = conn.makefile("r").readline()
            time.sleep(chance.choice(delays))
            conn.sendall(b"ack " + line.strip().encode() + b"\n")
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()


def test_message_is_acknowledged():
    host, port = _broker(delays=[0.0])
    assert TcpTransport(host, port, timeout=5).send("ping") == "ack ping"


def test_broker_acknowledges_within_the_timeout():
    # the broker's acknowledgements are slow while it flushes to disk
    host, port = _broker(delays=[0.0, 0.0, 0.3])
    assert TcpTransport(host, port).send("order.created") == "ack order.created"
