"""EpisodeOfCare and CareTeam, written only (Careway makes these; it does not take them in).

EpisodeOfCare <- careway.patients.EpisodeOfCare: id = its pk; status referred -> planned,
active -> active, on_hold -> onhold, discharged -> finished, cancelled -> cancelled; type
"hacc" (home and community care); period = start of care to discharge; careManager = the
primary case manager's name; team = the episode's CareTeam. Referral source and date and the
discharge reason are Careway's extensions referral-source, referral-date, discharge-reason.

CareTeam <- one EpisodeOfCare and its CareTeamMember rows: `to_fhir("CareTeam", episode)`, and the
mapping loads the members (one query). Its id is the episode's pk, so "CareTeam/<pk>" and
"EpisodeOfCare/<pk>" are the same period of care. Status follows the episode (referred ->
proposed, on hold -> suspended, discharged or cancelled -> inactive). Each member, current or
former, is a participant with their role (Careway's care-team-role coding, in words), their
period, and a reference: a related person as "RelatedPerson/<pk>"; staff and people outside
Careway by name (Careway serves no Practitioner resource). The primary case manager is marked
with Careway's extension primary-case-manager. Staff names are the users' display names.

Both are served by the API (read and searched by status; the CareTeam has no versions of its own)
and exported (whole: an episode keeps no time it changed), never taken in.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet

from careway.fhir import codes, search
from careway.patients.models import CareTeamMember, EpisodeOfCare

from . import Export, ResourceDeclaration, patient_rows, register
from . import common as c

EPISODE_STATUS = {
    "referred": "planned",
    "active": "active",
    "on_hold": "onhold",
    "discharged": "finished",
    "cancelled": "cancelled",
}
TEAM_STATUS = {
    "referred": "proposed",
    "active": "active",
    "on_hold": "suspended",
    "discharged": "inactive",
    "cancelled": "inactive",
}
ROLES = dict(CareTeamMember.TeamRole.choices)
EXT_PRIMARY_CM = codes.careway_extension("primary-case-manager")


def with_members(episodes: QuerySet) -> QuerySet:
    """`episodes` with each one's team loaded in one more query, for lists of episodes (a
    search, an export): members_of() then asks the database nothing."""
    team = CareTeamMember.objects.select_related("user", "related_person")
    return episodes.prefetch_related(Prefetch("care_team", queryset=team))


def members_of(episode: EpisodeOfCare) -> list[CareTeamMember]:
    """The episode's team, current members first, the primary case manager first among them."""
    loaded = getattr(episode, "_prefetched_objects_cache", {}).get("care_team")
    if loaded is None:
        loaded = CareTeamMember.objects.filter(episode_id=episode.pk).select_related(
            "user", "related_person"
        )
    return sorted(
        loaded,
        key=lambda m: (not m.active, not m.is_primary_case_manager, m.start_date, m.pk),
    )


def episode_to_fhir(episode: EpisodeOfCare) -> dict[str, Any]:
    manager = next((m for m in members_of(episode) if m.is_primary_case_manager and m.active), None)
    extensions = []
    if episode.referral_source:
        extensions.append(
            {
                "url": codes.careway_extension("referral-source"),
                "valueString": episode.referral_source,
            }
        )
    if episode.referral_date:
        extensions.append(
            {
                "url": codes.careway_extension("referral-date"),
                "valueDate": c.day(episode.referral_date),
            }
        )
    if episode.discharge_reason:
        extensions.append(
            {
                "url": codes.careway_extension("discharge-reason"),
                "valueString": episode.discharge_reason,
            }
        )
    return c.drop_empty(
        {
            "resourceType": "EpisodeOfCare",
            "id": str(episode.pk),
            "meta": c.meta(episode),
            "extension": extensions,
            "status": EPISODE_STATUS[episode.status],
            "type": [
                {
                    "coding": [
                        {
                            "system": codes.EPISODE_TYPE,
                            "code": "hacc",
                            "display": "Home and Community Care",
                        }
                    ]
                }
            ],
            "patient": c.patient_ref(episode),
            "period": c.drop_empty(
                {
                    "start": c.day(episode.start_of_care) if episode.start_of_care else None,
                    "end": c.day(episode.discharge_date) if episode.discharge_date else None,
                }
            ),
            "careManager": {"display": manager.member_name} if manager else None,
            "team": [{"reference": f"CareTeam/{episode.pk}"}],
        }
    )


