"""Workflows in the admin, edited through the audited services; workflow runs, read-only: they
change only through the approval services."""

import difflib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from approvals import revisions
from approvals.definitions import DefinitionError
from approvals.models import (
    CheckRun,
    Comment,
    Decision,
    Delegation,
    PromotionRequest,
    StepState,
    Waiver,
    Workflow,
    WorkflowAssignment,
    WorkflowRevision,
)
from config.admin import ReadOnlyAdmin
from registry.models import RegisteredModel


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
    fields = ["step", "actor", "on_behalf_of", "verdict", "comment", "created_at"]


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "status", "current_step", "revision", "submitted_by", "submitted_at", "closed_at"]
    list_filter = ["status", "workflow_name"]
    search_fields = ["model__name", "submitted_by__username"]
    list_select_related = ["version__model", "model", "current_step", "submitted_by", "revision__workflow"]
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


class WorkflowForm(forms.ModelForm):
    """The YAML of the workflow's next revision, validated by the parser that reports the line."""

    source = forms.CharField(
        label="Definition (YAML)",
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "spellcheck": "false", "class": "vLargeTextField",
                                     "style": "font-family: monospace"}),
        help_text="Saved as a new revision; requests already submitted keep the revision they started with. "
        "The README's workflow reference lists every key.",
    )  # fmt: skip
    note = forms.CharField(label="What changed and why", required=False, max_length=revisions.MAX_NOTE)
    make_default = forms.BooleanField(label="Default workflow (for models with none of their own)", required=False)
    models = forms.ModelMultipleChoiceField(
        queryset=RegisteredModel.objects.order_by("name"),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("models", is_stacked=False),
        help_text="Models that follow this workflow instead of the default.",
    )

    class Meta:
        model = Workflow
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            latest = self.instance.latest
            self.fields["source"].initial = latest.source if latest else ""
            self.fields["make_default"].initial = self.instance.is_default
            self.fields["models"].initial = list(self.instance.assignments.values_list("model_id", flat=True))

    def clean_source(self):
        source = self.cleaned_data["source"].replace("\r\n", "\n")
        try:
            definition = revisions.workflow_validate(source)
        except DefinitionError as error:
            raise forms.ValidationError(_at_line(source, error)) from None
        if self.instance.pk and definition.name != self.instance.name:
            raise forms.ValidationError(
                f"This workflow is called '{self.instance.name}'; keep 'name: {self.instance.name}' "
                "(add a new workflow for another name)."
            )
        if not self.instance.pk and Workflow.objects.filter(name=definition.name).exists():
            raise forms.ValidationError(f"A workflow called '{definition.name}' exists; edit that one.")
        return source

    def clean_make_default(self):
        if self.instance.is_default and not self.cleaned_data["make_default"]:
            raise forms.ValidationError("One workflow is always the default: make another the default instead.")
        return self.cleaned_data["make_default"]


def _at_line(source: str, error: DefinitionError) -> list[str]:
    """Each problem, and the line it names as written, so the administrator sees where."""
    lines = source.splitlines()
    shown = []
    for line, problem in error.problems:
        if line and 0 < line <= len(lines):
            shown += [f"line {line}: {problem}", f"Line {line}: {lines[line - 1].strip()}"]
        else:
            shown.append(f"line {line}: {problem}" if line else problem)
    return shown


