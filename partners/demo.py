"""The partners part of the demo (data/innopole-demo.json): organisations, MoUs, EOIs, commitments, partner users.

Registered with planning's demo loader in `PartnersConfig.ready()`; everything goes through `partners.services`.
"""

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from planning.demo import DemoLoad, day, number, register

from . import services, workflow
from .models import Commitment, CommitmentStage, ExpressionOfInterest, MoU, Organisation

# Demo partner users: username → (organisation code, organisation role).
PARTNER_USERS = {"partner": ("kestrel", "admin"), "partner2": ("corvenna", "admin")}


def _organisations(load: DemoLoad) -> dict[str, Organisation]:
    organisations = {}
    for item in load.data["organisations"]:
        organisations[item["code"]] = load.upsert(
            Organisation,
            {"code": item["code"]},
            {
                "name_en": item["name_en"],
                "name_zh": item.get("name_zh", ""),
                "kind": item["kind"],
                "sector": item["sector"],
            },
            create=services.organisation_create,
            update=services.organisation_update,
            name="organisation",
        )
    return organisations


def _partner_users(load: DemoLoad, organisations: dict[str, Organisation]) -> dict[str, object]:
    User = get_user_model()
    users = {}
    for username, (code, role) in PARTNER_USERS.items():
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@{code}.example.org"}
        )
        if created:
            user.set_password(load.password)
            user.save(update_fields=["password"])
            load.counts["users created"] += 1
        services.membership_set(user=user, organisation=organisations[code], role=role, actor=None)
        users[code] = user
    return users


def _eois(load: DemoLoad, organisations, users) -> None:
    for item in load.data["eois"]:
        organisation = organisations[item["organisation"]]
        parcel = load.parcels[item["parcel"]]
        facility_type = load.facility_types[item["facility_type"]]
        lookup = {"organisation": organisation, "preferred_parcel": parcel, "facility_type": facility_type}
        if ExpressionOfInterest.objects.filter(**lookup).exists():
            load.counts["unchanged"] += 1  # an EOI's content is fixed once submitted; the demo leaves it be
            continue
        submitted = day(item.get("submitted"))
        moment = timezone.make_aware(datetime.datetime.combine(submitted, datetime.time(10, 0))) if submitted else None
        eoi = services.eoi_create(
            actor=None,
            submitted_by=users.get(item["organisation"]),
            at=moment - datetime.timedelta(days=3) if moment else None,
            **lookup,
            preferred_phase=parcel.phase,
            gfa_m2=number(item.get("gfa_m2")),
            capacity=number(item.get("capacity")),
            jobs=item.get("jobs"),
            investment_hkd_m=number(item.get("investment_hkd_m")),
            description=f"{facility_type.name_en} on parcel {parcel.code} for {organisation.name_en}.",
        )
        # The shortest run of workflow steps to the EOI's status, a week apart.
        for step, move in enumerate(workflow.path_to(item["status"])):
            at = moment + datetime.timedelta(days=7 * step) if moment else None
            eoi = services.eoi_transition(eoi=eoi, actor=None, transition=move.name, at=at)
        load.counts["created"] += 1


def _mous(load: DemoLoad, organisations) -> None:
    for item in load.data["mous"]:
        load.upsert(
            MoU,
            {"organisation": organisations[item["organisation"]], "title": item["title"]},
            {"focus": item.get("focus", ""), "status": item["status"], "signed_date": day(item.get("signed"))},
            create=services.mou_create,
            update=services.mou_update,
            name="mou",
        )


def _commitments(load: DemoLoad, organisations) -> None:
    stages = {stage.code: stage for stage in CommitmentStage.objects.all()}
    for item in load.data["commitments"]:
        parcel = load.parcels[item["parcel"]]
        facility = parcel.facilities.filter(facility_type__code=item["facility_type"]).order_by("pk").first()
        load.upsert(
            Commitment,
            {"organisation": organisations[item["organisation"]], "parcel": parcel, "kind": item["kind"]},
            {
                "facility": facility,
                "stage": stages[item["stage"]],
                "gfa_m2": number(item.get("gfa_m2") or 0),
                "amount_hkd_m": number(item.get("amount_hkd_m") or 0),
                "date": day(item["date"]),
            },
            create=services.commitment_create,
            update=services.commitment_update,
            name="commitment",
        )


@register(10)
def load_partners(load: DemoLoad) -> None:
    organisations = _organisations(load)
    load.organisations = organisations
    users = _partner_users(load, organisations)
    _mous(load, organisations)
    _eois(load, organisations, users)
    _commitments(load, organisations)
