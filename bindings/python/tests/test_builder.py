"""slipway.build / slipway.oci_build against the real engine and skopeo."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

import slipway

BUILD_FILE = """
source_date_epoch = 1700000000
[config]
entrypoint = ["/bin/busybox", "cat", "/etc/greeting"]
env = { GREETING = "hi" }
[[layers]]
[[layers.files]]
source = "bin/busybox"
target = "/bin/busybox"
[[layers.files]]
content = "hello\\n"
target = "/etc/greeting"
"""


def _inputs(root):
    os.makedirs(root / "bin")
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    (root / "image.toml").write_text(BUILD_FILE)
    return root / "image.toml"


def test_oci_build_is_reproducible_and_written_to_a_layout(tmp_path):
    a = _inputs(tmp_path / "a")
    b = _inputs(tmp_path / "b")
    os.utime(b.parent / "bin" / "busybox", (1, 1))
    out = tmp_path / "layout"
    first = slipway.oci_build(str(a), output=f"oci:{out}:v1")
    second = slipway.oci_build(str(b))
    assert first["digest"] == second["digest"]
    assert first["digest"].startswith("sha256:")
    assert first["tags"] and first["tags"][0].endswith(":v1")
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci:{out}:v1"], check=True, capture_output=True).stdout)
    assert info["Digest"] == first["digest"]
    assert "GREETING=hi" in info["Env"]


def test_bad_build_file_raises_invalid_input(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[config]\nentrypiont = ["/x"]\n')
    with pytest.raises(slipway.InvalidInput, match="entrypiont"):
        slipway.oci_build(str(f))


def test_dockerfile_build_labels_and_failing_step(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    (tmp_path / "f").write_text("x")
    tag = f"slipway-t-builder-{uuid.uuid4().hex[:8]}:py"
    try:
        out = slipway.build(str(tmp_path), tags=[tag], labels={"team": "web"}, build_args={"UNUSED": "1"})
        inspect = json.loads(subprocess.run(["docker", "image", "inspect", tag], check=True, capture_output=True).stdout)
        assert inspect[0]["Id"] == out["image_id"] == out["digest"]
        assert inspect[0]["Config"]["Labels"]["team"] == "web"
        assert out["tags"] == [f"docker.io/library/{tag}"]
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY missing-file /x\n")
    with pytest.raises(slipway.BuildError, match=r"Step \d+/\d+ : COPY missing-file"):
        slipway.build(str(tmp_path))
