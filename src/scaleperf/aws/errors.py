"""boto3's errors as the project's: a message that says what failed and what to do."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError

from scaleperf.errors import ScaleperfError

MISSING_CREDENTIALS = (
    "no AWS credentials found; configure them as for the AWS CLI (`aws configure`, `aws sso login`, or the "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables), then try again. Nothing was created."
)


@contextlib.contextmanager
def user_errors(doing: str) -> Iterator[None]:
    """Turn boto3's errors into a ScaleperfError that says what failed."""
    try:
        yield
    except NoCredentialsError as exc:
        raise ScaleperfError(MISSING_CREDENTIALS) from exc
    except WaiterError as exc:
        raise ScaleperfError(f"{doing}: gave up waiting ({exc}); remove what is left with `scaleperf aws sweep`") from exc
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ScaleperfError(f"{doing}: AWS said {err.get('Code', '?')}: {err.get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise ScaleperfError(f"{doing}: {exc}") from exc


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
