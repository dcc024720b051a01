from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0004_list_order_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="expressionofinterest",
            index=models.Index(
                condition=models.Q(("status__in", ["submitted", "under_review", "shortlisted", "on_hold", "accepted"])),
                fields=["status"],
                include=["id", "preferred_parcel", "preferred_phase", "gfa_m2"],
                name="eoi_live",
            ),
        ),
    ]
