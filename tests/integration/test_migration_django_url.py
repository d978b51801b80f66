"""``sessionary migrate --from django-db URL``: Django's rows read straight from the database.

The rows are written by Django's own ``db`` ``SessionStore`` (signed with the old
``SECRET_KEY``) on PostgreSQL and on SQLite, in a subprocess configured for that database
(tests/integration/django_db_writer.py); the command reads them by URL with the old secret
given through a variable or a file, never on the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from sessionary import EventName, LegacyMigration, SessionManager
from sessionary.cli.commands import cli
from sessionary.config import SessionConfig
from sessionary.integrations.django.legacy_sql import DjangoSqlSource
from sessionary.stores import RedisStore
from sessionary.testing import CapturingObserver

ROOT = Path(__file__).resolve().parents[2]
OLD_SECRET = "django-insecure-the-old-secret-key-of-the-url-project-0123456789"
SECRET = "Zk8wQ3rT6yUi9oPa2sDf5gHj7kLz0xCv4bNm1qWe"
COUNT = 5
UNSIGNED = "django session: signed with another secret or corrupt"


def write_rows(url: str, count: int = COUNT) -> dict[str, Any]:
    """``count`` live sessions and one expired, saved by Django's own ``db`` backend."""
    env = {**os.environ, "OLD_DJANGO_SECRET": OLD_SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.django_db_writer", url, str(count)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old-project.db'}"
    return str(request.getfixturevalue("postgres_url"))


def migrate(*args: str, **env: str) -> Any:
    return CliRunner().invoke(cli, ["migrate", *args], env={"SESSION_SECRET": SECRET, **env})


def session_keys(admin: redis.Redis, key_prefix: str) -> int:
    return sum(1 for k in admin.scan_iter(match=f"{key_prefix}:s:*") if not k.endswith(b":lk"))


def test_rows_copy_by_database_url_and_are_what_the_user_gets(
    database_url: str, redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    rows = write_rows(database_url)
    args = ["--from", "django-db", database_url, "--to", redis_url, "--prefix", key_prefix]
    args += ["--legacy-secret-env", "OLD_DJANGO_SECRET", "--user-key", "_auth_user_id", "--json"]

    dry = migrate(*args, "--dry-run", OLD_DJANGO_SECRET=OLD_SECRET)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["migrated"] == COUNT
    assert session_keys(redis_admin, key_prefix) == 0  # a dry run writes nothing

    first = migrate(*args, OLD_DJANGO_SECRET=OLD_SECRET)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    # the expired row is not even read: WHERE expire_date > now
    assert (report["seen"], report["migrated"], report["failed"]) == (COUNT, COUNT, {})
    again = json.loads(migrate(*args, OLD_DJANGO_SECRET=OLD_SECRET).stdout)
    assert (again["migrated"], again["skipped"]) == (0, {"already migrated": COUNT})
    assert session_keys(redis_admin, key_prefix) == COUNT

    # the user comes back with the old cookie: served the copy (same derived ID), row deleted
    source = DjangoSqlSource(database_url, [OLD_SECRET])
    migration = LegacyMigration(
        source,
        until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
        user_id=lambda data: data.get("_auth_user_id"),
    )
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    observer = CapturingObserver()
    manager = SessionManager(
        store, SessionConfig(secret_keys=[SECRET]), observer=observer, legacy=migration
    )
    cycle = manager.open([f"sessionid={rows['keys'][3]}"])
    assert (dict(cycle.session), cycle.session.user_id) == (
        {"_auth_user_id": "3", "cart": [3, "€"]},
        "3",
    )
    update = manager.commit(cycle)
    assert update.set_cookie is not None
    assert 0 < int(update.set_cookie.split("Max-Age=")[1].split(";")[0]) <= 600
    assert [e.detail["outcome"] for e in observer.of(EventName.MIGRATED)] == ["joined"]
    assert source.read(rows["keys"][3]) is None  # the old row is gone
    assert source.read(rows["expired"]) is None
    assert session_keys(redis_admin, key_prefix) == COUNT
    source.close()
    store.close()


def test_the_old_secret_comes_from_a_file_with_its_fallbacks(
    tmp_path: Path, redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    write_rows(url)
    args = ["--from", "django-db", url, "--to", redis_url, "--prefix", key_prefix, "--json"]
    wrong = migrate(*args, "--legacy-secret-env", "OTHER", OTHER="not-the-old-secret-at-all")
    assert json.loads(wrong.stdout)["failed"] == {UNSIGNED: COUNT}
    keys = tmp_path / "old-keys"
    keys.write_text(f"the-current-secret-key-of-the-project\n{OLD_SECRET}\n")
    done = migrate(*args, "--legacy-secret-file", str(keys))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["migrated"] == COUNT  # the fallback verifies them
    assert session_keys(redis_admin, key_prefix) == COUNT


def test_a_database_url_without_the_old_secret_or_with_a_bad_table_is_refused(
    tmp_path: Path, redis_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    no_secret = migrate("--from", "django-db", url, "--to", redis_url)
    assert no_secret.exit_code == 2
    assert "--legacy-secret-env" in no_secret.output
    args = ["--from", "django-db", url, "--to", redis_url, "--legacy-secret-env", "OLD"]
    bad_table = migrate(*args, "--table", "x; DROP TABLE y", OLD=OLD_SECRET)
    assert bad_table.exit_code == 2
    assert "schema.name" in bad_table.output
    missing = migrate(*args, OLD=OLD_SECRET)  # no such file: not created, reported
    assert missing.exit_code == 1
    assert "no SQLite database" in missing.output
    assert not (tmp_path / "old.db").exists()
