"""The proxy room's Python face: the same settings, errors and keys as `slipway proxy`, against
the real engine with the Traefik image the Rust harness packs from this machine's binary."""

import socket
import subprocess
import uuid

import pytest

import slipway

STATUS_KEYS = {
    "name", "host", "exists", "running", "image", "http", "https", "redirect_https", "acme",
    "settings_hash", "networks", "version", "routers", "services",
}


def unique() -> str:
    return f"slipway-t-proxy-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixture_image():
    out = subprocess.run(
        ["docker", "image", "ls", "slipway-fixture/traefik", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=False,
    )
    images = out.stdout.split()
    return images[0] if images else None


def test_acme_without_email_is_invalid_input_before_any_engine_call():
    with pytest.raises(slipway.InvalidInput, match="--acme-email"):
        slipway.proxy_up(name=unique(), acme_staging=True, host="unix:///nonexistent/slipway-t-proxy.sock")


def test_a_bad_address_names_the_flag():
    with pytest.raises(slipway.InvalidInput, match="--http"):
        slipway.proxy_up(name=unique(), http="localhost:80")


def test_status_of_an_absent_proxy_has_the_cli_keys():
    st = slipway.proxy_status(name=unique())
    assert set(st) == STATUS_KEYS
    assert st["exists"] is False and st["running"] is False


def test_up_is_idempotent_and_down_removes():
    image = fixture_image()
    if image is None:
        pytest.skip("no slipway-fixture/traefik image: run `cargo test -p slipway-e2e --test proxy_managed` first")
    name = unique()
    http, https = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    try:
        first = slipway.proxy_up(name=name, image=image, http=http, https=https)
        assert first["action"] == "created"
        again = slipway.proxy_up(name=name, image=image, http=http, https=https)
        assert again["action"] == "unchanged" and again["settings_hash"] == first["settings_hash"]
        st = slipway.proxy_status(name=name)
        assert st["running"] is True and st["http"] == http and st["image"] == image
        assert st["version"].startswith("3")
        assert slipway.proxy_logs(name=name, tail=5)
        down = slipway.proxy_down(name=name)
        assert down["removed"] is True and f"{name}-acme" in down["kept_volumes"]
        assert slipway.proxy_status(name=name)["exists"] is False
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", f"{name}-dynamic", f"{name}-acme"], capture_output=True, check=False)
