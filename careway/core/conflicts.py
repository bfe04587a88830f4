"""The one "somebody else saved first" error of Careway.

A record carries a version; a save that names an older version than the stored one writes nothing
and raises VersionConflict with the stored record, so the person can see what changed and apply
their change to it. Pages show both versions, the JSON API answers 412 (the version was a
precondition: If-Match, or an update's version) or 409 (a save that names its version in the
body), FHIR answers 412; every answer says the current version.
"""

from typing import Any


class VersionConflict(Exception):
    """The record changed since the caller read it; nothing was written."""

    def __init__(self, current: Any, expected_version: int):
        self.current = current
        self.expected_version = expected_version
        super().__init__(
            f"This record was changed by someone else (now version {current.version}, "
            f"you edited version {expected_version})"
        )

    @property
    def current_version(self) -> int:
        return self.current.version
