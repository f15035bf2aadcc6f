"""make bench: measure the engine and the sweep on PostgreSQL at production-like scale.

Runs against its own database (`<DATABASE_URL db>_bench`, dropped and recreated), so it
never touches a development or test database. Scale with --accounts / --events / --plays.
Prints a table and rewrites the figures section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def bench_database_url(url: str) -> str:
    parts = urlparse(url)
    name = (parts.path.lstrip("/") or "mqaflow") + "_bench"
    return urlunparse(parts._replace(path=f"/{name}"))


def recreate(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        name = parts.path.lstrip("/")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args(argv)

    url = bench_database_url(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    )
    if not url.startswith("postgres"):
        print("make bench needs PostgreSQL (DATABASE_URL)", file=sys.stderr)
        return 2
    recreate(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from benchmarks import mqa, plays

    rows: list[tuple[str, str, str]] = []
    rows += mqa.run(accounts=args.accounts, events=args.events)
    show(rows)  # the engine's figures survive a failure in the plays part
    rows += plays.run(plays=args.plays)
    show(rows)
    if not args.no_docs:
        write_docs(rows, args)
    return 0


def show(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'metric':<{width}}  {'value':>14}  target", flush=True)
    for metric, value, target in rows:
        print(f"{metric:<{width}}  {value:>14}  {target}", flush=True)


def write_docs(rows, args) -> None:
    doc = ROOT / "docs" / "performance.md"
    text = doc.read_text() if doc.exists() else "# Performance\n"
    marker = "<!-- bench figures -->"
    head = text.split(marker)[0].rstrip() + "\n\n"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = [
        marker,
        f"Last `make bench`: {args.accounts:,} accounts, {args.events:,} events over 180 days, "
        f"{args.plays:,} plays; {machine}, PostgreSQL on the same machine.",
        "",
        "| metric | value | target |",
        "| --- | ---: | --- |",
        *[f"| {m} | {v} | {t} |" for m, v, t in rows],
        "",
    ]
    doc.write_text(head + "\n".join(table))


if __name__ == "__main__":
    raise SystemExit(main())
