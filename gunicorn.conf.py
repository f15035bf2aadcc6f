"""gunicorn settings read from the working directory (the Procfile runs from the repo root).

A request line longer than gunicorn's limit is refused by gunicorn itself, in HTML; raising
its limit to the largest it allows lets the API answer over-long URLs (over 4,000
characters) with its own JSON 414 instead (mqaflow.api.errors).
"""

limit_request_line = 8190
