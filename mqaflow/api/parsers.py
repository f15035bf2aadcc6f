"""JSON with a size limit: DRF reads the request stream itself, so Django's
DATA_UPLOAD_MAX_MEMORY_SIZE (checked only on `request.body`) would not protect the API."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise PayloadTooLarge(
                f"Request body is larger than {limit} bytes; send smaller batches."
            )
        try:
            return super().parse(io.BytesIO(data), media_type, parser_context)
        except RecursionError as exc:  # "[[[[…]]]]" deeper than the JSON decoder can go
            raise ParseError("JSON parse error - nested too deeply.") from exc
