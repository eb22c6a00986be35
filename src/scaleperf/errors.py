"""The one exception type for mistakes a user can make and fix."""


class ScaleperfError(Exception):
    """A problem the user can fix; its message says what to do.

    The CLI and the pytest plugin print it as one line and exit non-zero, without a traceback.
    """
