"""Workflow runs in the admin, read-only: they change only through the approval services."""

from django.contrib import admin

from approvals.models import AuditEvent, CheckRun, Decision, Notification, PromotionRequest, StepState


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class StepStateInline(ReadOnlyInline):
    model = StepState
    fields = ["position", "title", "kind", "status", "started_at", "finished_at"]
    show_change_link = True


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ["step", "actor", "verdict", "comment", "created_at"]


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "status", "current_step", "submitted_by", "submitted_at", "closed_at"]
    list_filter = ["status", "workflow_name"]
    search_fields = ["model__name", "submitted_by__username"]
    list_select_related = ["version__model", "model", "current_step", "submitted_by"]
    inlines = [StepStateInline, DecisionInline]


class CheckRunInline(ReadOnlyInline):
    model = CheckRun
    fields = ["title", "status", "summary", "attempts", "started_at", "finished_at"]


@admin.register(StepState)
class StepStateAdmin(ReadOnlyAdmin):
    list_display = ["request", "position", "title", "kind", "status"]
    list_filter = ["kind", "status"]
    list_select_related = ["request__version__model"]
    inlines = [CheckRunInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "verb", "object_repr", "from_state", "to_state"]
    list_filter = ["verb"]
    search_fields = ["object_repr", "actor__username", "comment"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "request", "status", "sent_at"]
    list_filter = ["event", "status"]
    list_select_related = ["request__version__model"]
