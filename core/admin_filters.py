"""Admin list filters that stay small at HKSTP scale.

Django's `RelatedFieldListFilter` lists every related row in the changelist's sidebar: with 10,000 organisations and
20,000 facilities the EOI and allocation changelists weighed 1–1.6 MB a page. `AutocompleteFilter` lists only the
chosen row and offers a search box backed by the admin's own autocomplete view (`admin:autocomplete`, the one
`autocomplete_fields` uses), so the related model's admin needs `search_fields` and decides who may search it.
The querystring is the one `RelatedFieldListFilter` uses (`organisation__id__exact=…`), so links keep working, and
without JavaScript the sidebar still shows the chosen row and an "All" link.
"""

from django.contrib import admin
from django.contrib.admin.utils import get_model_from_relation
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.contrib.admin.widgets import AutocompleteSelect
from django.utils.translation import gettext_lazy as _


class AutocompleteFilter(admin.RelatedFieldListFilter):
    """`list_filter = [("organisation", AutocompleteFilter)]`: a search box instead of a list of every row."""

    template = "admin/innopole/autocomplete_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.admin_site = model_admin.admin_site
        super().__init__(field, request, params, model, model_admin, field_path)

    def field_choices(self, field, request, model_admin):
        # Only the chosen rows, never the whole related table.
        chosen = [value for value in (self.lookup_val or []) if str(value).isdigit()]
        if not chosen:
            return []
        related = get_model_from_relation(field)
        return [(obj.pk, str(obj)) for obj in related._default_manager.filter(pk__in=chosen)]

    def has_output(self):
        return True

    def choices(self, changelist):
        yield from super().choices(changelist)
        # What the template's search form needs: the select2 attributes and the other parameters to keep.
        widget = AutocompleteSelect(self.field, self.admin_site)
        widget.is_required = False
        self.search_attrs = widget.build_attrs({"id": f"id_{self.lookup_kwarg}", "name": self.lookup_kwarg})
        self.search_attrs["data-placeholder"] = str(_("Search…"))
        self.search_i18n = widget.i18n_name
        # select2 and its start-up are loaded once a page, by the first such filter.
        self.loads_scripts = not getattr(changelist, "_autocomplete_filter_scripts", False)
        changelist._autocomplete_filter_scripts = True
        self.search_keep = [
            (key, value)
            for key, value in changelist.params.items()
            if key not in (self.lookup_kwarg, self.lookup_kwarg_isnull, PAGE_VAR, ERROR_FLAG)
        ]
