"""import_csv owners|accounts|contacts|events|opportunities FILE [--upsert] — the API's
validation, for files.

The whole file is imported in one transaction and every line is checked: events are all
validated before any is stored; owners, accounts and contacts are written line by line as
they pass validation, and a bad line does not stop the others being checked. If any is bad the
transaction is rolled back, so a file with one bad line stores nothing, and the report
names every bad line and field.
Without --upsert a row that already exists is an error; with it, it is updated (matched on
external_id when given, else on email / domain / account + email), as the bulk API does.
Opportunities are always matched on their `id` (the CRM's): a repeat updates, as the API does.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from mqaflow import directory
from mqaflow.api.serializers import AccountSerializer, ContactSerializer
from mqaflow.directory.opportunities import FIELDS as OPPORTUNITY_FIELDS
from mqaflow.directory.opportunities import REQUIRED as OPPORTUNITY_REQUIRED
from mqaflow.ingest import FIELDS as EVENT_FIELDS
from mqaflow.ingest import BatchInvalid, events_ingest

COLUMNS = {
    "owners": ["email", "name", "title", "manager", "delegate", "is_active", "external_id"],
    "accounts": [f for f in AccountSerializer.Meta.fields if f != "mqa"],
    "contacts": [*ContactSerializer.Meta.fields, "external_id"],
    "events": list(EVENT_FIELDS),
    "opportunities": list(OPPORTUNITY_FIELDS),
}
REQUIRED = {
    "owners": {"email"},
    "accounts": {"domain", "name", "funnel"},
    "contacts": {"account", "email"},
    "events": {"id", "account", "activity", "occurred_at"},
    "opportunities": set(OPPORTUNITY_REQUIRED),
}
MAX_ERRORS_SHOWN = 50


def _clean(row: dict) -> dict:
    """Empty cells mean 'not given'; CSV has no null."""
    return {k: v for k, v in row.items() if k is not None and v not in ("", None)}


class Command(BaseCommand):
    help = (
        "Import owners, accounts, contacts, events or opportunities from a CSV file "
        "(all or nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(COLUMNS))
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--upsert",
            action="store_true",
            help="update rows that already exist instead of refusing the file (owners, "
            "accounts, contacts)",
        )

    def handle(self, *args, kind: str, file: Path, upsert: bool = False, **options):
        if not file.is_file():
            raise CommandError(f"file: {file} does not exist.")
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = set(reader.fieldnames or [])
            missing = REQUIRED[kind] - header
            if missing:
                raise CommandError(f"line 1: missing column(s): {', '.join(sorted(missing))}.")
            unknown = header - set(COLUMNS[kind])
            if unknown:
                raise CommandError(f"line 1: unknown column(s): {', '.join(sorted(unknown))}.")
            rows = [(reader.line_num, _clean(row)) for row in reader]
        show = options.get("verbosity", 1) > 0 and len(rows) > 1000
        with tqdm(total=len(rows), unit="row", disable=not show, file=self.stderr) as bar:
            if kind == "events":
                summary = self._events(rows, bar)
            elif kind == "opportunities":
                summary = self._opportunities(rows, bar)
            elif upsert or kind == "owners":
                summary = self._upsert(kind, rows, bar, create_only=not upsert)
            else:
                summary = self._records(kind, rows, bar)
        self.stdout.write(self.style.SUCCESS(f"Imported {file.name}: {summary}."))

    def _fail(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = len(errors) - len(shown)
        report = "\n".join(shown) + (f"\n… and {more} more" if more > 0 else "")
        raise CommandError(f"Nothing imported: {len(errors)} error(s).\n{report}")

    @staticmethod
    def _format(line: int, errors: dict) -> list[str]:
        out: list[str] = []
        for field, messages in errors.items():
            messages = messages if isinstance(messages, list) else [messages]
            out.extend(f"line {line}: {field}: {m}" for m in messages)
        return out

    def _events(self, rows, bar) -> str:
        items = []
        for _, row in rows:
            if "minutes" in row:
                row["minutes"] = row["minutes"].strip()
            items.append(row)
        try:
            with transaction.atomic():
                result = events_ingest(items=items)
        except BatchInvalid as exc:
            lines = [rows[index][0] for index in range(len(rows))]
            errors = []
            for index, item_errors in exc.errors.items():
                errors.extend(self._format(lines[index], item_errors))
            self._fail(errors)
        bar.update(len(rows))
        return f"{result.created} event(s) created, {result.duplicates} duplicate(s) skipped"

    def _opportunities(self, rows, bar) -> str:
        items = []
        for _, row in rows:
            for name in ("amount", "currency", "won"):
                if name in row:
                    row[name] = row[name].strip()
            items.append(row)
        try:
            result = directory.opportunities_upsert(items=items, limit=None)
        except directory.UpsertInvalid as exc:
            self._fail_rows(rows, exc)
        bar.update(len(rows))
        return (
            f"{result.created} opportunities created, "
            f"{result.updated + result.unchanged} updated ({result.unchanged} unchanged)"
        )

    def _fail_rows(self, rows, exc: directory.UpsertInvalid) -> None:
        """Stop, naming each bad row by its line in the file and its fields."""
        errors = []
        for index, item_errors in exc.errors.items():
            line = rows[index][0] if index < len(rows) else 1
            errors.extend(self._format(line, item_errors))
        self._fail(errors)

    def _upsert(self, kind: str, rows, bar, *, create_only: bool) -> str:
        upsert = {
            "owners": directory.owners_upsert,
            "accounts": directory.accounts_upsert,
            "contacts": directory.contacts_upsert,
        }[kind]
        try:
            result = upsert(items=[row for _, row in rows], create_only=create_only, limit=None)
        except directory.UpsertInvalid as exc:
            self._fail_rows(rows, exc)
        bar.update(len(rows))
        if create_only:
            return f"{result.created} {kind} created"
        return f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"

    def _records(self, kind: str, rows, bar) -> str:
        serializer_class = AccountSerializer if kind == "accounts" else ContactSerializer
        errors: list[str] = []
        created = 0
        with transaction.atomic():
            seen: set[str] = set()
            for line, row in rows:
                key = (row.get("domain") or row.get("email") or "").lower()
                natural = f"{row.get('account', '')}|{key}"
                if natural in seen:
                    errors.append(
                        f"line {line}: {'domain' if kind == 'accounts' else 'email'}: "
                        "appears twice in this file."
                    )
                    continue
                seen.add(natural)
                if "excluded" in row:
                    row["excluded"] = row["excluded"].strip().lower() in {"1", "true", "yes"}
                serializer = serializer_class(data=row)
                if not serializer.is_valid():
                    errors.extend(self._format(line, serializer.errors))
                    bar.update(1)
                    continue
                try:
                    with transaction.atomic():
                        serializer.save()
                        created += 1
                except ValidationError as exc:
                    errors.extend(self._format(line, exc.message_dict))
                bar.update(1)
            if errors:
                transaction.set_rollback(True)
        if errors:
            self._fail(errors)
        return f"{created} {kind} created"