def care_team_to_fhir(episode: EpisodeOfCare) -> dict[str, Any]:
    if not isinstance(episode, EpisodeOfCare):
        raise TypeError("to_fhir('CareTeam', ...) takes the EpisodeOfCare whose team it is")
    return c.drop_empty(
        {
            "resourceType": "CareTeam",
            "id": str(episode.pk),
            "status": TEAM_STATUS[episode.status],
            "name": "Home health care team",
            "subject": c.patient_ref(episode),
            "period": c.drop_empty(
                {
                    "start": c.day(episode.start_of_care) if episode.start_of_care else None,
                    "end": c.day(episode.discharge_date) if episode.discharge_date else None,
                }
            ),
            "participant": [_participant(m) for m in members_of(episode)],
        }
    )


def _participant(member: CareTeamMember) -> dict[str, Any]:
    label = ROLES.get(member.role, member.role)
    who: dict[str, Any] = {"display": member.member_name}
    if member.related_person_id and not member.user_id:
        who["reference"] = f"RelatedPerson/{member.related_person_id}"
    return c.drop_empty(
        {
            "extension": (
                [{"url": EXT_PRIMARY_CM, "valueBoolean": True}]
                if member.is_primary_case_manager
                else []
            ),
            "role": [
                {
                    "coding": [
                        {"system": codes.CARE_TEAM_ROLE, "code": member.role, "display": label}
                    ],
                    "text": label,
                }
            ],
            "member": who,
            "period": c.drop_empty(
                {
                    "start": c.day(member.start_date) if member.start_date else None,
                    "end": c.day(member.end_date) if member.end_date else None,
                }
            ),
        }
    )


# --- search and export ---------------------------------------------------------------------------

EPISODE_STATUS_CODES = search.value_set(
    ("planned", EpisodeOfCare.Status.REFERRED),
    ("active", EpisodeOfCare.Status.ACTIVE),
    ("onhold", EpisodeOfCare.Status.ON_HOLD),
    ("finished", EpisodeOfCare.Status.DISCHARGED),
    ("cancelled", EpisodeOfCare.Status.CANCELLED),
    *search.not_stored("waitlist", "entered-in-error"),
)
TEAM_STATUS_CODES = search.value_set(
    ("proposed", EpisodeOfCare.Status.REFERRED),
    ("active", EpisodeOfCare.Status.ACTIVE),
    ("suspended", EpisodeOfCare.Status.ON_HOLD),
    ("inactive", EpisodeOfCare.Status.DISCHARGED),
    ("inactive", EpisodeOfCare.Status.CANCELLED),
    *search.not_stored("entered-in-error"),
)


def _episodes_with_members(patient_ids: list[Any]) -> QuerySet:
    return with_members(patient_rows(EpisodeOfCare)(patient_ids))


register(
    ResourceDeclaration(
        "EpisodeOfCare",
        EpisodeOfCare,
        to_fhir=episode_to_fhir,
        search=search.SearchDeclaration(
            order=("-id",),
            scope=with_members,
            includes=("patient",),
            sort_description="most recently opened first",
            params=search.with_patient(
                {
                    "_id": search.IdParam(locate=search.locate_by_int),
                    "status": search.TokenParam(
                        "status", codes=EPISODE_STATUS_CODES, description="The episode's status."
                    ),
                },
                subject=False,
            ),
        ),
        export=Export(rows=_episodes_with_members),
    )
)
# One CareTeam per episode of care, with the same id: its record is the EpisodeOfCare, whose
# members are its team.
register(
    ResourceDeclaration(
        "CareTeam",
        EpisodeOfCare,
        to_fhir=care_team_to_fhir,
        search=search.SearchDeclaration(
            order=("-id",),
            scope=with_members,
            includes=("patient", "subject"),
            sort_description="most recently opened first",
            versioned=False,
            params=search.with_patient(
                {
                    "_id": search.IdParam(locate=search.locate_by_int),
                    "status": search.TokenParam(
                        "status", codes=TEAM_STATUS_CODES, description="The team's status."
                    ),
                }
            ),
        ),
        export=Export(rows=_episodes_with_members),
    )
)
