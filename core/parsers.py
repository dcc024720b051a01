"""Request-body parsers of the API: JSON only, with a nesting limit.

The API takes `application/json` bodies and nothing else (no form or multipart bodies: no endpoint uploads a file),
so the schema documents one content type and a client generated from it sends what the server reads. Any other
content type answers 415 Unsupported Media Type.
"""

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No body of this API nests deeper than a GeoJSON polygon in an object (5 levels); 32 leaves room for any future
# structure, and stays far below the depth at which Python's own recursion limit is reached.
MAX_DEPTH = 32


def nesting_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` has lists or objects nested more than `limit` levels deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONOnlyParser(JSONParser):
    """DRF's JSON parser, answering 400 (not 500) to a body nested too deeply.

    Python's decoder raises `RecursionError` at about 1,000 levels; bodies just under that would fail later, when a
    serializer or the database adapter re-encodes them, so the depth is capped well before.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(self._too_deep_message()) from None
        if nesting_depth_exceeds(data, MAX_DEPTH):
            raise ParseError(self._too_deep_message())
        return data

    @staticmethod
    def _too_deep_message() -> str:
        return _("JSON parse error - the body nests lists or objects more than %(max)s levels deep.") % {
            "max": MAX_DEPTH
        }
