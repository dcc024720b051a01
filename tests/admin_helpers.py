"""What the admin tests share: the POST data a browser would send back for an admin form."""


def form_data(response) -> dict:
    """The POST data a browser would send back for an admin change form (and its inlines), as rendered."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        forms.extend(formset.forms)
        forms.append(formset.management_form)
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None:
                continue
            if isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            else:
                formatted = field.widget.format_value(value) if hasattr(field.widget, "format_value") else value
                data[key] = "" if formatted is None else formatted
    return data
