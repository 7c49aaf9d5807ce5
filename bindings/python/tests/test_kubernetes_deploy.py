"""target="kubernetes" from Python: the same Deployer as `slipway deploy --target kubernetes`,
against the mock API server (tests/src/kube_api, served by the `kube-mock-api` binary through a
kubeconfig). No real cluster runs here; images are written with digests, so no registry is asked."""

import os
import pathlib
import subprocess

import pytest

import slipway

ROOT = pathlib.Path(__file__).resolve().parents[3]
DIGEST_V1 = "sha256:" + "1" * 64
DIGEST_V2 = "sha256:" + "2" * 64
COMPOSE = """name: shop
services:
  migrate:
    image: registry.example.com/shop/app@{migrate}
    command: [migrate]
    x-slipway: {{oneoff: true}}
  web:
    image: registry.example.com/shop/app@{digest}
    expose: ["8080"]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
    healthcheck:
      test: [CMD, /app, check]
      interval: 2s
    x-slipway: {{health_timeout: 60s}}
"""


def mock_binary():
    binary = ROOT / "target" / "debug" / "kube-mock-api"
    if not binary.exists():
        subprocess.run(["cargo", "build", "-q", "-p", "slipway-e2e", "--bin", "kube-mock-api"], cwd=ROOT, check=True)
    return binary


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    failing = f"registry.example.com/shop/app@{DIGEST_V2}"
    proc = subprocess.Popen(
        [str(mock_binary()), str(kubeconfig), failing], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready http://127.0.0.1:"), line
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        yield kubeconfig
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def stack(tmp_path, digest):
    f = tmp_path / f"compose-{digest[7:9]}.yml"
    f.write_text(COMPOSE.format(digest=digest, migrate=DIGEST_V1))
    return slipway.Stack.load(str(f))


def test_deploy_status_history_and_rollback_on_kubernetes(cluster, tmp_path):
    plan = stack(tmp_path, DIGEST_V1).plan(target="kubernetes", context="mock")
    assert [s["step"] for s in plan[:2]] == ["lock", "policy"]
    assert {"step": "await_rollout", "kind": "Deployment", "name": "web"} in plan

    out = stack(tmp_path, DIGEST_V1).deploy(target="kubernetes", context="mock", namespace="shop")
    assert out["release"]["id"] == 1
    assert out["release"]["services"]["web"]["pinned"].endswith(DIGEST_V1)

    # Release 2's web pods never become ready: its deadline passes and release 1 is applied again.
    with pytest.raises(slipway.SlipwayError, match="exceeded its progress deadline"):
        stack(tmp_path, DIGEST_V2).deploy(target="kubernetes", context="mock")

    history = slipway.history("shop", target="kubernetes", context="mock")
    assert [(r["id"], r["outcome"]["status"]) for r in history] == [(1, "succeeded"), (2, "failed")]

    st = slipway.status("shop", target="kubernetes", context="mock")
    assert st["current"]["id"] == 1
    web = [c for c in st["containers"] if c["service"] == "web"]
    assert web and all(c["running"] and c["health"] == "healthy" for c in web)
    assert all(c["image"].endswith(DIGEST_V1) for c in web)

    back = slipway.rollback("shop", to=1, target="kubernetes", context="mock")
    assert (back["release"]["id"], back["release"]["rollback_of"]) == (3, 1)


def test_an_unknown_target_is_refused_before_anything_runs():
    with pytest.raises(slipway.SlipwayError, match="target=\"nomad\""):
        slipway.history("shop", target="nomad")
