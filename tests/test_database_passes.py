"""CI runs the suite on SQLite and again on PostgreSQL; what gives the same result on any
database (marked `database_independent`, and the routing library) runs in the SQLite pass only,
and everything else runs in both (tests/conftest.py)."""

from pathlib import Path

import pytest

from tests import conftest

TESTS = Path(conftest.__file__).parent


class Item:
    """What the hook reads of a collected test."""

    def __init__(self, path: Path, *marks: str):
        self.path = path
        self.marks = list(marks)

    def get_closest_marker(self, name):
        return next((m for m in self.marks if m == name), None)

    def add_marker(self, mark):
        self.marks.append(mark if isinstance(mark, str) else mark.name)

    @property
    def skipped(self):
        return "skip" in self.marks


def collected():
    return {
        "page look": Item(TESTS / "browser" / "test_caseload_layout.py", "database_independent"),
        "routing": Item(TESTS / "routing" / "test_search.py"),
        "browser flow": Item(TESTS / "browser" / "test_assessment_flow.py", "browser"),
        "services": Item(TESTS / "patients" / "test_services.py"),
    }


@pytest.mark.parametrize(
    ("database_url", "skipped"),
    [
        ("", set()),
        ("sqlite:////tmp/careway.sqlite3", set()),
        ("postgres://postgres@127.0.0.1:5432/test", {"page look", "routing"}),
    ],
)
def test_only_what_no_database_can_change_is_left_to_the_sqlite_pass(
    monkeypatch, database_url, skipped
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    items = collected()
    conftest.pytest_collection_modifyitems(None, list(items.values()))
    assert {name for name, item in items.items() if item.skipped} == skipped
    assert items["routing"].get_closest_marker("database_independent")
