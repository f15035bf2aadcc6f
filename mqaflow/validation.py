"""Checks on raw text shared by the API, the events ingest and the CSV import.

PostgreSQL cannot store a NUL character nor encode an unpaired UTF-16 surrogate (JSON's
"\\ud800" decodes to one): such a value must be refused with a 400 naming its field before
it reaches a query, where it would be a 500. A domain is checked for being a host name at
all, so "a/b.example" or "acme" is an error the client sees, not a row nobody can match.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")

# A host name of two or more labels (letters, digits, hyphens; international names in their
# xn-- form), optionally with the trailing root dot. Case is normalised later.
DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_PATTERN = rf"^{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+\.?$"
DOMAIN_MAX_LENGTH = 253
_DOMAIN = re.compile(DOMAIN_PATTERN)


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or compared in PostgreSQL, or None if it can."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    if _SURROGATE.search(value):
        return "Must not contain unpaired surrogate characters."
    return None


def domain_problem(value: str) -> str | None:
    """Why `value` (already stripped) is not a domain such as acme.com, or None."""
    if len(value) > DOMAIN_MAX_LENGTH:
        return f"At most {DOMAIN_MAX_LENGTH} characters."
    if not _DOMAIN.fullmatch(value):
        return "Enter a domain such as acme.com (international names in their xn-- form)."
    return None
