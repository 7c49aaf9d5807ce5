"""slipway.Stack: compose files loaded by the core."""

import json
import os
import pathlib
import subprocess

import pytest

import slipway

CORPUS = pathlib.Path(__file__).resolve().parents[3] / "tests" / "compose"


def test_users_stack_loads(monkeypatch):
    monkeypatch.setenv("IMAGE_TAG", "v9")
    stack = slipway.Stack.load([CORPUS / "good" / "users-stack" / "compose.yml"])
    assert stack.name == "shop"
    assert set(stack.services) == {"prestart", "backend", "worker", "db", "redis"}
    backend = stack.services["backend"]
    assert backend["image"] == "registry.example.com:5000/shop/backend:v9"
    assert backend["command"] == ["serve", "--port", "8080"]
    assert backend["depends_on"]["prestart"]["condition"] == "service_completed_successfully"
    # env_file contents merged under `environment`, which wins
    assert backend["environment"]["LOG_LEVEL"] == "info"
    assert backend["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert stack.services["worker"]["command"] == ["worker", "--queue", "default"]
    d = stack.to_dict()
    assert d["networks"]["traefik-public"]["external"] is True
    assert d["volumes"]["app-db-data"]["name"] == "shop-db-data"
    assert d["x-slipway"]["hooks"]["timeout"] == "5m"
    assert json.loads(stack.to_json()) == d


def test_profiles_env_file_and_project(tmp_path):
    (tmp_path / "compose.yml").write_text(
        "services:\n  a:\n    image: app:${TAG}\n  t:\n    image: t\n    profiles: [tools]\n"
    )
    (tmp_path / "vars.env").write_text("TAG=from-env-file\n")
    s = slipway.Stack.load(str(tmp_path / "compose.yml"), env_file=tmp_path / "vars.env", profiles=["tools"], project="p1")
    assert s.name == "p1"
    assert sorted(s.services) == ["a", "t"]
    assert s.services["a"]["image"] == "app:from-env-file"
    assert slipway.Stack.load(tmp_path / "compose.yml", project="p2").services["a"]["image"] == "app:"


def test_warnings_are_returned(monkeypatch):
    monkeypatch.setenv("SET_VAR", "v")
    monkeypatch.setenv("EMPTY_VAR", "")
    s = slipway.Stack.load(CORPUS / "good" / "interpolation" / "compose.yml", project="w")
    assert any("UNSET_VAR" in w for w in s.warnings)


def test_bad_file_raises_compose_error():
    with pytest.raises(slipway.ComposeError) as e:
        slipway.Stack.load(CORPUS / "bad" / "missing-dependency.yml")
    assert isinstance(e.value, slipway.InvalidInput)
    assert "missing-dependency.yml:5" in str(e.value)


def test_same_shape_as_slipway_config_cli(tmp_path):
    exe = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "debug" / "slipway"
    if not exe.exists():
        pytest.skip("slipway CLI not built")
    f = CORPUS / "good" / "shapes" / "compose.yml"
    out = subprocess.run([exe, "config", "-f", f, "--format", "json"], capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == slipway.Stack.load(f).to_dict()


def test_build_compose_builds_each_image_once(tmp_path):
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "compose.yml").write_text(
        "services:\n"
        "  a:\n    image: slipway-t-pybuild:dev\n    build:\n      context: .\n"
        "      dockerfile_inline: |\n        FROM scratch\n        COPY hello.txt /hello.txt\n"
        "  b:\n    image: slipway-t-pybuild:dev\n    build:\n      context: .\n"
        "      dockerfile_inline: |\n        FROM scratch\n        COPY hello.txt /hello.txt\n"
    )
    try:
        images = slipway.build_compose([str(tmp_path / "compose.yml")], project="pyb")
        assert len(images) == 1
        assert images[0]["image"] == "slipway-t-pybuild:dev"
        assert images[0]["services"] == ["a", "b"]
        assert images[0]["digest"].startswith("sha256:")
        with pytest.raises(slipway.InvalidInput):
            slipway.build_compose([str(tmp_path / "compose.yml")], ["nope"], project="pyb")
    finally:
        subprocess.run(["docker", "rmi", "-f", "slipway-t-pybuild:dev"], capture_output=True)
