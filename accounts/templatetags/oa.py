"""Template tags of the page frame."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, name: str, label: str, *extra_current: str) -> str:
    """A menu entry for the URL named ``name``, marked current on its own page (or on a page
    named in ``extra_current``); nothing at all while no such page is installed."""
    try:
        url = reverse(name)
    except NoReverseMatch:
        return ""
    match = getattr(context.get("request"), "resolver_match", None)
    current = match is not None and (match.view_name == name or match.view_name in extra_current)
    if current:
        return format_html('<li><a href="{}" class="menu-active" aria-current="page">{}</a></li>', url, label)
    return format_html('<li><a href="{}">{}</a></li>', url, label)


@register.filter
def inr(value) -> str:
    """Money as a trader reads it: "₹1,234.50", "-₹0.85" (the sign before the rupee)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return "—" if value in (None, "") else str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}₹{abs(amount):,.2f}"
