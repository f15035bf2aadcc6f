"""Webhook signatures, Stripe-style: `Mqaflow-Signature: t=<unix time>,v1=<hex>` where
v1 = HMAC-SHA256(secret, "<t>.<raw body>"). Signing the timestamp lets a receiver refuse
replays of an old delivery (docs/integrations.md has the receiver's side)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Mqaflow-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
