from .accounts import (
    MAX_CHAIN_DEPTH,
    Account,
    ActivityType,
    Contact,
    EngagementEvent,
    Owner,
    SeniorityMultiplier,
    normalise_domain,
)
from .choices import SENIORITY_RANK, Funnel, MQAStatus, Persona, Seniority
from .opportunities import Opportunity
from .ops import Heartbeat
from .rules import ActNowRule, BandwidthPeriod, MQAClause, MQARule, SizeBand
from .rulesets import ActivityWeight, RuleSet, RuleSetStatus, SeniorityWeight
from .tokens import ApiToken
from .transitions import MQATransition

__all__ = [
    "MAX_CHAIN_DEPTH",
    "SENIORITY_RANK",
    "Account",
    "ActNowRule",
    "ActivityType",
    "ActivityWeight",
    "ApiToken",
    "BandwidthPeriod",
    "Contact",
    "EngagementEvent",
    "Funnel",
    "Heartbeat",
    "MQAClause",
    "MQARule",
    "MQAStatus",
    "MQATransition",
    "Opportunity",
    "Owner",
    "Persona",
    "RuleSet",
    "RuleSetStatus",
    "Seniority",
    "SeniorityMultiplier",
    "SeniorityWeight",
    "SizeBand",
    "normalise_domain",
]
