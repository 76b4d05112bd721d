"""Input hygiene outside the request models: control characters in path, query and header
parameters (and overlong path parameters), and the JSON bodies that routes parse themselves
(channel intake).

Request bodies are checked by their models (domain.models.CleanText names the bad field). The
parameters are checked here, once for every route, by an app-wide dependency, so that a route
with a plain `order_id: str` can never hand a NUL to PostgreSQL (which refuses it: a 500 before)
or an ESC to a log. Wired in `create_app`::

    FastAPI(..., dependencies=[Depends(refuse_control_characters)])

It runs before the route's own dependencies, authentication included: a malformed request is
refused as malformed whoever sends it (the answer names the parameter and tells nothing else).
"""

import json
import re
from typing import Any

from fastapi import Request

from api.problems import invalid_request
from domain.models import Problem, forbidden_character

# Header values are bytes that Starlette reads as latin-1, so UTF-8 text in a header shows as
# latin-1 letters and C1 codes (an em dash is "\xe2\x80\x94"): only C0 and DEL are refused there.
# Tab is allowed, as HTTP allows it in a field value.
_FORBIDDEN_IN_HEADERS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


# Path parameters are ids (orders, SKUs, returns, complaints, carriers), none longer than 128
# characters. A longer one names nothing, and as part of a Temporal workflow id it is refused by
# Temporal (INVALID_ARGUMENT past its id limit of 1,000 bytes: a 500 before), so it is refused
# here. Counted in UTF-8 bytes, as Temporal counts: 256 emoji would be 1,024.
MAX_PATH_PARAMETER_BYTES = 256


def _message(problem: str) -> str:
    return f"must not contain control characters: {problem}"


def parameter_problems(request: Request) -> list[Problem]:
    """One Problem per path, query or header parameter holding a forbidden character."""
    problems: list[Problem] = []
    for name, value in request.path_params.items():
        if not isinstance(value, str):
            continue
        problem = forbidden_character(value)
        if problem is not None:
            problems.append(Problem(field=name, message=_message(problem)))
        elif len(value.encode()) > MAX_PATH_PARAMETER_BYTES:
            problems.append(Problem(field=name, message=f"is longer than {MAX_PATH_PARAMETER_BYTES} bytes (UTF-8)"))
    for name, value in request.query_params.multi_items():
        problem = forbidden_character(name) or forbidden_character(value)
        if problem is not None:
            problems.append(Problem(field=name, message=_message(problem)))
    for name, value in request.headers.items():
        found = _FORBIDDEN_IN_HEADERS.search(value)
        if found is not None:
            problems.append(Problem(field=name, message=_message(f"U+{ord(found.group()):04X} at position {found.start()}")))
    return problems


async def refuse_control_characters(request: Request) -> None:
    """The app-wide dependency: 422 naming every parameter that holds a control character, and
    every path parameter too long to be an id."""
    problems = parameter_problems(request)
    if problems:
        raise invalid_request(problems)


def parse_json_body(raw: bytes) -> Any:
    """A body a route parses itself, as JSON: 422 naming `body` when it is not UTF-8, not JSON, or
    nested beyond what the parser can follow (Python's parser raises RecursionError, not
    ValueError, at about a thousand levels: a 500 before)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_request([Problem(field="body", message="is not UTF-8 text")]) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise invalid_request([Problem(field="body", message="is nested too deeply")]) from None
    except ValueError as error:
        raise invalid_request([Problem(field="body", message=f"is not JSON: {error}")]) from None
