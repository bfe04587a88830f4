"""The one way tests read ../shared/data: skip on a user's machine without it, fail under CI."""

import pytest

from tests.conftest import require_shared_data


def test_missing_data_skips_on_a_users_machine(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-folder is absent"):
        require_shared_data("no-such-folder")


def test_missing_data_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        require_shared_data("no-such-folder")
