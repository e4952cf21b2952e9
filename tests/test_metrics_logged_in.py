"""A logged-in browser can read /metrics on SQLite.

Every SQLite transaction takes the write lock (BEGIN IMMEDIATE), and loading the
logged-in user opens one in the request's session. The metric callbacks must read
through that same session rather than a second connection, which would wait out
the busy timeout behind its own request.
"""
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import Factory, login


@pytest.fixture
def app_config():
    return {"SQLITE_BUSY_TIMEOUT_MS": 3000}


def test_logged_in_scrape_answers_at_once_with_true_values(app):
    with app.app_context():
        make = Factory()
        make.admin("boss")
        make.book("Dune", copies=3)
    client = app.test_client()
    assert login(client, "boss").status_code == 200

    started = time.monotonic()
    response = client.get("/metrics")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < 2.0, f"scrape took {elapsed:.1f}s: it waited on its own request's lock"
    values = {sample.name: sample.value
              for family in text_string_to_metric_families(response.get_data(as_text=True))
              for sample in family.samples}
    assert values["library_available_books_total"] == 3
    assert values["library_user_logins_total"] == 1
