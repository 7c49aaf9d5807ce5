"""slipway.Registry against a real Distribution registry (Debian's docker-registry) and the local
Docker Engine: push from the engine, digest, tags, inspect, copy, prune, remove, layouts, load."""

import io
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
import uuid

import pytest

import slipway

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("docker") is None,
    reason="needs docker-registry and docker",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def registry():
    tmp = tempfile.mkdtemp(prefix="slipway-t-registry-py-")
    port = _free_port()
    config = os.path.join(tmp, "config.yml")
    with open(config, "w") as f:
        f.write(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\n"
            "http:\n  addr: 127.0.0.1:%d\n" % (tmp, port)
        )
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=log)
    host = "127.0.0.1:%d" % port
    for _ in range(100):
        try:
            urllib.request.urlopen("http://%s/v2/" % host, timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    yield host
    proc.kill()
    proc.wait()
    log.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture()
def engine_image():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = os.urandom(10000)
        info = tarfile.TarInfo("data.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    name = "slipway-t-registry-%s:v1" % uuid.uuid4().hex[:8]
    subprocess.run(["docker", "import", "-", name], input=buf.getvalue(), check=True, capture_output=True)
    made = [name]
    yield name, made
    for image in made:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


def test_registry_operations_round_trip(registry, engine_image):
    name, made = engine_image
    reg = slipway.Registry()
    src = "%s/py/app:staging-latest" % registry
    digest = reg.push(name, src)
    assert digest.startswith("sha256:")
    assert reg.digest(src) == digest
    assert reg.copy(src, "%s/py/app:v1.0.0" % registry) == digest
    assert reg.tags("%s/py/app" % registry) == ["staging-latest", "v1.0.0"]
    info = reg.inspect(src)
    assert info["digest"] == digest
    assert info["config"]["os"] == "linux"
    assert len(info["layers"]) == 1
    out = reg.prune("%s/py/app" % registry, keep=0, match="*")
    assert out["applied"] is False and out["deleted"] == []  # both tags are protected
    assert reg.remove("%s/py/app:v1.0.0" % registry) == digest
    assert reg.tags("%s/py/app" % registry) == []


def test_layout_push_and_load_into_the_engine(engine_image):
    name, made = engine_image
    reg = slipway.Registry()
    with tempfile.TemporaryDirectory() as d:
        layout = "oci:%s:v1" % d
        digest = reg.push(name, layout)
        assert reg.digest(layout) == digest
        assert reg.tags("oci:%s" % d) == ["v1"]
        loaded = "slipway-t-registry-%s:loaded" % uuid.uuid4().hex[:8]
        made.append(loaded)
        assert reg.load(layout, loaded) == digest
        ids = [
            subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", i], capture_output=True, text=True).stdout
            for i in (name, loaded)
        ]
        assert ids[0] == ids[1] and ids[0].startswith("sha256:")


def test_errors_are_typed():
    reg = slipway.Registry()
    with pytest.raises(slipway.InvalidInput):
        reg.digest("Not/Valid:Ref:x")
    port = _free_port()
    with pytest.raises(slipway.RegistryError) as e:
        reg.digest("127.0.0.1:%d/nothing:v1" % port)
    assert "127.0.0.1:%d" % port in str(e.value)
    with pytest.raises(slipway.InvalidInput):
        slipway.Registry(username="only-user")
