"""The registry in the admin. Team changes and access grants go through the audited services."""

from django.contrib import admin
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm, GuardedModelAdmin

from registry import services
from registry.models import ModelVersion, RegisteredModel, Team

# The only object permission that means something in Signoff, and what it allows. What a person
# may do with a model they see follows from their roles (approvals.permissions).
ACCESS_CHOICES = [
    (
        "view_registeredmodel",
        "Access: see the model, its versions, requests and audit events, and act on them through "
        "the roles held (submit, review, deploy, roll back)",
    )
]


def _access_form(base, request):
    class AccessForm(base):
        def get_obj_perms_field_choices(self):
            return ACCESS_CHOICES

        def get_obj_perms_field_initial(self):
            return [code for code in super().get_obj_perms_field_initial() if code == "view_registeredmodel"]

        def save_obj_perms(self):
            grantee = getattr(self, "user", None) or self.group
            services.model_permission_set(
                model=self.obj,
                grantee=grantee,
                granted="view_registeredmodel" in self.cleaned_data[self.get_obj_perms_field_name()],
                actor=request.user,
            )

    return AccessForm


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "group"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(RegisteredModel)
class RegisteredModelAdmin(GuardedModelAdmin):
    """Per-model grants to users and groups live under "Object permissions" on each model.

    Moving a model to another team moves the team's access with it, audited.
    """

    list_display = ["name", "team", "created_by", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    list_select_related = ["team", "created_by"]
    fields = ["name", "description", "team"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "description"] if obj is not None else []

    def has_add_permission(self, request):
        return False  # models are registered by data scientists, through the audited service

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change and "team" in form.changed_data:
            services.registered_model_change_team(model=obj, team=form.cleaned_data["team"], actor=request.user)

    def get_obj_perms_manage_user_form(self, request):
        return _access_form(AdminUserObjectPermissionsForm, request)

    def get_obj_perms_manage_group_form(self, request):
        return _access_form(AdminGroupObjectPermissionsForm, request)


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
