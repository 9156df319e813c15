"""MLflow in the admin: connections added and changed through their services (audited, the
webhook secret shown once); imported versions and drift incidents read-only; "Import now" and
"Check the alias now" as actions."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction

from config.admin import ReadOnlyAdmin
from jobs.runner import job_enqueue
from mlflow_link import services
from mlflow_link.models import CHECK_DRIFT, IMPORT_MLFLOW, DriftIncident, MlflowConnection, MlflowVersion


class ConnectionForm(forms.ModelForm):
    class Meta:
        model = MlflowConnection
        fields = ["model", "tracking_uri", "registered_model", "alias", "revert_drift", "active"]

    def clean(self):
        cleaned = super().clean()
        try:
            services._clean(cleaned.get("tracking_uri") or "", cleaned.get("registered_model") or "",
                            cleaned.get("alias") or "")  # fmt: skip
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        return cleaned


@admin.register(MlflowConnection)
class MlflowConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["model", "registered_model", "alias", "revert_drift", "active", "last_import_at"]
    list_select_related = ["model"]
    readonly_fields = ["created_by", "created_at", "last_import_at", "last_import_error", "last_checked_at"]
    actions = ["import_now", "check_now"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "model"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # stop it instead (active off): what it imported keeps its lineage

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.mlflow_connection_update(
                connection=obj, actor=request.user, tracking_uri=data["tracking_uri"],
                registered_model=data["registered_model"], alias=data["alias"], revert_drift=data["revert_drift"],
                active=data["active"],
            )  # fmt: skip
            return
        connection, secret = services.mlflow_connect(
            model=data["model"], tracking_uri=data["tracking_uri"], registered_model=data["registered_model"],
            alias=data["alias"], revert_drift=data["revert_drift"], actor=request.user,
        )  # fmt: skip
        obj.pk = connection.pk
        url = request.build_absolute_uri(f"/mlflow/webhooks/{obj.pk}/")
        messages.warning(request, f"For MLflow's model_version.created webhook: URL {url} and secret {secret} "
                                  "(shown only now).")  # fmt: skip

    def _enqueue(self, request, queryset, kind, said):
        with transaction.atomic():
            for connection in queryset:
                job_enqueue(kind, connection.pk, again=True)
        messages.success(request, said)

    @admin.action(description="Import new MLflow versions now")
    def import_now(self, request, queryset):
        self._enqueue(request, queryset, IMPORT_MLFLOW, "The import runs on the worker.")

    @admin.action(description="Check the owned alias now")
    def check_now(self, request, queryset):
        self._enqueue(request, queryset, CHECK_DRIFT, "The check runs on the worker.")


@admin.register(MlflowVersion)
class MlflowVersionAdmin(ReadOnlyAdmin):
    list_display = ["connection", "mlflow_version", "version", "run_id", "imported_at"]
    list_select_related = ["connection__model", "version__model"]


@admin.register(DriftIncident)
class DriftIncidentAdmin(ReadOnlyAdmin):
    list_display = ["found_at", "connection", "alias_version", "expected_version", "reverted_at", "resolved_at"]
    list_select_related = ["connection__model"]
