"""Form fields drawn with DaisyUI classes (templates/partials/form_fields.html)."""

from __future__ import annotations

from django import forms, template

register = template.Library()


@register.filter
def daisy(field: forms.BoundField) -> str:
    """The field's widget with the DaisyUI class of its kind, marked invalid on an error."""
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        kind = "checkbox"
    elif isinstance(widget, forms.Select):
        kind = "select"
    elif isinstance(widget, forms.Textarea):
        kind = "textarea"
    else:
        kind = "input"
    attrs = {"class": f"{kind} w-full" if kind != "checkbox" else kind}
    if field.errors:
        attrs["class"] += f" {kind}-error"
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)