class WorkflowRevisionInline(admin.TabularInline):
    model = WorkflowRevision
    fields = ["number", "author", "created_at", "note", "digest"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Each save is a new immutable revision (``revisions.workflow_revise``), audited; the change
    page shows the diff against the previous revision and a dry run per model."""

    form = WorkflowForm
    list_display = ["name", "is_default", "latest_revision", "model_count"]
    readonly_fields = ["changes", "dry_run_links"]
    inlines = [WorkflowRevisionInline]

    def get_fieldsets(self, request, obj=None):
        main = ["source", "note", "make_default", "models"]
        if obj is None:
            return [(None, {"fields": main})]
        return [(None, {"fields": main}), ("Last change", {"fields": ["changes", "dry_run_links"]})]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("revisions", "assignments")

    @admin.display(description="Latest revision")
    def latest_revision(self, obj):
        numbers = [r.number for r in obj.revisions.all()]
        return max(numbers) if numbers else "—"

    @admin.display(description="Models assigned")
    def model_count(self, obj):
        return len(obj.assignments.all())

    @admin.display(description="Diff against the previous revision")
    def changes(self, obj):
        latest = list(obj.revisions.order_by("-number")[:2])
        if len(latest) < 2:
            return "The first revision."
        diff = difflib.unified_diff(
            latest[1].source.splitlines(), latest[0].source.splitlines(),
            f"r{latest[1].number}", f"r{latest[0].number}", lineterm="",
        )  # fmt: skip
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', "\n".join(diff))

    @admin.display(description="Dry run")
    def dry_run_links(self, obj):
        names = RegisteredModel.objects.order_by("name").values_list("name", flat=True)[:50]
        url = reverse("admin:approvals_workflow_dry_run", args=[obj.pk])
        return format_html_join(" · ", '<a href="{}?model={}">{}</a>', ((url, name, name) for name in names))

    def has_delete_permission(self, request, obj=None):
        return False  # requests pin revisions; a workflow stays to explain them

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        revision = revisions.workflow_revise(
            source=data["source"], actor=request.user, note=data["note"], workflow=obj if change else None
        )
        if revision is not None:
            obj.pk = revision.workflow_id
        elif not change:  # an identical text of a workflow created meanwhile
            raise PermissionDenied("That workflow exists already.")
        obj.refresh_from_db()
        if data["make_default"]:
            revisions.workflow_set_default(workflow=obj, actor=request.user)
        chosen = set(data["models"])
        for assignment in WorkflowAssignment.objects.filter(workflow=obj).select_related("model"):
            if assignment.model not in chosen:
                revisions.workflow_assign(model=assignment.model, workflow=None, actor=request.user)
        for model in chosen:
            revisions.workflow_assign(model=model, workflow=obj, actor=request.user)
        if revision is None:
            messages.info(request, "The definition did not change; no new revision was saved.")

    def get_urls(self):
        dry_run = self.admin_site.admin_view(self.dry_run_view)
        return [path("<int:pk>/dry-run/", dry_run, name="approvals_workflow_dry_run"), *super().get_urls()]

    def dry_run_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        workflow = Workflow.objects.filter(pk=pk).first()
        model = RegisteredModel.objects.filter(name=request.GET.get("model", "")[:100]).first()
        if workflow is None or workflow.latest is None or model is None:
            raise Http404("No such workflow or model.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dry run: {model.name} under {workflow.name} r{workflow.latest.number}",
            "workflow": workflow,
            "model": model,
            "version": model.versions.order_by("-number").first(),
            "rows": revisions.workflow_dry_run(revision=workflow.latest, model=model),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/approvals/workflow_dry_run.html", context)


@admin.register(WorkflowRevision)
class WorkflowRevisionAdmin(ReadOnlyAdmin):
    list_display = ["workflow", "number", "author", "created_at", "note"]
    list_filter = ["workflow"]
    list_select_related = ["workflow", "author"]
    readonly_fields = ["workflow", "number", "author", "created_at", "note", "digest", "source"]


@admin.register(Delegation)
class DelegationAdmin(ReadOnlyAdmin):
    """Who stands in for whom, and until when: people name and revoke their delegates on their
    delegations page (audited); they lapse by themselves."""

    list_display = ["principal", "delegate", "starts_at", "ends_at", "active", "revoked_at", "reason"]
    list_filter = ["revoked_at"]
    search_fields = ["principal__username", "delegate__username"]
    list_select_related = ["principal", "delegate"]

    @admin.display(boolean=True)
    def active(self, delegation):
        return delegation.is_active


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    """The conversation on requests, read-only: people write, edit (the earlier text kept) and
    resolve on the request page; nothing is deleted."""

    list_display = ["request", "author", "created_at", "edited_at", "body"]
    search_fields = ["body", "author__username"]
    list_select_related = ["request__version__model", "author"]


@admin.register(Waiver)
class WaiverAdmin(ReadOnlyAdmin):
    """Waivers of failed checks, read-only: asked and decided on the request page or the API."""

    list_display = ["request", "check_run", "status", "requested_by", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["request__version__model", "check_run", "requested_by", "decided_by"]
