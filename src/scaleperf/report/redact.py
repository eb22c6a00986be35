"""No secrets in any report: tokens, passwords and AWS keys are masked in every text the reports write.

Two layers: :func:`scrub_text` masks secret-looking substrings (JWTs, bearer tokens, AWS access key ids
and secret keys, ``password=...`` pairs, passwords in URLs) wherever they appear; :func:`scrub` walks
JSON-like data and also masks the whole value of any key whose name says it holds a secret.
"""

from __future__ import annotations

import re

MASK = "[redacted]"
# Keys whose values are secrets whatever they look like.
SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|credential|private[_-]?key|session)", re.I)
# (pattern, replacement): each replacement keeps what names the secret and masks the secret itself.
_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    # JSON Web Tokens: three base64url parts, the first two starting with '{"' encoded.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # Authorization headers.
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{12,}"), rf"\1 {MASK}"),
    # AWS access key ids (long-term AKIA, temporary ASIA, and the other documented prefixes).
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), MASK),
    # AWS secret access keys and session tokens named as such.
    (
        re.compile(
            r"(?i)(aws_?secret_?access_?key|aws_?session_?token|secretaccesskey|sessiontoken)(\W{1,4})[A-Za-z0-9/+=]{16,}"
        ),
        rf"\1\2{MASK}",
    ),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"://([^:/@\s]+):([^@/\s]+)@"), rf"://\1:{MASK}@"),
    # key=value / key: value / "key": "value" pairs whose key names a secret.
    (
        re.compile(
            r"""(?i)(["']?\b[\w-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|credential)[\w-]*["']?\s*[=:]\s*)(["']?)(?!\[redacted\])[^\s"',;&}]+"""
        ),
        rf"\1\2{MASK}",
    ),
)


def scrub_text(text: str) -> str:
    """``text`` with every secret-looking substring masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub(value: object) -> object:
    """JSON-like ``value`` with secrets masked: whole values under secret-named keys, substrings elsewhere."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and SECRET_KEY.search(k) and v not in (None, "") else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v) for v in value) if isinstance(value, list) else tuple(scrub(v) for v in value)
    return value
