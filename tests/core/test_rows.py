"""Rows of a hand-written SELECT become the same model instances the ORM makes (core/rows.py).

The per-request statements (API token with user and roles, the one-patient access check) build
their instances this way; a converter missed on one database would hand the access code a string
where it expects a UUID, a datetime or a boolean, so each model they build is compared field by
field with the ORM's, on whichever database the suite runs.
"""

import pytest
from django.db import connection

from careway.core import audit, rows, tokens
from careway.core.models import ApiToken, AuditEvent, Branch, Membership, User
from careway.patients.models import CareTeamMember, Patient

pytestmark = pytest.mark.django_db


def fetch_built(model, pk):
    q = connection.ops.quote_name
    sql = (
        f"SELECT {rows.select_list(model, 'x')} FROM {q(model._meta.db_table)} x "  # noqa: S608
        f"WHERE x.{q(model._meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [rows.db_value(model, model._meta.pk.name, pk)])
        return rows.build(model, cursor.fetchone())


def field_values(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.mark.parametrize(
    "model", [Patient, Branch, User, Membership, ApiToken, CareTeamMember, AuditEvent]
)
def test_a_built_instance_equals_the_orms_field_by_field(world, model):
    tokens.create_token(audit.Actor.system(), world.cm, "rows", ["patients:read"], 5)
    orm = model.objects.order_by("pk").last()
    built = fetch_built(model, orm.pk)
    assert type(built) is model
    assert field_values(built) == field_values(orm)
    # Types matter as much as values: a UUID kept as text would never equal a patient's id.
    for name, value in field_values(orm).items():
        assert type(getattr(built, name)) is type(value), name
    assert built._state.adding is False and built._state.db == "default"


def test_the_empty_side_of_a_left_join_builds_nothing():
    assert rows.build(Membership, [None] * rows.width(Membership)) is None
    row = ["before", *([None] * rows.width(Branch))]
    assert rows.build(Branch, row, start=1) is None
