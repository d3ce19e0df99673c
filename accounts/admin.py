"""Admin: users, API keys (hash only, revoke action) and broker credentials (never decrypted)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts import services
from accounts.models import ApiKey, AuditEvent, BrokerCredential, User


@admin.register(User)
class TraderAdmin(UserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "last_login")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("user", "scope", "created_at", "revoked_at", "is_active")
    list_filter = ("revoked_at",)
    search_fields = ("user__username",)
    fields = ("user", "scope", "key_hash", "created_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are issued from the dashboard or `manage.py apikey`, shown once

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        active = queryset.filter(revoked_at__isnull=True)
        for user_id in active.filter(scope="").values_list("user", flat=True).distinct():
            services.revoke_api_key(user=User.objects.get(pk=user_id))
        for user_id, scope in active.exclude(scope="").values_list("user", "scope").distinct():
            services.revoke_scoped_api_key(user_id=user_id, scope=scope)

    @admin.display(boolean=True)
    def is_active(self, obj: ApiKey) -> bool:
        return obj.is_active


@admin.register(BrokerCredential)
class BrokerCredentialAdmin(admin.ModelAdmin):
    list_display = ("user", "broker", "client_id", "has_app_key", "has_session", "token_expires_at", "updated_at")
    list_filter = ("broker",)
    search_fields = ("user__username", "client_id")
    # No secret field is shown, not even encrypted: only whether it is set.
    fields = ("user", "broker", "client_id", "has_app_key", "has_session", "token_expires_at", "updated_at")
    readonly_fields = ("has_app_key", "has_session", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False  # credentials are entered by their owner on the broker login page

    @admin.display(boolean=True, description="API key set")
    def has_app_key(self, obj: BrokerCredential) -> bool:
        return obj.has_secret("api_key")

    @admin.display(boolean=True, description="Logged in")
    def has_session(self, obj: BrokerCredential) -> bool:
        return obj.has_live_session()


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only, and its chain is checked by verifyaudit."""

    list_display = ("at", "actor", "action", "subject", "ip")
    list_filter = ("action",)
    search_fields = ("actor", "subject")
    readonly_fields = ("at", "actor", "action", "subject", "detail", "ip", "prev_hash", "hash")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
