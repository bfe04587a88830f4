"""Flag categories (issue 16): a stable kind in words beside each patient's own detail."""

import importlib

import pytest
from django.apps import apps as installed_apps

from careway.core import audit
from careway.patients import services
from careway.patients.flags import category_of, detail_of
from careway.patients.models import PatientFlag

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        ("high-fall-risk", "High fall risk"),
        ("self-harm-risk", "Depression: self-harm answer"),
        ("food-insecurity", "Food insecurity"),
        ("moderate-depression", "Depression"),
        ("swallowing", "Swallowing difficulty"),
        ("high_fall_risk", "High fall risk"),
        ("weight_gain", "Weight gain"),
        ("some-new-kind", "Some new kind"),
    ],
)
def test_category_of_a_kind(kind, category):
    assert category_of(kind) == category


@pytest.mark.parametrize(
    ("label", "detail"),
    [
        ("High fall risk: numb feet", "numb feet"),
        ("High fall risk", ""),
        ("Walker for all walking", "Walker for all walking"),
        ("High fall risky business", "High fall risky business"),
        ("High fall risk - walker", "walker"),
        ("High fall risk since her stroke", "High fall risk since her stroke"),
    ],
)
def test_detail_leaves_out_the_category(label, detail):
    assert detail_of(label, "High fall risk") == detail


def test_a_raised_flag_gets_its_category_from_its_kind(world):
    flag = services.raise_flag(
        audit.Actor(user=world.cm),
        world.patient,
        {"kind": "high-fall-risk", "label": "High fall risk: right leg weakness"},
    )
    flag.refresh_from_db()
    assert (flag.category, flag.detail) == ("High fall risk", "right leg weakness")


def test_the_migration_derives_the_category_of_existing_flags(world):
    flag = services.raise_flag(
        audit.Actor(user=world.cm), world.patient, {"kind": "food-insecurity", "label": "x"}
    )
    PatientFlag.objects.filter(pk=flag.pk).update(category="")
    migration = importlib.import_module(
        "careway.patients.migrations.0008_flag_category_acknowledgement_task_note"
    )
    migration.derive_categories(installed_apps, None)
    flag.refresh_from_db()
    assert flag.category == "Food insecurity"
