"""Form fields drawn with DaisyUI classes (templates/partials/form_fields.html)."""

from __future__ import annotations

from django import forms, template

register = template.Library()

# Whole class names (Tailwind finds the classes it builds by scanning for them as written).
_CLASSES = {"input": ("input w-full", "input-error"), "select": ("select w-full", "select-error"),
            "textarea": ("textarea w-full", "textarea-error"), "checkbox": ("checkbox", "checkbox-error")}


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
    normal, invalid = _CLASSES[kind]
    attrs = {"class": normal}
    if field.errors:
        attrs["class"] = f"{normal} {invalid}"
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)
