"""Starting real Celery workers and beats against the test database, for process tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class Process(subprocess.Popen):
    """A child process whose output is read as it comes: a test can wait for a log line,
    and a pipe nobody reads cannot fill up and stall the child."""

    def __init__(self, args: list[str], env: dict) -> None:
        super().__init__(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.stdout is not None
        for line in self.stdout:
            self.lines.append(line)

    def output(self) -> str:
        self._reader.join(30)
        return "".join(self.lines)


def process_env(smtp_port: int | None = None, **extra) -> dict:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.process_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "INFO",
        **extra,
    }
    if smtp_port:
        env |= {"MQAFLOW_TEST_REAL_EMAIL": "1", "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
    return env


def worker(env, name):
    """A solo-pool worker; its database connections carry `name` as application_name
    (pg_stat_activity), so a test can see what this worker's backend waits for."""
    return Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        {**env, "PGAPPNAME": name},
    )


def beat(env, name, tmp_path):
    return Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--max-interval",
            "1",
            "--pidfile",
            str(tmp_path / f"{name}.pid"),
        ],
        {**env, "PGAPPNAME": name},
    )


def stop(*procs):
    """Terminate the processes (kill what does not stop in 30 s); their output, joined."""
    out = []
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.append(proc.output() if isinstance(proc, Process) else "")
    return "\n".join(out)


def wait_for(predicate, timeout=60, interval=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def runs_after(procs, task: str, started_after: int = 2) -> bool:
    """Wait until at least `started_after` runs of `task` that started after this call have
    succeeded, as the processes' logs say. Each process runs at most one task at a time (a
    solo worker), so at most one run per process was under way when this was called."""

    def succeeded() -> int:
        return sum(
            f"{task}[" in line and "succeeded in" in line for p in procs for line in list(p.lines)
        )

    start = succeeded()
    return wait_for(lambda: succeeded() >= start + len(procs) + started_after, timeout=60)


def lock_waiter(application_name: str, holder_pid: int) -> bool:
    """Whether a backend of `application_name` is waiting for a lock `holder_pid` holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            [application_name, holder_pid],
        )
        return cursor.fetchone() is not None
