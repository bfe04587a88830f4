"""Builders for test data: named agencies, users for every role and patients on care teams.

Every test that needs people or patients starts from `World`, so the three access tests
(member can, read-only cannot write, outsider gets 404) read the same everywhere.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count

from django.utils import timezone

from careway.core import audit
from careway.core.models import Branch, Membership, Organization, User
from careway.core.roles import Discipline, Role
from careway.patients import services
from careway.patients.models import CareTeamMember, EpisodeOfCare, Patient

PASSWORD = "correct-horse-battery-staple-42"
_serial = count(1)


def make_org(name: str) -> tuple[Organization, Branch]:
    n = next(_serial)
    org = Organization.objects.create(name=name, slug=f"org-{n}")
    branch = Branch.objects.create(organization=org, name=f"{name} main office")
    return org, branch


def make_user(
    org: Organization, branch: Branch | None, role: str, username: str, discipline: str = ""
) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        organization=org,
        first_name=username.split("_")[0].title(),
        last_name="Tester",
    )
    Membership.objects.create(
        user=user, organization=org, branch=branch, role=role, discipline=discipline
    )
    return user


def make_patient(branch: Branch, case_manager: User, **overrides) -> Patient:
    n = next(_serial)
    data = {
        "mrn": f"MRN{n:06d}",
        "given_name": overrides.pop("given_name", f"Pat{n}"),
        "family_name": overrides.pop("family_name", "Example"),
        "birth_date": date(1940, 3, 14),
        "sex": "female",
        **overrides,
    }
    episode = {
        "status": EpisodeOfCare.Status.ACTIVE,
        "start_of_care": timezone.localdate() - timedelta(days=12),
        "referral_source": "General Hospital",
    }
    return services.create_patient(
        audit.Actor(user=case_manager),
        branch,
        data,
        episode=episode,
        primary_case_manager=case_manager,
    )


def join_team(patient: Patient, user: User, role: str) -> CareTeamMember:
    episode = patient.episodes.first()
    return services.add_care_team_member(audit.Actor(user=None), episode, role=role, user=user)


@dataclass
class World:
    """Two agencies. In agency A: one user per role, a patient on cm's team, and colleagues
    who are off that team. In agency B: an outsider case manager with a patient of their own."""

    org: Organization
    branch: Branch
    admin: User
    supervisor: User
    cm: User
    cm_other: User
    rn: User
    scheduler: User
    auditor: User
    patient: Patient
    other_org: Organization
    other_branch: Branch
    outsider: User
    outsider_patient: Patient
    extra: dict = field(default_factory=dict)

    def users(self) -> dict[str, User]:
        return {
            name: getattr(self, name)
            for name in (
                "admin",
                "supervisor",
                "cm",
                "cm_other",
                "rn",
                "scheduler",
                "auditor",
                "outsider",
            )
        }


def build_world() -> World:
    org, branch = make_org("Riverbend Home Health")
    other_org, other_branch = make_org("Cedar Valley Home Care")
    cm = make_user(org, branch, Role.CASE_MANAGER, "cm_rivera", Discipline.RN)
    w = World(
        org=org,
        branch=branch,
        admin=make_user(org, None, Role.AGENCY_ADMIN, "admin_ada"),
        supervisor=make_user(org, branch, Role.SUPERVISOR, "sup_sato", Discipline.RN),
        cm=cm,
        cm_other=make_user(org, branch, Role.CASE_MANAGER, "cm_okafor", Discipline.MSW),
        rn=make_user(org, branch, Role.CLINICIAN, "rn_nguyen", Discipline.RN),
        scheduler=make_user(org, branch, Role.SCHEDULER, "sched_silva"),
        auditor=make_user(org, None, Role.AUDITOR, "aud_adams"),
        patient=make_patient(branch, cm, given_name="Margaret", family_name="Hale"),
        other_org=other_org,
        other_branch=other_branch,
        outsider=(outsider := make_user(other_org, other_branch, Role.CASE_MANAGER, "cm_bauer")),
        outsider_patient=make_patient(
            other_branch, outsider, given_name="Otto", family_name="Berg"
        ),
    )
    join_team(w.patient, w.rn, CareTeamMember.TeamRole.NURSE)
    join_team(w.patient, w.scheduler, CareTeamMember.TeamRole.SCHEDULER)
    return w
