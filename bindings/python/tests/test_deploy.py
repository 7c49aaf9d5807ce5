"""Deploy room from Python: Stack.plan(), Stack.deploy(), slipway.history/status/rollback against
the real engine, with the harness's busybox fixture image (skipped when it is not built yet)."""

import json
import secrets
import subprocess

import pytest

import slipway

BUSYBOX = "slipway-fixture/busybox:1"


def _have_image(ref):
    try:
        return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


pytestmark = pytest.mark.skipif(not _have_image(BUSYBOX), reason="busybox fixture image not built")


def _cleanup(project):
    for key in ("dev.slipway.project", "dev.slipway.lock"):
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={key}={project}"], capture_output=True, text=True
        ).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    vols = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=dev.slipway.project={project}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    vols += subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if vols:
        subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True)
    subprocess.run(["docker", "network", "rm", f"{project}_default"], capture_output=True)


@pytest.fixture
def project(tmp_path):
    name = f"slipway-t-deploy-{secrets.token_hex(4)}"
    compose = {
        "name": name,
        "services": {
            "idle": {
                "image": BUSYBOX,
                "pull_policy": "missing",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
                "environment": {"GREETING": "${GREETING:-hello}"},
                "x-slipway": {"min_running": "300ms"},
            }
        },
    }
    path = tmp_path / "compose.yaml"
    path.write_text(json.dumps(compose))  # JSON is YAML
    yield name, path
    _cleanup(name)


def test_plan_deploy_history_status(project):
    name, path = project
    stack = slipway.Stack.load(str(path))
    steps = stack.plan()
    kinds = [s["step"] for s in steps]
    assert "start_replica" in kinds and kinds[-2:] == ["record_release", "prune"]

    out = stack.deploy(tag="v1")
    assert out["release"]["id"] == 1
    assert out["release"]["version"] == "v1"
    assert out["release"]["outcome"]["status"] == "succeeded"
    events = [e["event"] for e in out["events"] if e["room"] == "deploy"]
    resolved = [e for e in events if e["type"] == "resolved"]
    assert [(e["service"], e["pinned"]) for e in resolved] == [("idle", out["release"]["services"]["idle"]["pinned"])]
    assert sum(e["type"] == "step_done" for e in events) == len(out["steps"])

    again = stack.deploy()
    assert again["release"] is None and again["steps"] == []

    history = slipway.history(name)
    assert [r["id"] for r in history] == [1]
    status = slipway.status(name)
    running = [c for c in status["containers"] if c["running"]]
    assert [c["service"] for c in running] == ["idle"]

    # Nothing earlier to roll back to: a DeployError-family exception, nothing changed.
    with pytest.raises(slipway.SlipwayError):
        slipway.rollback(name)
    assert [r["id"] for r in slipway.history(name)] == [1]


def test_pull_override_is_checked_before_anything(project):
    name, path = project
    stack = slipway.Stack.load(str(path))
    with pytest.raises(slipway.SlipwayError, match="pull"):
        stack.deploy(pull="build")
    assert slipway.history(name) == []
    out = stack.deploy(pull="never")
    pins = [e["event"] for e in out["events"] if e["event"]["type"] == "resolved"]
    assert [p["from"] for p in pins] == ["engine"]


def test_production_refuses_latest(project):
    name, path = project
    text = path.read_text().replace(BUSYBOX, "127.0.0.1:5999/app:latest")
    path.write_text(text)
    stack = slipway.Stack.load(str(path))
    with pytest.raises(slipway.PolicyViolation):
        stack.deploy(env="production")
    assert slipway.history(name) == []
