"""The admin base that every domain ModelAdmin uses: writes go through the app's services, with history.

A form is validated by running its service inside a savepoint that is then rolled back (a dry run), so the
admin shows exactly the refusals the API gives, next to the fields they concern, and nothing is saved. The real
save calls the same service again, under its locks.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import construct_instance
from simple_history.admin import SimpleHistoryAdmin


class _DryRunDone(Exception):
    pass


def _model_field_names(model) -> set[str]:
    return {field.name for field in model._meta.get_fields() if getattr(field, "concrete", False)}


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's refusal on the form: on the field it names when the form has it, else on the form."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error)


class ServiceAdmin(SimpleHistoryAdmin):
    """ModelAdmin whose saves and deletes call services.

    Set `create_service`, `update_service`, `delete_service` (plain functions) and `service_object_name` (the keyword
    under which update/delete take the object).
    """

    create_service = None
    update_service = None
    delete_service = None
    service_object_name = ""
    # Half Django's default: at HKSTP scale a changelist page costs its rows' rendering (`make bench`), and 50 rows
    # is what a reviewer works through before filtering anyway.
    list_per_page = 50
    # Model fields the form edits but the services do not take (for example a parcel's campus on update).
    update_excluded_fields: tuple[str, ...] = ()

    def _service_data(self, form, *, change: bool) -> dict:
        names = _model_field_names(self.model) | {f.name for f in self.model._meta.many_to_many}
        fields = form.changed_data if change else form.cleaned_data.keys()
        data = {name: form.cleaned_data[name] for name in fields if name in names and name in form.cleaned_data}
        if change:
            for name in self.update_excluded_fields:
                data.pop(name, None)
        return data

    def _call_service(self, form, *, change: bool, actor):
        data = self._service_data(form, change=change)
        if change:
            original = self.model._default_manager.get(pk=form.instance.pk)
            return type(self).update_service(**{self.service_object_name: original}, actor=actor, **data)
        return type(self).create_service(actor=actor, **data)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(form_class):
            def clean(self):
                cleaned = super().clean()
                if self.errors:
                    return cleaned
                try:
                    with transaction.atomic():
                        model_admin._call_service(self, change=change, actor=request.user)
                        raise _DryRunDone
                except _DryRunDone:
                    pass
                except ValidationError as error:
                    add_service_errors(self, error)
                return cleaned

            def _post_clean(self):
                # The service validated everything (full_clean included) in clean(); only carry the values over to
                # the instance, which inline formsets read.
                self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)

        return ServiceForm

    def save_model(self, request, obj, form, change):
        saved = self._call_service(form, change=change, actor=request.user)
        # The admin goes on with `obj` (log entry, redirect): make it the saved row.
        obj.__dict__.update({key: value for key, value in saved.__dict__.items() if key != "_state"})
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were saved by the service; inlines save through `save_formset`.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_deleted_objects(self, objs, request):
        """What the delete page lists; the delete service's refusals (guards of other apps included) count as
        protected, so the page shows them instead of asking to confirm, and a confirmed POST deletes nothing."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected or type(self).delete_service is None:
            return deleted, model_count, perms_needed, protected
        refusals = []
        for obj in objs:
            try:
                with transaction.atomic():
                    type(self).delete_service(**{self.service_object_name: obj}, actor=request.user)
                    raise _DryRunDone
            except _DryRunDone:
                pass
            except ValidationError as error:
                refusals.extend(error.messages)
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
