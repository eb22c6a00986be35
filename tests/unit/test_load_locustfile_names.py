"""A locustfile named like an installed package (locustfiles/helpdesk.py and the helpdesk backend) must not
take the package's place in the process: the local miniature reads the package's schema after a run."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from scaleperf.load.engine import user_classes

ROOT = Path(__file__).resolve().parents[2]


def test_helpdesk_locustfile_leaves_the_helpdesk_package_in_place():
    import helpdesk

    users = user_classes(ROOT / "locustfiles" / "helpdesk.py")
    assert {"IdleUser", "NewUser", "ActiveUser", "ExpertUser"} <= set(users)
    assert sys.modules["helpdesk"] is helpdesk
    assert resources.files("helpdesk").joinpath("schema.sql").is_file()


def test_a_locustfile_with_a_unique_name_stays_importable(tmp_path):
    lf = tmp_path / "unique_pingers_for_names_test.py"
    lf.write_text(
        "from locust import FastHttpUser, task\n\nclass Pinger(FastHttpUser):\n    @task\n    def ping(self):\n        pass\n"
    )
    assert set(user_classes(lf)) == {"Pinger"}
    assert sys.modules["unique_pingers_for_names_test"].__file__ == str(lf.resolve())
