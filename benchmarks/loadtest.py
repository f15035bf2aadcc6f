"""make loadtest: 1,000,000 events through the real HTTP API with 8 concurrent clients,
while a Celery worker recomputes and beat runs the sweeps. Bounded in requests and time;
loopback only. Reports throughput, latency percentiles, errors, lost events and the
worker's queue depth over time, and writes them to docs/reliability.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument(
        "--duplicate-every",
        type=int,
        default=50,
        help="resend every Nth batch (idempotency under load)",
    )
    parser.add_argument("--time-limit", type=int, default=1200, help="seconds")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)

    from benchmarks.run import bench_database_url, recreate

    url = bench_database_url(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    ).replace("_bench", "_load")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    recreate(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": "loadtest-only-secret-key-0123456789abcdefghij",
        "SECURE_SSL_REDIRECT": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "LOG_LEVEL": "WARNING",
        "API_THROTTLE_USER": "100000/min",
        "EMAIL_URL": "consolemail://",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    token, domains = _seed(args.accounts)
    import redis

    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                "3",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "WARNING",
                "--pidfile",
                str(Path(tempfile.mkdtemp()) / "beat.pid"),
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        _wait_for_server(args.port)
        result = _load(args, token, domains, broker)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    from mqaflow.models import EngagementEvent

    stored = EngagementEvent.objects.count()
    result["stored"] = stored
    result["lost"] = result["sent"] - result["duplicates"] - stored
    _report(result, args)
    return 0 if result["errors"] == 0 and result["lost"] == 0 else 1


def _seed(accounts: int):
    from mqaflow.models import Account, Owner
    from mqaflow.tokens import token_issue
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    owner = Owner.objects.create(user=user, email=user.email, name="Load ADR")
    Account.objects.bulk_create(
        [
            Account(
                name=f"Load {n}",
                domain=f"load{n}.example",
                funnel=1 + n % 3,
                employees=100 + n,
                owner=owner,
            )
            for n in range(accounts)
        ]
    )
    _, key = token_issue(user=user, name="loadtest")
    return key, [f"load{n}.example" for n in range(accounts)]


def _wait_for_server(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the web server did not start")


def _load(args, token, domains, broker) -> dict:
    batches = args.events // args.batch
    plan = list(range(batches))
    plan += [b for b in range(0, batches, args.duplicate_every)]  # resent batches
    lock = threading.Lock()
    latencies, errors, created, duplicates = [], [], [0], [0]
    depth: list[tuple[float, int]] = []
    started = time.monotonic()
    deadline = started + args.time_limit
    base = datetime.now(UTC)
    kinds = ["web_visit", "content_download", "webinar_attended", "event_visit", "web_visit"]

    def body(b: int) -> bytes:
        events = [
            {
                "id": f"load-{b}-{i}",
                "account": domains[(b * args.batch + i) % len(domains)],
                "activity": kinds[i % 5],
                "occurred_at": (base - timedelta(minutes=(b * 7 + i) % 100_000)).isoformat(),
            }
            for i in range(args.batch)
        ]
        return json.dumps(events).encode()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                if not plan:
                    return
                b = plan.pop(0)
            payload = body(b)
            t0 = time.monotonic()
            try:
                conn.request(
                    "POST",
                    "/api/v1/events/",
                    payload,
                    {"Content-Type": "application/json", "Authorization": f"Token {token}"},
                )
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 201
            except OSError as exc:
                ok, data = False, str(exc).encode()
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
            with lock:
                latencies.append(time.monotonic() - t0)
                if ok:
                    answer = json.loads(data)
                    created[0] += answer["created"]
                    duplicates[0] += answer["duplicates"]
                else:
                    errors.append(data[:200])

    def sample_depth() -> None:
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            depth.append((time.monotonic() - started, broker.llen("celery")))
            time.sleep(1)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    sampler = threading.Thread(target=sample_depth)
    sampler.start()
    for t in threads:
        t.join()
    sampler.join()
    elapsed = time.monotonic() - started
    sent = (len(latencies) - len(errors)) * args.batch
    lat = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "elapsed": elapsed,
        "sent": sent,
        "created": created[0],
        "duplicates": duplicates[0],
        "throughput": sent / elapsed,
        "p50": statistics.median(lat),
        "p95": lat[int(len(lat) * 0.95) - 1],
        "p99": lat[int(len(lat) * 0.99) - 1],
        "max_depth": max((d for _, d in depth), default=0),
        "depth": depth[:: max(1, len(depth) // 12)],
        "unfinished": len(plan),
    }


def _report(r: dict, args) -> None:
    lines = [
        f"- {args.events:,} events in batches of {args.batch:,} from {args.clients} clients "
        f"(+ every {args.duplicate_every}th batch resent), gunicorn ×3, one Celery worker, beat.",
        f"- requests: {r['requests']:,}; errors: {r['errors']}; elapsed {r['elapsed']:.0f} s; "
        f"throughput {r['throughput']:,.0f} events/s",
        f"- latency per 5,000-event request: p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, "
        f"p99 {r['p99']:.2f} s",
        f"- created {r['created']:,}, duplicates {r['duplicates']:,}, stored {r['stored']:,}, "
        f"lost {r['lost']}",
        "- worker queue depth (s → messages): "
        + ", ".join(f"{t:.0f}→{d}" for t, d in r["depth"])
        + f"; max {r['max_depth']}",
    ]
    if r["unfinished"]:
        lines.append(f"- stopped by the time limit with {r['unfinished']} batches unsent")
    print("\n".join(lines))
    if args.no_docs:
        return
    doc = ROOT / "docs" / "reliability.md"
    text = doc.read_text()
    marker = "<!-- load figures -->"
    head, _, tail = text.partition(marker)
    tail = tail.split("<!-- /load figures -->", 1)[-1]
    doc.write_text(head + marker + "\n" + "\n".join(lines) + "\n<!-- /load figures -->" + tail)


if __name__ == "__main__":
    raise SystemExit(main())
