"""Reading request bodies (JSON or form-encoded, at most 1 MiB) and validating their fields; writing JSON answers."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from helpdesk.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024  # larger request bodies are refused with 413
JSON_TYPE = "application/json"


def respond(status: int, body: object) -> Response:
    """A JSON answer from a Python value."""
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=JSON_TYPE)


def respond_raw(status: int, text: str) -> Response:
    """A JSON answer already encoded (PostgreSQL builds most response bodies)."""
    return Response(text, status_code=status, media_type=JSON_TYPE)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "Request body is larger than 1 MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "Request body is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _form(text: str) -> dict:
    """Rails-style form parameters: ``a=1``, ``user[a]=1`` (nested once) and ``links[]=x`` (lists)."""
    out: dict = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key.endswith("[]"):
            out.setdefault(key[:-2], [])
            if isinstance(out[key[:-2]], list):
                out[key[:-2]].append(value)
        elif key.endswith("]") and "[" in key:
            outer, inner = key[:-1].split("[", 1)
            nested = out.setdefault(outer, {})
            if isinstance(nested, dict):
                nested[inner] = value
        else:
            out[key] = value
    return out


async def read_payload(request: Request) -> dict:
    """The request's parameters as a dict; 400 for a body that is neither a JSON object nor a form."""
    body = await read_body(request)
    if not body.strip():
        return {}
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_form = ctype == "application/x-www-form-urlencoded"
    looks_json = body.lstrip()[:1] in (b"{", b"[")
    if is_form and not looks_json:
        try:
            return _form(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ApiError(400, "Form body is not valid UTF-8") from exc
    if not (ctype.endswith("json") or looks_json or not ctype):
        raise ApiError(415, "Send a JSON or form-encoded body")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "Malformed JSON in request body") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def storable(value: str) -> bool:
    """Whether PostgreSQL can store this text (no NUL characters, no lone surrogates)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_field(
    data: dict, key: str, label: str, errors: list[str], *, required: bool = True, min_len: int = 0, max_len: int = 10_000
) -> str | None:
    """Validate one string field, appending Rails-style full messages to ``errors``; the value or None."""
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip() and required):
        if required:
            errors.append(f"{label} can't be blank")
        return None
    if not isinstance(value, str):
        errors.append(f"{label} must be a string")
        return None
    if not storable(value):
        errors.append(f"{label} contains characters that cannot be stored")
        return None
    if len(value) < min_len:
        errors.append(f"{label} is too short (minimum is {min_len} characters)")
        return None
    if len(value) > max_len:
        errors.append(f"{label} is too long (maximum is {max_len} characters)")
        return None
    return value


def path_id(value: str) -> int | None:
    """A numeric id from the path, or None when it cannot name a row (the caller answers 404)."""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)
