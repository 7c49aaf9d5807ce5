"""The engine keywords every function that reaches an engine takes, with the CLI's meanings:
``host=`` (``-H``), ``context=`` (``--context``) and ``ssh_persist=`` (``--ssh-persist``), read by
the one duration parser (a bad value is refused before anything connects)."""

import pytest

import slipway

NOWHERE = "unix:///nonexistent/slipway-test.sock"

CALLS = {
    "history": lambda **k: slipway.history("p", **k),
    "status": lambda **k: slipway.status("p", **k),
    "rollback": lambda **k: slipway.rollback("p", **k),
    "backup": lambda **k: slipway.backup("p", **k),
    "restore": lambda **k: slipway.restore("host:p.json", **k),
    "verify_backup": lambda **k: slipway.verify_backup("host:p.json", **k),
    "list_backups": lambda **k: slipway.list_backups(**k),
    "prune_backups": lambda **k: slipway.prune_backups(**k),
    "proxy_up": lambda **k: slipway.proxy_up(**k),
    "proxy_status": lambda **k: slipway.proxy_status(**k),
    "proxy_logs": lambda **k: slipway.proxy_logs(**k),
    "proxy_down": lambda **k: slipway.proxy_down(**k),
    # build and oci_build call the engine's context `docker_context=` (`context` is the build directory).
    "build": lambda **k: slipway.build(".", **k),
    "oci_build": lambda **k: slipway.oci_build("slipway-build.toml", **k),
    "probe": lambda **k: slipway.probe("container://p-web-1", **k),
    "check_all": lambda **k: slipway.check_all(["container://p-web-1"], **k),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_engine_function_takes_ssh_persist(name):
    with pytest.raises(slipway.InvalidInput) as err:
        CALLS[name](host=NOWHERE, ssh_persist="soon")
    assert "ssh_persist" in str(err.value) and "soon" in str(err.value)


@pytest.mark.parametrize("name", ["history", "status", "list_backups", "proxy_status"])
def test_a_valid_ssh_persist_reaches_the_engine(name):
    # "60s" and 0 are accepted; the call then fails on the unreachable engine, naming it.
    for persist in ("60s", 0):
        with pytest.raises(slipway.SlipwayError) as err:
            CALLS[name](host=NOWHERE, ssh_persist=persist)
        assert not isinstance(err.value, TypeError)
        assert "ssh_persist" not in str(err.value)
