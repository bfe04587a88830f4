"""A registry: what the domains add to the shared frame (permissions, navigation, chart sections,
caseload columns), each entry under a unique key, listed in its declared order.

Domains fill registries from their AppConfig.ready(), so an app's entries exist exactly when the
app is installed; nothing here knows which domains there are.
"""

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class AlreadyRegistered(Exception):
    """Two entries under one key: a second app would silently replace the first's."""


class Registry(Generic[T]):
    def __init__(self, kind: str, key: Callable[[T], str], order: Callable[[T], Any]):
        self.kind = kind
        self._key = key
        self._order = order
        self._entries: dict[str, T] = {}

    def register(self, *entries: T) -> None:
        for entry in entries:
            key = self._key(entry)
            known = self._entries.get(key)
            if known is not None and known != entry:
                raise AlreadyRegistered(f"A {self.kind} {key!r} is registered already: {known!r}")
            self._entries[key] = entry

    def get(self, key: str) -> T | None:
        return self._entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(sorted(self._entries.values(), key=self._order))
