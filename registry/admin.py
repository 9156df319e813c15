from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from registry.models import ModelVersion, RegisteredModel, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "group"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(RegisteredModel)
class RegisteredModelAdmin(GuardedModelAdmin):
    """Per-model grants to users and groups live under "Object permissions" on each model."""

    list_display = ["name", "team", "created_by", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    list_select_related = ["team", "created_by"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Versions are written through the API and the approval workflow only."""

    list_display = ["__str__", "stage", "created_by", "created_at", "submitted_at"]
    list_filter = ["stage"]
    search_fields = ["model__name"]
    list_select_related = ["model", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
