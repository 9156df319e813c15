"""E-mail in the admin, read-only: rows are written by the notifiers and the worker."""

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "request", "status", "sent_at"]
    list_filter = ["event", "status"]
    list_select_related = ["request__version__model"]
