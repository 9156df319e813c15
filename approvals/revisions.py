"""Workflows as rows: saving revisions, assigning workflows to models, and reading which
definition a model follows.

Every write here is audited. A revision is immutable and parsed once per process (its text never
changes, so the parse is cached by its id and digest); a request pins the revision it runs.
"""

import hashlib
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from approvals.definitions import DefinitionError, WorkflowDefinition, parse_definition, reference_problems
from approvals.models import Workflow, WorkflowAssignment, WorkflowRevision
from audit.services import audit_record
from registry.models import RegisteredModel
from registry.roles import holders

MAX_NOTE = 500


def _may_edit(actor) -> None:
    """Workflows are the administrators' (staff with the change permission), or the system's (None)."""
    if actor is None:
        return
    if not (actor.is_active and actor.is_staff and actor.has_perm("approvals.change_workflow")):
        raise PermissionDenied("Only administrators may change workflows.")


def workflow_validate(source: str, *, count_people: bool = True) -> WorkflowDefinition:
    """``source`` parsed and checked against the database; ``DefinitionError`` says what and where.
    ``count_people``: refuse steps that fewer people could decide than they need (not for the
    system installing the shipped default on an installation nobody has joined yet)."""
    definition = parse_definition(source)
    problems = reference_problems(definition, count_people=count_people)
    if problems:
        raise DefinitionError("; ".join(problems))
    return definition


def workflow_revise(*, source: str, actor, note: str = "", workflow: Workflow | None = None) -> WorkflowRevision | None:
    """Save ``source`` as the next revision of the workflow its ``name`` names (created if new).

    ``workflow``, when given, is the one being edited: its name cannot change. Returns None when
    the text says what the latest revision already says (same digest): nothing is written."""
    _may_edit(actor)
    definition = workflow_validate(source, count_people=actor is not None)
    note = (note or "").strip()
    if len(note) > MAX_NOTE or "\x00" in note:
        raise DefinitionError(f"the change note must be at most {MAX_NOTE} characters of text")
    if workflow is not None and workflow.name != definition.name:
        raise DefinitionError(f"the workflow is called '{workflow.name}'; its 'name' cannot change", line=None)
    with transaction.atomic():
        try:
            with transaction.atomic():
                workflow, created = Workflow.objects.get_or_create(name=definition.name)
        except IntegrityError:  # created by someone else meanwhile
            workflow, created = Workflow.objects.get(name=definition.name), False
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        latest = workflow.latest
        if latest is not None and latest.digest == definition.digest and latest.source == source:
            return None
        revision = WorkflowRevision.objects.create(
            workflow=workflow,
            number=(latest.number + 1) if latest else 1,
            source=source,
            digest=definition.digest,
            author=actor,
            note=note,
        )
        audit_record(
            actor=actor,
            verb="workflow.created" if created else "workflow.revised",
            obj=revision,
            comment=note,
            data={"workflow": workflow.name, "revision": revision.number, "digest": revision.digest,
                  "previous": latest.number if latest else None},
        )  # fmt: skip
    return revision


def workflow_set_default(*, workflow: Workflow, actor) -> None:
    """Make ``workflow`` the default (the one models without an assignment follow)."""
    _may_edit(actor)
    with transaction.atomic():
        previous = Workflow.objects.select_for_update().filter(is_default=True).first()
        if previous is not None and previous.pk == workflow.pk:
            return
        if not workflow.revisions.exists():
            raise DefinitionError(f"the workflow '{workflow.name}' has no revision yet")
        Workflow.objects.filter(is_default=True).update(is_default=False)
        Workflow.objects.filter(pk=workflow.pk).update(is_default=True)
        audit_record(
            actor=actor,
            verb="workflow.default_set",
            obj=workflow,
            from_state=previous.name if previous else "",
            to_state=workflow.name,
        )


def workflow_assign(*, model: RegisteredModel, workflow: Workflow | None, actor) -> None:
    """Have ``model`` follow ``workflow`` (None: the default again). Open requests keep theirs."""
    _may_edit(actor)
    with transaction.atomic():
        current = WorkflowAssignment.objects.select_for_update().filter(model=model).select_related("workflow").first()
        before = current.workflow.name if current else ""
        if workflow is None:
            if current is None:
                return
            current.delete()
        else:
            if current is not None and current.workflow_id == workflow.pk:
                return
            if not workflow.revisions.exists():
                raise DefinitionError(f"the workflow '{workflow.name}' has no revision yet")
            WorkflowAssignment.objects.update_or_create(model=model, defaults={"workflow": workflow})
        audit_record(
            actor=actor,
            verb="workflow.assigned",
            obj=model,
            model=model,
            from_state=before,
            to_state=workflow.name if workflow else "",
            data={"workflow": workflow.name if workflow else None},
        )


