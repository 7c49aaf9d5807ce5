"""slipway.render_kubernetes: the same render as `slipway render --target kubernetes`."""

import pathlib

import pytest

import slipway

ROOT = pathlib.Path(__file__).resolve().parents[3]
PROD = ROOT / "tests" / "kubernetes" / "stacks" / "production" / "compose.yml"
WEB = ROOT / "tests" / "kubernetes" / "stacks" / "web-worker" / "compose.yml"


def test_render_matches_the_golden_stream(monkeypatch):
    monkeypatch.delenv("POSTGRES_PASSWORD", raising=False)
    out = slipway.render_kubernetes(str(PROD), namespace="shop", strict=True)
    golden = (ROOT / "tests" / "kubernetes" / "golden" / "production.yaml").read_text()
    assert out["yaml"] == golden
    assert out["warnings"] == []
    kinds = [(o["kind"], o["metadata"]["name"]) for o in out["objects"]]
    assert ("Deployment", "backend") in kinds and ("Ingress", "backend-shop-backend") in kinds


def test_strict_raises_and_lax_warns():
    lax = slipway.render_kubernetes([str(WEB)])
    assert any("container_name" in w for w in lax["warnings"])
    with pytest.raises(slipway.SlipwayError, match="cannot map to Kubernetes"):
        slipway.render_kubernetes(str(WEB), strict=True)
    with pytest.raises(ValueError):
        slipway.render_kubernetes(str(WEB), ingress="nginx")
