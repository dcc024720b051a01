"""The demo's dump loaded again in a few dozen queries: what `loaddata` would write, without its two queries per row.

`loaddata` saves each row on its own (an UPDATE, then an INSERT): about a thousand queries and a second for the
demo, paid by every browser test and every test using `demo`. Here the dump is deserialised once per test process
and each load writes each model's rows in one statement.
"""

from collections import defaultdict

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.constants import OnConflict


class DemoDump:
    """Rows dumped by `dumpdata --natural-foreign` (parsed JSON), ready to be written again by `load()`.

    A natural key (a user's groups by name, a row's user by username) is looked up again at each load, not once:
    the flush after a transactional test recreates the role groups under new keys.
    """

    def __init__(self, rows: list[dict]):
        # Natural keys are taken out before deserialising, so that it reads no row; `load()` looks them up.
        natural = []  # per row: [(field, natural key)] for a foreign key, [(field, [natural keys])] for links
        stripped = []
        for row in rows:
            model = apps.get_model(row["model"])
            fields, keys = dict(row["fields"]), []
            for name, value in row["fields"].items():
                field = model._meta.get_field(name)
                if field.many_to_many:
                    if any(isinstance(key, list) for key in value):
                        keys.append((field, [tuple(key) for key in value]))
                        fields[name] = []
                elif field.is_relation and isinstance(value, list):
                    keys.append((field, tuple(value)))
                    fields[name] = None
            stripped.append({**row, "fields": fields})
            natural.append(keys)
        self._natural_keys = []  # (deserialised row, field, natural key or keys)
        # In the dump's order, which is not quite the order of dependencies (dumpdata sorts only models with natural
        # keys): PostgreSQL defers foreign-key checks, and `load()` makes them once its rows are all written.
        self._by_model: dict[type, list] = defaultdict(list)
        for row, keys in zip(serializers.deserialize("python", stripped), natural, strict=True):
            self._by_model[type(row.object)].append(row)
            self._natural_keys += [(row, field, key) for field, key in keys]
        for model in self._by_model:
            if model._meta.parents:
                raise ValueError(f"{model._meta.label}: a row of a child model spans tables; load it with loaddata")

    def load(self, using: str = DEFAULT_DB_ALIAS) -> None:
        """Write the rows as `loaddata` would, in one transaction (a savepoint inside one): raw (`created` and
        `updated` as dumped, no file saved), each over a row of the same key if there is one, the user's groups set
        to the dumped ones, foreign keys checked, and the keys' sequences moved past the loaded rows.

        No `pre_save`, `post_save` or `m2m_changed` signal is sent. The receivers of these models' signals are
        simple_history's, which ignores raw saves (the dump holds the history rows themselves), and the dashboard's
        `freshness.changed`, which this calls once instead of once per row.
        """
        from core import freshness

        connection = connections[using]
        with transaction.atomic(using=using):
            self._resolve_natural_keys(using)
            for model, rows in self._by_model.items():
                fields = model._meta.local_concrete_fields
                # Raw, as loaddata saves (bulk_create is not: it would stamp `created` and `updated` with the time);
                # ON CONFLICT because loaddata writes over a row that has the key already (a test's own, say).
                model._base_manager.using(using)._insert(
                    [row.object for row in rows],
                    fields=fields,
                    raw=True,
                    using=using,
                    on_conflict=OnConflict.UPDATE,
                    update_fields=[field for field in fields if not field.primary_key],
                    unique_fields=[model._meta.pk],
                )
            self._set_many_to_many(using)
            connection.check_constraints(table_names=[model._meta.db_table for model in self._by_model])
            with connection.cursor() as cursor:  # one round trip for the sequences, not one per model
                cursor.execute("\n".join(connection.ops.sequence_reset_sql(no_style(), list(self._by_model))))
            freshness.changed(using=using)

    def _resolve_natural_keys(self, using: str) -> None:
        in_dump = {
            (model, row.object.natural_key()): row.object
            for model, rows in self._by_model.items()
            if hasattr(model, "natural_key")
            for row in rows
        }
        found = {}

        def target(model, key):
            if (model, key) not in found:
                found[model, key] = in_dump.get((model, key))
                if found[model, key] is None:
                    found[model, key] = model._default_manager.db_manager(using).get_by_natural_key(*key)
            return found[model, key]

        for row, field, key in self._natural_keys:
            if field.many_to_many:
                row.m2m_data[field.name] = [target(field.related_model, each).pk for each in key]
            else:
                setattr(
                    row.object, field.attname, getattr(target(field.related_model, key), field.target_field.attname)
                )

    def _set_many_to_many(self, using: str) -> None:
        """Each row's links replaced by the dumped ones, like `.set()` in `loaddata` (through models auto-created
        only: a through model of our own is dumped as rows of its own)."""
        links = defaultdict(dict)  # field -> {row's key: linked keys}
        for model, rows in self._by_model.items():
            for row in rows:
                for name, linked in (row.m2m_data or {}).items():
                    links[model._meta.get_field(name)][row.object.pk] = linked
        for field, linked_by_row in links.items():
            through = field.remote_field.through
            source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
            through._base_manager.using(using).filter(**{f"{source}__in": list(linked_by_row)}).delete()
            source, target = (through._meta.get_field(name).attname for name in (source, target))
            through._base_manager.using(using).bulk_create(
                through(**{source: row_pk, target: linked_pk})
                for row_pk, linked in linked_by_row.items()
                for linked_pk in linked
            )
