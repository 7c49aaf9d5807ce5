"""Swarm room from Python: `target="swarm"` reaches the core's SwarmDeployer for status, history,
rollback and Stack.plan/deploy, with the CLI's meaning (the three-node Swarm cycle itself is the
Rust e2e test `swarm_cycle`; here the local engine answers as the Swarm manager it is or is not)."""

import json
import secrets
import subprocess

import pytest

import slipway


def _engine_is_manager():
    try:
        out = subprocess.run(
            ["docker", "info", "--format", "{{.Swarm.ControlAvailable}}"], capture_output=True, text=True
        )
    except FileNotFoundError:
        pytest.skip("no docker CLI")
    if out.returncode != 0:
        pytest.skip("no Docker engine")
    return out.stdout.strip() == "true"


def test_an_unknown_target_is_refused_naming_it():
    with pytest.raises(slipway.SlipwayError, match="nope"):
        slipway.status("slipway-t-swarm", target="nope")


def test_target_swarm_asks_the_swarm_not_the_host():
    project = f"slipway-t-swarm-{secrets.token_hex(4)}"
    if _engine_is_manager():
        assert slipway.history(project, target="swarm") == []
        assert slipway.status(project, target="swarm")["containers"] == []
    else:
        # The host target answers an unknown project with no history; the Swarm target asks
        # the engine for Swarm configs and the engine says it is no manager.
        assert slipway.history(project, target="host") == []
        with pytest.raises(slipway.SlipwayError, match="(?i)swarm"):
            slipway.history(project, target="swarm")
        with pytest.raises(slipway.SlipwayError, match="(?i)swarm"):
            slipway.rollback(project, target="swarm")


def test_x_slipway_target_is_the_default_for_a_stack(tmp_path):
    if _engine_is_manager():
        pytest.skip("the local engine is a Swarm manager: a plan would resolve images")
    compose = {
        "name": f"slipway-t-swarm-{secrets.token_hex(4)}",
        "x-slipway": {"target": "swarm"},
        "services": {"app": {"image": "127.0.0.1:1/none@sha256:" + "0" * 64}},
    }
    path = tmp_path / "compose.yaml"
    path.write_text(json.dumps(compose))  # JSON is YAML
    stack = slipway.Stack.load(str(path))
    with pytest.raises(slipway.SlipwayError, match="(?i)swarm"):
        stack.plan()
    with pytest.raises(slipway.SlipwayError, match="(?i)swarm"):
        stack.deploy(target="swarm", with_registry_auth=True)
