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


def _inspect_env(name):
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=dev.slipway.project={name}"], capture_output=True, text=True
    ).stdout.split()
    assert len(ids) == 1, ids
    out = subprocess.run(["docker", "inspect", "--format", "{{json .Config.Env}}", ids[0]], capture_output=True, text=True)
    return dict(e.split("=", 1) for e in json.loads(out.stdout))


def test_tag_means_image_tag_and_the_version(project):
    """`tag=` means what the CLI's `--tag` means: IMAGE_TAG for interpolation and the version."""
    name, path = project
    path.write_text(path.read_text().replace("${GREETING:-hello}", "${IMAGE_TAG:-untagged}"))
    stack = slipway.Stack.load(str(path))
    out = stack.deploy(tag="v7")
    assert out["release"]["version"] == "v7"
    assert _inspect_env(name)["GREETING"] == "v7"
    assert [s["step"] for s in stack.plan(tag="v7")] == []


def _prod_policy(tmp_path, allow_no_backup=True):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[environments.production]\n"
        "backup = true\n"
        f"allow_no_backup = {'true' if allow_no_backup else 'false'}\n"
        'otherwise = "accept"\n'
    )
    return str(policy)


def test_production_via_python_takes_the_backup(project, tmp_path):
    """The production backup is decided by the core, so Python's deploy and rollback take it. The
    database is a busybox stand-in marked `x-slipway.backup: postgres`: the dump fails, which shows
    the backup ran first and stopped the deploy with nothing changed. (The policy file keeps
    production's backup and accepts the fixture's tag.)"""
    name, path = project
    text = json.loads(path.read_text())
    text["services"]["idle"]["x-slipway"]["backup"] = "postgres"
    path.write_text(json.dumps(text))
    slipway.Stack.load(str(path)).deploy()
    path.write_text(path.read_text().replace("${GREETING:-hello}", "second"))
    stack = slipway.Stack.load(str(path))
    policy, backups = _prod_policy(tmp_path), str(tmp_path / "backups")

    with pytest.raises(slipway.DeployError, match="backup"):
        stack.deploy(env="production", policy_file=policy, backup_dir=backups)
    assert [r["id"] for r in slipway.history(name)] == [1]
    assert _inspect_env(name)["GREETING"] == "hello"

    # An explicit opt-out, which this policy allows.
    out = stack.deploy(env="production", policy_file=policy, backup=False)
    assert out["release"]["id"] == 2 and _inspect_env(name)["GREETING"] == "second"

    # Rollback takes the same options: production's backup runs (and fails) first.
    with pytest.raises(slipway.DeployError, match="backup"):
        slipway.rollback(name, env="production", policy_file=policy, backup_dir=backups)
    assert [r["id"] for r in slipway.history(name)] == [1, 2]

    # A policy that forbids skipping it refuses the opt-out (exit code 3 on the CLI).
    strict = _prod_policy(tmp_path, allow_no_backup=False)
    with pytest.raises(slipway.PolicyViolation, match="backup"):
        slipway.rollback(name, env="production", policy_file=strict, backup=False)
    back = slipway.rollback(name, backup=False)
    assert back["release"]["rollback_of"] == 1 and _inspect_env(name)["GREETING"] == "hello"


def test_keyboard_interrupt_while_waiting_for_the_lock(project):
    """Ctrl-C during Stack.deploy cancels the core's token: the deploy gives up waiting for the
    lock (nothing changed, the holder's lock untouched) and KeyboardInterrupt is raised."""
    import datetime
    import os
    import signal
    import threading

    name, path = project
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)).isoformat()
    lock = f"{name}-slipway-deploy-lock"
    subprocess.run(
        ["docker", "create", "--name", lock, "--label", f"dev.slipway.lock={name}",
         "--label", "dev.slipway.lock.holder=ci@elsewhere pid=1",
         "--label", f"dev.slipway.lock.expires={expires}", BUSYBOX, "never-started"],
        check=True, capture_output=True,
    )
    stack = slipway.Stack.load(str(path))
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            stack.deploy(lock_wait=120)
    finally:
        timer.cancel()
    holder = subprocess.run(
        ["docker", "inspect", "--format", '{{index .Config.Labels "dev.slipway.lock.holder"}}', lock],
        capture_output=True, text=True,
    ).stdout.strip()
    assert holder == "ci@elsewhere pid=1"
    assert slipway.history(name) == []


def test_exceptions_carry_service_step_logs_and_follow_the_kind(project):
    name, path = project
    stack = slipway.Stack.load(str(path))
    stack.deploy()
    text = json.loads(path.read_text())
    text["services"]["idle"]["command"] = ["sh", "-c", "echo boom-from-idle; exit 3"]
    path.write_text(json.dumps(text))
    with pytest.raises(slipway.DeployError) as failed:
        slipway.Stack.load(str(path)).deploy()
    assert failed.value.service == "idle"
    assert failed.value.step and "idle" in failed.value.step
    assert any("boom-from-idle" in line for line in failed.value.logs), failed.value.logs
    # The undo's report, as `--json` prints it: the old container was restarted and confirmed.
    undo = failed.value.undo
    assert undo["actions"], undo
    assert all(a["error"] is None and a["finish"] is None for a in undo["actions"]), undo
    assert any("idle" in a["description"] for a in undo["actions"]), undo
    # Each action says what confirmed it, and how (engine state, a published port, the proxy).
    assert all(a["confirmed"] and a["silent_ports"] == [] for a in undo["actions"]), undo
    assert {c["by"] for a in undo["actions"] for c in a["confirmed"]} <= {"engine_stopped", "engine_running"}, undo
    # Bad input to a deploy is InvalidInput (no earlier release to roll back to).
    with pytest.raises(slipway.InvalidInput) as bad:
        slipway.rollback(name)
    assert bad.value.service is None and bad.value.logs == [] and bad.value.undo is None
    # A refusal is a PolicyViolation, naming the service.
    text["services"]["idle"]["image"] = "127.0.0.1:5999/app:latest"
    path.write_text(json.dumps(text))
    with pytest.raises(slipway.PolicyViolation) as refused:
        slipway.Stack.load(str(path)).deploy(env="production")
    assert refused.value.service == "idle"


def test_plan_notes_say_why_a_service_is_stop_first(project):
    """`plan(notes=True)` is the plan as `deploy --dry-run --json` shows it: steps and notes."""
    name, path = project
    compose = json.loads(path.read_text())
    compose["services"]["idle"]["container_name"] = f"{name}-fixed"
    path.write_text(json.dumps(compose))
    stack = slipway.Stack.load(str(path))
    first = stack.plan(notes=True)
    assert set(first) == {"steps", "notes"}
    assert first["notes"] == []  # nothing to stop yet
    assert [s["step"] for s in first["steps"]] == [s["step"] for s in stack.plan()]
    stack.deploy(tag="v1")

    path.write_text(path.read_text().replace("${GREETING:-hello}", "changed"))
    changed = slipway.Stack.load(str(path))
    plan = changed.plan(tag="v1", notes=True)
    kinds = [s["step"] for s in plan["steps"]]
    assert kinds.index("stop_old") < kinds.index("start_replica"), kinds
    assert len(plan["notes"]) == 1 and "container_name" in plan["notes"][0], plan["notes"]
    assert changed.deploy(tag="v1", dry_run=True)["notes"] == plan["notes"]
