"""Secrets never reach a report: tokens, passwords and AWS keys are masked wherever they appear."""

from __future__ import annotations

import pytest

from scaleperf.report.redact import MASK, scrub, scrub_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLWJ5dGVz"
AWS_KEY = "ASIAY34FZKBOKMUTVV7A"
AWS_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"Authorization: Bearer {JWT}", JWT, "Authorization: Bearer"),
        (f'{{"token": "{JWT}", "user": "user_1"}}', JWT, '"user": "user_1"'),
        (f"aws_access_key_id={AWS_KEY}", AWS_KEY, "aws_access_key_id="),
        (f"AWS_SECRET_ACCESS_KEY: {AWS_SECRET}", AWS_SECRET, "AWS_SECRET_ACCESS_KEY"),
        ("postgresql://helpdesk:pa55-w0rd@127.0.0.1:5432/helpdesk", "pa55-w0rd", "postgresql://helpdesk:"),
        ("login failed: password=hunter2 for user_7", "hunter2", "for user_7"),
        ('{"db_password": "s3cr3t!"}', "s3cr3t!", "db_password"),
        ("SECRET_KEY_BASE=0123456789abcdef", "0123456789abcdef", "SECRET_KEY_BASE"),
    ],
)
def test_secrets_are_masked_and_their_context_kept(text, secret, kept):
    out = scrub_text(text)
    assert secret not in out and MASK in out and kept in out


def test_ordinary_text_is_untouched():
    text = "polls.p95 < 250 ms over 25-60 s (802 requests); tokens last 15 minutes; /auth/login 200"
    assert scrub_text(text) == text


def test_secret_named_keys_are_masked_whatever_their_value():
    data = {"password": "short", "api_key": 12345, "nested": [{"session_token": "abc"}], "users": 3, "note": None}
    assert scrub(data) == {"password": MASK, "api_key": MASK, "nested": [{"session_token": MASK}], "users": 3, "note": None}
    assert scrub(("x", f"Bearer {JWT}")) == ("x", f"Bearer {MASK}")
