"""Vocabularies shared by the account and qualification models.

These are names, not business rules: what a seniority is worth, or which personas count,
lives in admin-edited rows (SeniorityMultiplier, MQAClause, ActNowRule).
"""

from django.db import models
from django.db.models import Case, IntegerField, Value, When


class Funnel(models.IntegerChoices):
    TARGET = 1, "Funnel 1 (target)"
    IN_PROFILE = 2, "Funnel 2 (in-profile)"
    OTHER = 3, "Funnel 3 (other)"


class Persona(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    IT = "it", "IT"
    FINANCE = "finance", "Finance"
    OPERATIONS = "operations", "Operations"
    EXECUTIVE = "executive", "Executive"
    OTHER = "other", "Other"


class Seniority(models.TextChoices):
    """Ordered from the most senior down; `at_or_above` relies on that order."""

    C_LEVEL = "c_level", "C-level"
    VP = "vp", "VP"
    DIRECTOR = "director", "Director"
    MANAGER = "manager", "Manager"
    INDIVIDUAL = "individual", "Individual contributor"

    @classmethod
    def at_or_above(cls, level: str) -> list[str]:
        values = list(cls.values)
        return values[: values.index(level) + 1]


# How senior a seniority is: 0 for the most senior, as `Seniority` declares them. The one
# map for the engine (its SQL and ORM measurements) and for the pages that list contacts.
SENIORITY_RANK: dict[str, int] = {value: rank for rank, value in enumerate(Seniority.values)}


def seniority_rank_expression(field: str = "seniority") -> Case:
    """SENIORITY_RANK as SQL, so queries sort and compare by rank rather than by the
    values' spelling; a blank or unknown seniority ranks below everyone."""
    whens = [When(**{field: value}, then=Value(rank)) for value, rank in SENIORITY_RANK.items()]
    return Case(*whens, default=Value(len(SENIORITY_RANK)), output_field=IntegerField())


class MQAStatus(models.TextChoices):
    NOT_QUALIFIED = "not_qualified", "Not qualified"
    MQA = "mqa", "MQA"
    EXCLUDED = "excluded", "Excluded"
