"""The admin base that every domain ModelAdmin uses: writes go through the app's services, with history.

A save calls its service once, while the admin validates the form: the service takes the place of the ModelForm's
model validation (it runs `full_clean` and the domain rules, then saves), so its refusals show on the fields they
name, as the API reports them, and its locks, version and sequence numbers are taken once. The admin's change view
runs in one transaction; when it shows the page again with errors (the form's, or an inline's that is validated
after the form), `changeform_view` rolls that transaction back, so nothing the service wrote stays.

Deletes are the one dry run: the delete page asks the delete service inside a savepoint that is rolled back, because
the page must show the refusals (other apps' guards included) before anyone confirms, and only the service knows
them.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core import checks
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, router, transaction
from simple_history.admin import SimpleHistoryAdmin


def _model_field_names(model) -> set[str]:
    """The model's own fields (many-to-many included), which the services may take."""
    return {field.name for field in [*model._meta.concrete_fields, *model._meta.many_to_many]}


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's refusal on the form: on the field it names when the form has it, else on the form."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error)


def _become(instance: models.Model, saved: models.Model) -> None:
    """Make `instance` the row the service saved: the admin and its inlines go on with that very object (its pk
    for the inlines' foreign keys, the log entry, the redirect)."""
    for field in instance._meta.concrete_fields:
        setattr(instance, field.attname, getattr(saved, field.attname))
    instance._state.adding = False
    instance._state.db = saved._state.db


class ServiceAdmin(SimpleHistoryAdmin):
    """ModelAdmin whose saves and deletes call services.

    Set `create_service`, `update_service`, `delete_service` (plain functions), `service_object_name` (the keyword
    under which update/delete take the object) and `service_fields` (the app's tuple of the fields its services
    take, `services.PARCEL_FIELDS` for example). The form shows `service_fields`, then the read-only fields, unless
    the admin groups them in `fields`/`fieldsets`; then the system check below proves that each service field
    appears there exactly once and that no other model field is editable, so the admin cannot drift from the
    services (nor from the API, whose serializers list the same tuples).
    """

    create_service = None
    update_service = None
    delete_service = None
    service_object_name = ""
    service_fields: tuple[str, ...] = ()
    # Half Django's default: at HKSTP scale a changelist page costs its rows' rendering (`make bench`), and 50 rows
    # is what a reviewer works through before filtering anyway.
    list_per_page = 50

    def get_fields(self, request, obj=None):
        if self.fields or not self.service_fields:
            return super().get_fields(request, obj)
        readonly = [name for name in self.get_readonly_fields(request, obj) if name not in self.service_fields]
        return [*self.service_fields, *readonly]

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_service_fields()]

    def _check_service_fields(self) -> list[checks.CheckMessage]:
        if not self.service_fields or not (self.fieldsets or self.fields):
            return []  # nothing declared: the form is `service_fields` (get_fields)
        shown = flatten_fieldsets(self.fieldsets or [(None, {"fields": self.fields})])
        errors = [
            checks.Error(
                f"{name!r}, a field the services take, appears {shown.count(name)} times in the admin's fields.",
                hint="List each of `service_fields` exactly once in `fields`/`fieldsets`.",
                obj=type(self),
                id="core.E001",
            )
            for name in self.service_fields
            if shown.count(name) != 1
        ]
        model_fields = _model_field_names(self.model)
        errors += [
            checks.Error(
                f"{name!r} is editable in the admin, but the services do not take it.",
                hint="Make it read-only, or add it to the services' field tuple.",
                obj=type(self),
                id="core.E002",
            )
            for name in shown
            if name in model_fields and name not in self.service_fields and name not in self.readonly_fields
        ]
        return errors

    def service_data(self, form, *, change: bool) -> dict:
        """The form's values for the service: the model fields it shows, only those changed for an update."""
        names = _model_field_names(self.model)
        fields = form.changed_data if change else form.cleaned_data.keys()
        return {name: form.cleaned_data[name] for name in fields if name in names and name in form.cleaned_data}

    def call_service(self, form, *, change: bool, actor):
        """Save the form's values through the service and return the saved row; the refusals are raised
        (`ValidationError`, `PermissionDenied`) and shown on the form. An update with nothing to change calls
        nothing."""
        data = self.service_data(form, change=change)
        if change and not data:
            return form.instance
        if change:
            return type(self).update_service(**{self.service_object_name: form.instance}, actor=actor, **data)
        return type(self).create_service(actor=actor, **data)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(form_class):
            def _post_clean(self):
                # Where a ModelForm builds and validates its instance, the service validates and saves it (see the
                # module docstring), once every field is valid.
                if self.errors:
                    return
                try:
                    saved = model_admin.call_service(self, change=change, actor=request.user)
                except ValidationError as error:
                    add_service_errors(self, error)
                except PermissionDenied as error:
                    self.add_error(None, str(error))
                else:
                    _become(self.instance, saved)

        return ServiceForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            shown_again = request.method == "POST" and "adminform" in (getattr(response, "context_data", None) or {})
            if shown_again:
                # The form is shown again with errors (its own or an inline's): undo what its service saved while
                # it was validated. The page renders after this block, from the rolled-back state.
                transaction.set_rollback(True)
                if object_id is None:
                    instance = response.context_data["adminform"].form.instance
                    instance.pk, instance._state.adding = None, True
        return response

    def save_model(self, request, obj, form, change):
        pass  # saved by the service when the form was validated (`get_form`)

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were saved by the service; inlines save through `save_formset`.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A past version is shown, never saved back: reverting would skip the services' rules (and the workflow).
        if request.method == "POST" and self.revert_disabled(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_deleted_objects(self, objs, request):
        """What the delete page lists. The delete service is asked too, in a savepoint rolled back afterwards: its
        refusals count as protected, so the page shows them instead of asking to confirm, and a confirmed POST
        (which Django checks here again, then deletes through `delete_model`) deletes nothing."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected or type(self).delete_service is None:
            return deleted, model_count, perms_needed, protected
        refusals = []
        for obj in objs:
            with transaction.atomic():
                try:
                    type(self).delete_service(**{self.service_object_name: obj}, actor=request.user)
                except ValidationError as error:
                    refusals.extend(error.messages)
                transaction.set_rollback(True)
        return deleted, model_count, perms_needed, refusals

    def delete_model(self, request, obj):
        try:
            type(self).delete_service(**{self.service_object_name: obj}, actor=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            transaction.set_rollback(True)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


# --- accounts ----------------------------------------------------------------------------------------------------


class _UsernameReadsUniquelyMixin:
    """A username that reads the same as another account's (`Staff` beside `staff`) is refused here too (L3)."""

    def clean_username(self):
        from .accounts import username_check_available

        username = super().clean_username() if hasattr(super(), "clean_username") else self.cleaned_data["username"]
        if username:
            try:
                username_check_available(username, exclude_pk=self.instance.pk)
            except ValidationError as error:
                raise ValidationError(error.message_dict["username"]) from None
        return username


def _register_user_admin() -> None:
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.auth.admin import UserAdmin
    from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

    class AccountCreationForm(_UsernameReadsUniquelyMixin, AdminUserCreationForm):
        pass

    class AccountChangeForm(_UsernameReadsUniquelyMixin, UserChangeForm):
        pass

    class AccountAdmin(UserAdmin):
        form = AccountChangeForm
        add_form = AccountCreationForm

    user_model = get_user_model()
    if admin.site.is_registered(user_model):
        admin.site.unregister(user_model)
    admin.site.register(user_model, AccountAdmin)


_register_user_admin()
