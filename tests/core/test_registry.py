"""The registries domains fill from ready(): a second, different entry under a key is refused
(an app must never silently replace another's), and entries list in their declared order."""

from dataclasses import dataclass

import pytest

from careway.core.registry import AlreadyRegistered, Registry


@dataclass(frozen=True)
class Entry:
    key: str
    order: int


def test_entries_list_in_their_order_and_the_same_entry_may_come_twice():
    registry = Registry("entry", lambda e: e.key, lambda e: e.order)
    registry.register(Entry("b", 20), Entry("a", 10))
    registry.register(Entry("a", 10))
    assert [e.key for e in registry] == ["a", "b"]
    assert "a" in registry and registry.get("c") is None


def test_a_different_entry_under_a_taken_key_is_refused_naming_it():
    registry = Registry("chart section", lambda e: e.key, lambda e: e.order)
    registry.register(Entry("vitals", 50))
    with pytest.raises(AlreadyRegistered, match="A chart section 'vitals' is registered already"):
        registry.register(Entry("vitals", 60))
    assert registry.get("vitals") == Entry("vitals", 50)
