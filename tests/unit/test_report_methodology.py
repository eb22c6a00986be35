"""The methodology is read from the locustfile and the profile, not typed twice."""

from __future__ import annotations

import textwrap

from scaleperf.report import methodology


def test_the_suite_locustfile_as_locust_sees_it():
    facts = methodology.read_locustfile()
    assert facts.source == "locust"
    by_name = {p.name: p for p in facts.personas}
    assert set(by_name) == {"IdleUser", "NewUser", "ActiveUser", "ExpertUser"}
    active = by_name["ActiveUser"]
    assert active.weight > 0 and "Why this weight" in active.doc
    assert active.settings["persona"]["think_s"] == [2.0, 6.0]
    assert set(active.settings["persona"]["actions"]) <= set(active.action_docs)
    assert "HelpdeskUser" not in by_name  # abstract base classes are not personas


def test_a_plain_locustfile_with_between_and_task_weights(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text(
        textwrap.dedent(
            '''
            """A shop."""
            from locust import HttpUser, between, task

            class Browser(HttpUser):
                """Looks around. Why: most visitors only browse."""
                weight = 3
                wait_time = between(1, 5)

                @task(4)
                def home(self):
                    """Open the home page."""

                @task
                def search(self):
                    pass
            '''
        )
    )
    facts = methodology.read_locustfile(path)
    (browser,) = facts.personas
    assert (browser.name, browser.weight, browser.wait) == ("Browser", 3, "between(1, 5) s")
    assert browser.tasks == {"home": 4, "search": 1} and browser.task_docs["home"] == "Open the home page."
    # Without Locust the same file is read as source: docstrings, literal weights and task weights.
    raw = methodology._from_ast(path)
    assert raw["users"][0]["weight"] == 3 and raw["users"][0]["tasks"] == {"home": 4, "search": 1}
    assert raw["users"][0]["wait"] == "between(1, 5)"


def test_load_growth_in_words():
    _, _, phases = methodology.profile_phases("full")
    words = methodology.describe_phases(phases)
    assert words[0] == "ramp: one new user per second up to 100 users"
    assert words[1].startswith("plateau: 100 users held for 5 minutes")
    assert words[2].startswith("steps: from 120 to")
    assert methodology.profile_phases("no-such-profile") == ("no-such-profile", "", [])
    _, _, phases = methodology.profile_phases("quick")
    search = methodology.describe_phases(phases)[-1]
    assert search.startswith("saturation search: steps from 150 users, each 1.45 times the last"), search
    assert "within 10%" in search and "{" not in search
