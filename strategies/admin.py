"""Webhook strategies and their alert log in the admin (read-mostly: the pages manage them)."""

from django.contrib import admin

from strategies.models import Alert, Strategy, SymbolMapping


class SymbolMappingInline(admin.TabularInline):
    model = SymbolMapping
    extra = 0


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "direction", "kind", "mode", "enabled")
    list_filter = ("enabled", "direction", "kind", "mode")
    search_fields = ("name", "owner__username")
    readonly_fields = ("webhook_id", "squared_off_on", "created_at", "updated_at")
    exclude = ("secret",)
    inlines = [SymbolMappingInline]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("pk", "strategy", "source", "state", "received_at", "attempts")
    list_filter = ("state", "source")
    readonly_fields = [field.name for field in Alert._meta.fields]
