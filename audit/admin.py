"""The audit log in the admin, read-only (PostgreSQL refuses changes to it anyway)."""

from django.contrib import admin

from audit.models import AuditEvent
from config.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "verb", "object_repr", "from_state", "to_state"]
    list_filter = ["verb"]
    search_fields = ["object_repr", "actor__username", "comment"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
