"""What one audited API read costs inside one process, next to a request that does nothing.

Quicker to iterate on than `benchmarks/web.py` (no server, no load generator): it runs Django's
test client against the database in DATABASE_URL and reports, per request, the mean time and the
number of SQL statements for `GET /healthz` (the framework alone) and `GET /api/v1/patients/{id}`
(token, access check, audit append, response), and their ratio.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/careway_bench \
       .venv/bin/python benchmarks/api_cost.py [--requests 300]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mean_ms(client, path: str, headers: dict[str, str], requests: int) -> float:
    for _ in range(10):  # warm-up
        assert client.get(path, **headers).status_code == 200
    start = time.perf_counter()
    for _ in range(requests):
        client.get(path, **headers)
    return (time.perf_counter() - start) / requests * 1000


def statements(client, path: str, headers: dict[str, str]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path, **headers)
    return len(captured.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query: not what production pays
    import django

    django.setup()
    from django.test import Client

    from careway.core import audit, tokens
    from careway.patients.models import CareTeamMember

    member = CareTeamMember.objects.filter(user__isnull=False, active=True).first()
    raw, _ = tokens.create_token(
        audit.Actor.system(via="benchmark"), member.user, "api-cost", ["patients:read"], days=1
    )
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    read = f"/api/v1/patients/{member.patient_id}"
    bare_ms = mean_ms(client, "/healthz", {}, args.requests)
    read_ms = mean_ms(client, read, auth, args.requests)
    print(
        json.dumps(
            {
                "healthz_ms": round(bare_ms, 3),
                "api_read_ms": round(read_ms, 3),
                "api_read_statements": statements(client, read, auth),
                "api_to_bare_ratio": round(read_ms / bare_ms, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
