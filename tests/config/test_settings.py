"""The configuration package on a fresh checkout: importing settings writes nothing, the
filesystem broker (`make run`) keeps everything it writes under var/, and the settings
read from the environment are honoured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
# What points the settings elsewhere than their `make run` defaults.
DEFAULTED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "DJANGO_SETTINGS_MODULE",
)


def fresh_checkout(tmp_path: Path) -> Path:
    """A copy of the config package alone: its BASE_DIR and working dir hold nothing else."""
    base = tmp_path / "checkout"
    shutil.copytree(ROOT / "config", base / "config", ignore=shutil.ignore_patterns("__pycache__"))
    return base


def files_under(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*")}


def run_python(base: Path, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`script` with the copy's `config` first on the path and the `make run` defaults."""
    environment = {k: v for k, v in os.environ.items() if k not in DEFAULTED}
    environment |= {"DEBUG": "1", "PYTHONDONTWRITEBYTECODE": "1", **env}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=base,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_importing_the_settings_creates_no_folder(tmp_path):
    base = fresh_checkout(tmp_path)
    before = files_under(base)
    script = (
        "import json, config, config.settings.production as p, config.settings.test as t\n"
        "print(json.dumps([config.__file__, p.CELERY_BROKER_URL,"
        " p.CELERY_BROKER_TRANSPORT_OPTIONS, p.DATABASES['default']['NAME']]))"
    )
    done = run_python(base, script)
    origin, broker, options, database = json.loads(done.stdout.splitlines()[-1])
    assert Path(origin).is_relative_to(base)  # the copy was imported, not the checkout
    assert broker == "filesystem://"
    folders = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    assert all(Path(options[k]).is_relative_to(base / "var" / "broker") for k in folders)
    assert Path(database).is_relative_to(base / "var")
    assert files_under(base) == before


def test_the_celery_app_creates_the_filesystem_brokers_folders_under_var(tmp_path):
    base = fresh_checkout(tmp_path)
    before = files_under(base)
    script = "from config import celery_app\ncelery_app.conf.broker_url"
    run_python(base, script, DJANGO_SETTINGS_MODULE="config.settings.production")
    assert files_under(base) - before == {
        "var",
        "var/broker",
        "var/broker/queue",
        "var/broker/processed",
        "var/broker/control",
    }


WORKER_OPTIONS = ("--concurrency", "1", "--loglevel", "INFO")  # as Procfile.dev, lighter


@pytest.mark.integration
def test_a_worker_on_the_filesystem_broker_writes_only_under_var(tmp_path):
    """`make run`'s worker: its queues and kombu's exchange tables (`control_folder`) land
    in var/broker/, not in the working directory (it used to leave control/ there)."""
    base = fresh_checkout(tmp_path)
    before = files_under(base)
    environment = {k: v for k, v in os.environ.items() if k not in DEFAULTED}
    environment |= {"DEBUG": "1", "PYTHONDONTWRITEBYTECODE": "1", "LOG_LEVEL": "INFO"}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    log = tmp_path / "worker.log"  # outside the checkout
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", *WORKER_OPTIONS],
            cwd=base,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_for(lambda: "ready." in log.read_text()), log.read_text()[-3000:]
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    written = files_under(base) - before
    assert written, log.read_text()[-3000:]
    assert all(path == "var" or path.startswith("var/broker") for path in written), written
    assert any(path.startswith("var/broker/control/") for path in written), written


def test_health_stale_after_is_read_from_the_environment(tmp_path):
    base = fresh_checkout(tmp_path)
    script = (
        "import json, config.settings.production as p\n"
        "print(json.dumps({k: v.total_seconds() for k, v in p.MQAFLOW_HEALTH_STALE_AFTER.items()}))"
    )
    default = json.loads(run_python(base, script).stdout.splitlines()[-1])
    assert default == {"escalations_sweep": 300, "recompute_pending": 300, "recompute_all": 2700}
    changed = run_python(
        base, script, MQAFLOW_HEALTH_STALE_AFTER="recompute_all=3600,escalations_sweep=90"
    )
    assert json.loads(changed.stdout.splitlines()[-1]) == {
        "escalations_sweep": 90,
        "recompute_pending": 300,
        "recompute_all": 3600,
    }


@pytest.mark.django_db
def test_health_honours_the_stale_after_setting(client, settings):
    from django.utils import timezone

    from mqaflow.heartbeat import heartbeat

    ran = timezone.now() - timedelta(minutes=10)
    for name in ("escalations_sweep", "recompute_pending", "recompute_all"):
        with heartbeat(name, now=ran):
            pass
    assert client.get("/health/").json()["checks"]["escalations_sweep"].startswith("last succeeded")
    settings.MQAFLOW_HEALTH_STALE_AFTER = {
        **settings.MQAFLOW_HEALTH_STALE_AFTER,
        "escalations_sweep": timedelta(minutes=15),
        "recompute_pending": timedelta(minutes=15),
    }
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
