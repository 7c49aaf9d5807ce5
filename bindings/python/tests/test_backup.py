"""The backup room's Python face: listing and retention on a real backup directory, and the
errors a caller gets for a missing backup or a project with no database."""

import hashlib
import json
import uuid

import pytest

import slipway


def write_backup(directory, day: int) -> str:
    stem = f"shop_db_norelease_202611{day:02d}T030000.000Z"
    data = directory / f"{stem}.dump"
    data.write_bytes(f"dump {day}".encode())
    manifest = {
        "kind": "postgres",
        "project": "shop",
        "service": "db",
        "volume": None,
        "release": None,
        "created": f"2026-11-{day:02d}T03:00:00Z",
        "file": data.name,
        "sha256": "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest(),
        "size": data.stat().st_size,
        "database": "shop",
        "user": "shop",
        "server_version": "15.18",
        "image": None,
        "duration_ms": 5,
        "tables": {"public.items": 3},
    }
    (directory / f"{stem}.json").write_text(json.dumps(manifest))
    return str(data)


def test_list_and_prune_keep_the_newest(tmp_path):
    files = [write_backup(tmp_path, day) for day in (1, 2, 3)]
    listed = slipway.list_backups(dir=tmp_path)
    assert [b["file"] for b in listed] == [f.rsplit("/", 1)[1] for f in files]
    assert listed[0]["tables"] == {"public.items": 3}
    removed = slipway.prune_backups(keep=2, dir=tmp_path)
    assert removed == [files[0]]
    assert len(slipway.list_backups(dir=tmp_path)) == 2


def test_restoring_a_missing_backup_is_a_backup_error_naming_it(tmp_path):
    with pytest.raises(slipway.BackupError) as err:
        slipway.restore(tmp_path / "nope.json")
    assert "nope.json" in str(err.value)
    assert "manifest" in str(err.value)


def test_a_project_without_a_database_is_a_backup_error(tmp_path):
    project = f"slipway-t-backup-{uuid.uuid4().hex[:8]}"
    with pytest.raises(slipway.SlipwayError) as err:
        slipway.backup(project, dir=tmp_path)
    assert project in str(err.value)
    assert list(tmp_path.iterdir()) == []


NOWHERE = "unix:///nonexistent/slipway-test.sock"


def test_backups_are_listed_on_the_host_by_default_and_in_a_directory_with_dir(tmp_path):
    # The default is the engine's host, as the CLI's `backup list` without --dir: an engine
    # that cannot be reached is an error, while a directory needs no engine at all.
    write_backup(tmp_path, 1)
    with pytest.raises(slipway.SlipwayError) as err:
        slipway.list_backups(host=NOWHERE)
    assert "nonexistent" in str(err.value)
    listed = slipway.list_backups(dir=tmp_path, host=NOWHERE)
    assert [b["manifest_path"] for b in listed] == [str(tmp_path / "shop_db_norelease_20261101T030000.000Z.json")]
    assert "host" not in listed[0]
    with pytest.raises(slipway.SlipwayError):
        slipway.prune_backups(keep=0, host=NOWHERE)


def test_prune_in_a_directory_keeps_other_projects(tmp_path):
    files = [write_backup(tmp_path, day) for day in (1, 2)]
    assert slipway.prune_backups(keep=0, dir=tmp_path, project="other") == []
    assert slipway.prune_backups(keep=1, dir=tmp_path, project="shop") == [files[0]]


def test_a_directory_and_a_download_together_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(slipway.BackupError) as err:
        slipway.backup("shop", dir=tmp_path / "here", download=tmp_path / "dl", host=NOWHERE)
    assert "conflict" in str(err.value)
    assert not (tmp_path / "here").exists() and not (tmp_path / "dl").exists()


def test_the_keywords_are_the_cli_flags():
    # `on_host=` is gone: the host is the default, as on the CLI.
    with pytest.raises(TypeError):
        slipway.backup("shop", on_host=True)
    with pytest.raises(TypeError):
        slipway.list_backups(on_host=True)


def test_ssh_persist_takes_a_duration_or_seconds(tmp_path):
    # Read by the one duration parser, as --ssh-persist; a local directory connects nowhere.
    assert slipway.list_backups(dir=tmp_path, ssh_persist="60s") == []
    assert slipway.list_backups(dir=tmp_path, ssh_persist=30) == []
    with pytest.raises(slipway.InvalidInput) as err:
        slipway.list_backups(dir=tmp_path, ssh_persist="soon")
    assert "ssh_persist" in str(err.value)
