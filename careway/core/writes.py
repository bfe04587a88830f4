"""The mark of a service function: the only code allowed to write patient data.

`@service` runs the function in one transaction (so the write and its audit event commit
together) and records, for the duration of the call, that a service is writing. The test suite
installs a guard (tests/conftest.py) that fails any save or delete of patient data made outside
such a function, which is how "nothing writes patient data outside a service" is enforced.
"""

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from django.db import transaction

P = ParamSpec("P")
R = TypeVar("R")

_depth: ContextVar[int] = ContextVar("careway_service_depth", default=0)


def service(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def run_as_service(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _depth.set(_depth.get() + 1)
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        finally:
            _depth.reset(token)

    return run_as_service


def in_service() -> bool:
    return _depth.get() > 0
