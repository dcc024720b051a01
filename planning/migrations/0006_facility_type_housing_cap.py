"""`FacilityType.counts_against_housing_cap`: which facility types count towards a campus's talent-housing cap.

Until now the plan's warning hard-wired the type code "talent_housing"; that type keeps counting.
"""

from django.db import migrations, models

HELP_TEXT = "Whether the capacity of facilities of this type counts towards the campus's talent-housing cap."


def flag_talent_housing(apps, schema_editor):
    apps.get_model("planning", "FacilityType").objects.filter(code="talent_housing").update(
        counts_against_housing_cap=True
    )


class Migration(migrations.Migration):
    dependencies = [("planning", "0005_normalise_stored_geometry")]

    operations = [
        migrations.AddField(
            model_name="facilitytype",
            name="counts_against_housing_cap",
            field=models.BooleanField(
                default=False, help_text=HELP_TEXT, verbose_name="counts against the housing cap"
            ),
        ),
        migrations.AddField(
            model_name="historicalfacilitytype",
            name="counts_against_housing_cap",
            field=models.BooleanField(
                default=False, help_text=HELP_TEXT, verbose_name="counts against the housing cap"
            ),
        ),
        migrations.RunPython(flag_talent_housing, migrations.RunPython.noop),
    ]
