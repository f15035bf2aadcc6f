"""One way to POST JSON to another system (webhook receivers, Slack and Teams incoming
webhooks): a timeout on every call, at most 1 KB of the answer read, and redirects taken as
the answer they are (a 3xx), never followed: a receiver that moved must be re-registered,
and a redirect cannot send the body somewhere nobody configured."""

from __future__ import annotations

import urllib.error
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def json_post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str]:
    """POST `body` and return (HTTP status or None when nothing answered, error text)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(1024)
            return response.status, ""
    except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx, 5xx
        return exc.code, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return None, f"{type(exc.reason).__name__}: {exc.reason}"
    except (TimeoutError, OSError) as exc:  # a read timeout, a reset connection
        return None, f"{type(exc).__name__}: {exc}"
