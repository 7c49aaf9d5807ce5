"""The foundation room's Python face: ImageRef, tags_for, check_policy, the exception hierarchy
and the shared runtime helper (GIL released while Rust waits)."""

import datetime
import signal
import threading

import pytest

import slipway

HEX = "0123456789abcdef" * 4


def test_package_reexports_native_module():
    assert slipway.__version__
    for name in slipway.__all__:
        assert hasattr(slipway, name), name
    assert slipway.ImageRef is slipway._native.ImageRef


def test_image_ref_attributes_and_str():
    r = slipway.ImageRef.parse("redis")
    assert str(r) == "docker.io/library/redis:latest"
    assert r.canonical == str(r)
    assert (r.registry, r.repository, r.tag, r.digest) == ("docker.io", "library/redis", "latest", None)
    assert r.familiar() == "redis:latest"
    assert r.name == "docker.io/library/redis"
    assert not r.is_pinned
    assert repr(r) == "ImageRef('docker.io/library/redis:latest')"


def test_image_ref_registry_tag_and_digest():
    r = slipway.ImageRef.parse(f"127.0.0.1:5000/team/app:v1@sha256:{HEX}")
    assert r.registry == "127.0.0.1:5000"
    assert r.repository == "team/app"
    assert r.tag == "v1"
    assert r.digest == f"sha256:{HEX}"
    assert r.is_pinned
    assert r.familiar() == str(r)


def test_image_ref_equality_and_hash():
    a = slipway.ImageRef.parse("index.docker.io/library/redis")
    b = slipway.ImageRef.parse("redis:latest")
    assert a == b
    assert len({a, b}) == 1


@pytest.mark.parametrize("bad", ["", "Redis", "Foo/bar", "app:-x", "app@sha256:abc", HEX, "[::1]:5000/app"])
def test_invalid_references_raise_invalid_reference(bad):
    with pytest.raises(slipway.InvalidReference) as info:
        slipway.ImageRef.parse(bad)
    assert isinstance(info.value, slipway.InvalidInput)
    assert isinstance(info.value, slipway.SlipwayError)


def test_exception_hierarchy():
    assert issubclass(slipway.InvalidReference, slipway.InvalidInput)
    assert issubclass(slipway.ComposeError, slipway.InvalidInput)
    assert issubclass(slipway.InvalidInput, slipway.SlipwayError)
    for cls in (
        slipway.PolicyViolation,
        slipway.RegistryError,
        slipway.BuildError,
        slipway.HealthError,
        slipway.DeployError,
        slipway.RouteError,
        slipway.BackupError,
    ):
        assert issubclass(cls, slipway.SlipwayError)
        assert not issubclass(cls, slipway.InvalidInput)
    assert issubclass(slipway.SlipwayError, Exception)


def test_tags_for_pre_release():
    tags = slipway.tags_for("pre-release", sha="3F2C1A9E8B", date="20260131")
    assert tags == ["sha-3f2c1a9", "test-20260131-1", "staging-latest"]
    tags = slipway.tags_for(
        "pre-release",
        sha="3f2c1a9",
        date=datetime.date(2026, 1, 31),
        existing=["test-20260131-4", "test-20260131-12", "test-20260130-99", "latest"],
    )
    assert tags[1] == "test-20260131-13"


def test_tags_for_pre_release_defaults_to_today_utc():
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
    assert slipway.tags_for("pre-release", sha="abcdef0")[1] == f"test-{today}-1"


def test_tags_for_release():
    assert slipway.tags_for("release", version="1.2.3") == ["v1.2.3"]
    assert slipway.tags_for("release", version="v1.2.3", latest=True) == ["v1.2.3", "latest"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(event="release", version="1.2"),
        dict(event="release", version="1.2.3+build"),
        dict(event="release"),
        dict(event="release", version="1.2.3", sha="abcdef0"),
        dict(event="pre-release"),
        dict(event="pre-release", sha="nothex!"),
        dict(event="pre-release", sha="abcdef0", date="2026-01-31"),
        dict(event="pre-release", sha="abcdef0", latest=True),
        dict(event="nightly", sha="abcdef0"),
    ],
)
def test_tags_for_bad_input(kwargs):
    with pytest.raises(slipway.InvalidInput):
        slipway.tags_for(**kwargs)


def test_check_policy_accepts():
    assert slipway.check_policy("production", ["app:v1.2.3", f"app:latest@sha256:{HEX}"]) is None
    assert slipway.check_policy("staging", ["app:latest", slipway.ImageRef.parse("app:sha-abcdef0")]) is None


def test_check_policy_refuses_with_reasons():
    with pytest.raises(slipway.PolicyViolation) as info:
        slipway.check_policy("production", ["app:latest", "app:v1.0.0", "app:test-20260131-2"])
    reasons = info.value.reasons
    assert len(reasons) == 2
    assert "no-latest" in reasons[0] and "pin vX.Y.Z or a digest" in reasons[0]
    assert "no-test-builds" in reasons[1]
    assert "no-latest" in str(info.value)
    assert isinstance(info.value, slipway.SlipwayError)


def test_check_policy_bad_input():
    with pytest.raises(slipway.InvalidInput) as info:
        slipway.check_policy("nowhere", ["app:v1.0.0"])
    assert not isinstance(info.value, slipway.InvalidReference)
    with pytest.raises(slipway.InvalidReference):
        slipway.check_policy("production", ["Bad/Name"])


def test_check_policy_with_user_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(
        '{"environments": {"qa": {"fix": "pin a candidate", "rules": ['
        '{"name": "candidates", "match": {"tag-glob": "v*-rc.*"}, "action": "accept"}]}}}'
    )
    slipway.check_policy("qa", ["app:v2.0.0-rc.1"], policy_file=path)
    with pytest.raises(slipway.PolicyViolation) as info:
        slipway.check_policy("qa", ["app:v2.0.0"], policy_file=str(path))
    assert "pin a candidate" in info.value.reasons[0]
    path.write_text("{not json")
    with pytest.raises(slipway.InvalidInput):
        slipway.check_policy("qa", ["app:v2.0.0"], policy_file=path)


def test_runtime_releases_the_gil():
    """While Rust sleeps on the shared runtime, another Python thread must keep running."""
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.01)

    t = threading.Thread(target=count)
    t.start()
    before = len(ticks)
    slipway._native._sleep_released(0.3)
    during = len(ticks) - before
    stop.set()
    t.join()
    assert during > 3, f"the other thread ran {during} times while Rust waited"


def test_runtime_interruptible_wait_honours_signals():
    class Interrupted(Exception):
        pass

    def on_alarm(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(Interrupted):
            slipway._native._sleep_released(30, interruptible=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
