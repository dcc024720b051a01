"""Database writes Django's ORM makes slow."""

from collections.abc import Sequence

from django.db import connections, models, router

from . import freshness

BATCH = 1000


def update_rows(model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of each of `rows` (instances of `model` already saved), each row its own values.

    `QuerySet.bulk_update` does this with a CASE WHEN per field and row, which Django builds and the database parses
    at about a millisecond a row; on PostgreSQL this is one `UPDATE … FROM (VALUES …)` a thousand rows, ten times
    faster and linear. Like `bulk_update`, it sends no signals and leaves `version` and the history alone (for
    values the system derives, such as the schedule's forecast), but it tells caches of figures the data changed
    (`core.freshness`). Elsewhere (SQLite, for `make run`) it is `bulk_update`.
    """
    if not rows:
        return
    freshness.changed(using=router.db_for_write(model))
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_update(rows, fields, batch_size=BATCH)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # Each value cast to its column's type, so that a column of NULLs or of mixed integer widths reads right.
    row_sql = "(%s, " + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    names = ", ".join(["pk", *(f"v{i}" for i in range(len(columns)))])
    assignments = ", ".join(f"{quote(field.column)} = v.v{i}" for i, field in enumerate(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            params = []
            for row in batch:
                params.append(row.pk)
                params.extend(field.get_db_prep_save(getattr(row, field.attname), connection) for field in columns)
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                f"FROM (VALUES {', '.join([row_sql] * len(batch))}) AS v({names}) "
                f"WHERE t.{quote(meta.pk.column)} = v.pk",
                params,
            )
