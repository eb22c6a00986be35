"""JWT access tokens as the course's JwtService makes them: HS256, ``user_id`` and a 15-minute ``exp``.

The clock is injectable: ``now`` is passed in by the caller (the app's clock, optionally shifted per
request by the test-only clock-offset header), never read here.
"""

from __future__ import annotations

import jwt

TOKEN_LIFETIME_S = 15 * 60  # JwtService's expiry
ALGORITHM = "HS256"


class TokenError(Exception):
    """The token is missing, malformed, badly signed or expired; the message says which."""


def issue(user_id: int, secret: str, now: float) -> str:
    return jwt.encode({"user_id": user_id, "exp": int(now) + TOKEN_LIFETIME_S}, secret, algorithm=ALGORITHM)


def verify(token: str, secret: str, now: float) -> int:
    """The token's user id, or TokenError."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"verify_exp": False, "require": ["exp"]})
    except jwt.PyJWTError as exc:
        raise TokenError("Invalid token") from exc
    exp, user_id = claims.get("exp"), claims.get("user_id")
    if not isinstance(exp, int | float) or not isinstance(user_id, int) or isinstance(user_id, bool):
        raise TokenError("Invalid token")
    if now >= exp:
        raise TokenError("Token has expired")
    return user_id