def workflow_ensure_default() -> None:
    """A fresh installation follows the shipped workflow (``SIGNOFF_DEFAULT_WORKFLOW``) until an
    administrator sets another default. Does nothing when a default exists."""
    if Workflow.objects.filter(is_default=True).exists():
        return
    source = settings.SIGNOFF_DEFAULT_WORKFLOW.read_text(encoding="utf-8")
    definition = parse_definition(source)
    with transaction.atomic():
        revision = workflow_revise(source=source, actor=None, note="The shipped default workflow.")
        workflow = revision.workflow if revision else Workflow.objects.get(name=definition.name)
        workflow_set_default(workflow=workflow, actor=None)


def workflow_for_model(model: RegisteredModel) -> Workflow | None:
    """The workflow ``model`` follows: its assignment, else the default."""
    assignment = WorkflowAssignment.objects.filter(model_id=model.pk).select_related("workflow").first()
    if assignment is not None:
        return assignment.workflow
    return Workflow.objects.filter(is_default=True).first()


@lru_cache(maxsize=256)
def _parsed(revision_id: int, digest: str, source: str) -> WorkflowDefinition:
    return parse_definition(source, stored=True)


def revision_definition(revision: WorkflowRevision) -> WorkflowDefinition:
    """What ``revision`` says (parsed once per process: revisions never change)."""
    return _parsed(revision.pk, revision.digest, revision.source)


def request_definition(request) -> WorkflowDefinition:
    """What the workflow revision ``request`` pinned at submission says (parsed once per process)."""
    if request.revision_id is not None:
        return revision_definition(request.revision)
    return _parsed(0, hashlib.sha256(request.workflow_source.encode()).hexdigest(), request.workflow_source)


def definition_for_model(model: RegisteredModel) -> tuple[WorkflowRevision, WorkflowDefinition]:
    """The latest revision of the workflow ``model`` follows, and what it says; refused as a
    whole (``DefinitionError``) when there is none, or when it names roles or users that no
    longer exist."""
    workflow = workflow_for_model(model)
    if workflow is None:  # an installation whose tables were emptied: the shipped default applies
        workflow_ensure_default()
        workflow = workflow_for_model(model)
    revision = workflow.latest if workflow is not None else None
    if revision is None:
        raise DefinitionError(
            f"No workflow applies to {model.name}: an administrator must assign one or set a default."
        )
    definition = revision_definition(revision)
    problems = reference_problems(definition)
    if problems:
        raise DefinitionError(f"The workflow '{definition.name}' cannot be used: {'; '.join(problems)}.")
    return revision, definition


def workflow_dry_run(*, revision: WorkflowRevision, model: RegisteredModel, version=None) -> list[dict]:
    """Which steps a request of ``model`` (its ``version``, default the latest) would go through
    under ``revision``, and who could decide each: nothing is written.

    People are those the step names (roles, users) who have access to the model, less the
    version's author; a policy is evaluated on what is recorded of the version today (its
    reported metrics, model card, latest measurement and latest request's checks)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from approvals import policy
    from approvals.models import CheckRun
    from evidence.models import Measurement
    from registry import permissions as registry_permissions

    definition = revision_definition(revision)
    version = version or model.versions.order_by("-number").first()
    with_access = registry_permissions.users_who_can(registry_permissions.ACT, model).values("pk")
    facts = policy.Facts()
    if version is not None:
        measurement = Measurement.objects.filter(version=version).order_by("-created_at").first()
        latest = version.promotion_requests.order_by("-submitted_at").first()
        facts = policy.Facts(
            measured=measurement.metrics if measurement else {},
            reported=version.metrics or {},
            checks=dict(CheckRun.objects.filter(step__request=latest).values_list("check_type", "status"))
            if latest
            else {},
            model_card=version.model_card or {},
            dataset_rows=measurement.dataset.row_count if measurement else None,
        )
    skipped: dict[str, str] = {}
    rows = []
    for step in definition.steps:
        row = {"step": step, "people": [], "note": ""}
        if step.name in skipped:
            row["note"] = skipped[step.name]
        if step.is_human:
            people = (
                get_user_model()
                .objects.filter(is_active=True)
                .filter(holders(step.approvers, model.team_id) | Q(username__in=step.users))
                .filter(pk__in=with_access)
                .exclude(pk=getattr(version, "created_by_id", None))
                .distinct()
                .order_by("username")
            )
            row["people"] = [user.username for user in people]
            if len(row["people"]) < step.required_approvals and not row["note"]:
                row["note"] = (
                    f"only {len(row['people'])} of the {step.required_approvals} approvals needed could be given"
                )
        if step.type == "policy":
            met, read = policy.evaluate(step.when, facts)
            values = ", ".join(f"{name} = {'—' if value is None else value}" for name, value in read.items())
            row["note"] = f"{policy.describe(step.when)}: {'met' if met else 'not met'} (read: {values})"
            if met:
                skipped[step.target] = f"approved by policy {step.title}"
        rows.append(row)
    return rows
