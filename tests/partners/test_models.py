"""What the partners' models and the database hold on their own, whichever way a row is written."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from partners import services
from partners.models import Commitment, CommitmentStage
from tests.factories import CommitmentFactory, OrganisationFactory, ParcelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "figures", "message"),
    [
        (Commitment.Kind.OCCUPANCY, {"gfa_m2": Decimal("0")}, "An occupancy commitment needs the GFA it takes."),
        (Commitment.Kind.CAPITAL, {"amount_hkd_m": Decimal("0")}, "A capital commitment needs its amount."),
    ],
)
def test_a_commitment_without_what_its_kind_promises_is_refused_with_a_readable_message(kind, figures, message):
    with pytest.raises(ValidationError) as refused:
        services.commitment_create(
            actor=None,
            organisation=OrganisationFactory(),
            parcel=ParcelFactory(),
            kind=kind,
            stage=CommitmentStage.objects.get(code="mou"),
            date="2026-06-01",
            **figures,
        )
    assert refused.value.messages == [message]
    assert not Commitment.objects.exists()


@pytest.mark.parametrize(
    ("kind", "change"),
    [(Commitment.Kind.OCCUPANCY, {"gfa_m2": 0}), (Commitment.Kind.CAPITAL, {"amount_hkd_m": 0})],
)
def test_the_database_holds_the_commitment_kind_rules_past_the_services(kind, change):
    commitment = CommitmentFactory(kind=kind, gfa_m2=Decimal("1000"), amount_hkd_m=Decimal("50"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Commitment.objects.filter(pk=commitment.pk).update(**change)


def test_an_operation_commitment_needs_neither_gfa_nor_an_amount():
    commitment = CommitmentFactory(kind=Commitment.Kind.OPERATION, gfa_m2=Decimal("0"), amount_hkd_m=Decimal("0"))
    assert commitment.pk is not None
