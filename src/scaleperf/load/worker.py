"""A Locust worker process with the raw-sample recorder loaded, whatever the locustfile imports.

``python -m scaleperf.load.worker -f LOCUSTFILE --worker --master-host HOST --master-port PORT`` is
``locust`` with the same arguments, after importing :mod:`scaleperf.load.recorder`. Local workers (started by
the engine), EC2 workers and hand-started ones all run this way (plain ``locust -f locustfiles/helpdesk.py --worker``
works too for that locustfile, which imports the recorder itself, but not for a locustfile that does not).
"""

from __future__ import annotations

import sys


def main() -> None:
    from locust.main import main as locust_main

    import scaleperf.load.recorder  # noqa: F401  (registers the hooks before the locustfile loads)

    sys.argv = ["locust", *sys.argv[1:]]
    locust_main()


if __name__ == "__main__":
    main()
