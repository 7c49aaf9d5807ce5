"""slipway.probe / slipway.check_all against small local servers on 127.0.0.1."""

import http.server
import socket
import threading
import time

import pytest

import slipway

KEYS = ["target", "status", "reason", "latency_ms", "attempts", "elapsed_ms", "starting", "output"]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        code = 200 if self.path == "/health" else 503
        body = b"ok" if code == 200 else b"down"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture()
def silent_port():
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_probe_healthy_http(http_port):
    r = slipway.probe(f"http://127.0.0.1:{http_port}/health", timeout="2s", body="ok")
    assert list(r.keys()) == KEYS
    assert r["status"] == "healthy" and r["reason"] is None and r["attempts"] == 1


def test_probe_unhealthy_http_says_why(http_port):
    r = slipway.probe(f"http://127.0.0.1:{http_port}/down", timeout=2, retries=2, interval="50ms")
    assert r["status"] == "unhealthy"
    assert "503" in r["reason"]
    assert r["attempts"] == 2


def test_check_all_in_order_and_bounded(http_port, silent_port):
    started = time.monotonic()
    reports = slipway.check_all(
        [
            f"tcp://127.0.0.1:{http_port}",
            {"target": f"http://127.0.0.1:{silent_port}/", "timeout": "300ms"},
            f"tcp://127.0.0.1:{closed_port()}",
        ],
        timeout="2s",
    )
    assert [r["status"] for r in reports] == ["healthy", "unreachable", "unreachable"]
    assert "no answer within 300ms" in reports[1]["reason"]
    assert "refused" in reports[2]["reason"]
    assert time.monotonic() - started < 5


def test_gil_is_released_while_probing(silent_port):
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    slipway.probe(f"http://127.0.0.1:{silent_port}/", timeout="500ms")
    stop.set()
    t.join()
    assert len(ticks) > 10


def test_bad_input_raises_invalid_input():
    with pytest.raises(slipway.InvalidInput):
        slipway.probe("ftp://example")
    with pytest.raises(slipway.InvalidInput):
        slipway.probe("tcp://127.0.0.1:1", timeout="3")
    with pytest.raises(slipway.InvalidInput) as e:
        slipway.probe("redis://:hunter2@")
    assert "hunter2" not in str(e.value)
    with pytest.raises(TypeError):
        slipway.check_all([42])


def test_probe_asks_the_engine_that_host_names():
    # As `slipway probe -H`: container targets go to the named engine; an unreachable one is
    # reported as the probe's finding, naming where it looked.
    nowhere = "unix:///nonexistent/slipway-probe-test.sock"
    r = slipway.probe("container://p-web-1", host=nowhere, timeout="1s")
    assert r["status"] != "healthy", r
    assert "slipway-probe-test.sock" in r["reason"], r
