"""What each kind of commitment promises must be there: GFA for an occupancy, an amount for a capital commitment.

The service checked these by hand; the database now holds them (`partners.models.Commitment.Meta.constraints`).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0005_eoi_live_index"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="commitment",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("kind", "occupancy"), _negated=True), ("gfa_m2__gt", 0), _connector="OR"),
                name="commitment_occupancy_has_gfa",
                violation_error_message="An occupancy commitment needs the GFA it takes.",
            ),
        ),
        migrations.AddConstraint(
            model_name="commitment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "capital"), _negated=True), ("amount_hkd_m__gt", 0), _connector="OR"
                ),
                name="commitment_capital_has_amount",
                violation_error_message="A capital commitment needs its amount.",
            ),
        ),
    ]
