"""Input and output serializers of the approvals API."""

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.urls import reverse
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from approvals.models import CheckRun, Comment, Decision, EmergencyRelease, PromotionRequest, StepState, Thread, Waiver
from registry.api.serializers import StrictInputSerializer

_DATETIME = serializers.DateTimeField()


class CurrentStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepState
        fields = ["name", "title", "kind", "status"]


class RequestOutputSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.number")
    submitted_by = serializers.CharField(source="submitted_by.username")
    current_step = CurrentStepSerializer(allow_null=True)
    url = serializers.SerializerMethodField(help_text="The request's page.")

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            "model",
            "version",
            "status",
            "current_step",
            "workflow_name",
            "submitted_by",
            "submitted_at",
            "updated_at",
            "closed_at",
            "url",
        ]

    def get_url(self, request) -> str:
        return _request_url_pattern().format(request.pk)

    def to_representation(self, request):
        """The declared fields, built directly (``request_row``): DRF's per-field machinery cost
        more CPU than the query for a page of 50 requests. The schema still comes from the
        declarations above."""
        step = request.current_step
        data = request_row(
            {"pk": request.pk, "model__name": request.model.name, "version__number": request.version.number,
             "status": request.status, "workflow_name": request.workflow_name,
             "submitted_by__username": request.submitted_by.username, "submitted_at": request.submitted_at,
             "updated_at": request.updated_at, "closed_at": request.closed_at,
             **{f"current_step__{key}": getattr(step, key, None) for key in ("name", "title", "kind", "status")}}
        )  # fmt: skip
        for name in self.Meta.fields[len(RequestOutputSerializer.Meta.fields) :]:
            field = self.fields[name]
            value = field.get_attribute(request)
            data[name] = None if value is None else field.to_representation(value)
        return data


@lru_cache(maxsize=1)
def _request_url_pattern() -> str:
    """The request page's address with ``{}`` for the id: a page of 50 rows need not call
    ``reverse`` 50 times."""
    return settings.SIGNOFF_BASE_URL + reverse("request-detail", kwargs={"pk": 987654321}).replace("987654321", "{}")


def _iso_in_current_zone() -> Callable[[datetime | None], str | None]:
    """``DateTimeField.to_representation`` for the aware datetimes the database gives, with the
    time zone looked up once for a whole page rather than for each value."""
    if api_settings.DATETIME_FORMAT != ISO_8601:
        return _DATETIME.to_representation
    zone = _DATETIME.default_timezone()

    def when(value: datetime | None) -> str | None:
        if not value:
            return None
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return when


def request_rows(rows: list[dict]) -> list[dict]:
    """``request_row`` for each of a page's rows."""
    when = _iso_in_current_zone()
    return [request_row(row, when) for row in rows]


def request_row(row: dict, when=_DATETIME.to_representation) -> dict:
    """``RequestOutputSerializer``'s representation of a request read as a ``values()`` dict of
    ``pk`` and ``selectors.REQUEST_ROW``: the same keys, without building model instances."""
    step = row["current_step__name"]
    return {
        "id": row["pk"],
        "model": row["model__name"],
        "version": row["version__number"],
        "status": row["status"],
        "current_step": None
        if step is None
        else {"name": step, "title": row["current_step__title"], "kind": row["current_step__kind"],
              "status": row["current_step__status"]},
        "workflow_name": row["workflow_name"],
        "submitted_by": row["submitted_by__username"],
        "submitted_at": when(row["submitted_at"]),
        "updated_at": when(row["updated_at"]),
        "closed_at": when(row["closed_at"]),
        "url": _request_url_pattern().format(row["pk"]),
    }  # fmt: skip


class WaiverOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)

    class Meta:
        model = Waiver
        fields = ["id", "check_run", "status", "requested_by", "reason", "decided_by", "decided_at", "comment"]


class CheckRunOutputSerializer(serializers.ModelSerializer):
    waivers = WaiverOutputSerializer(many=True, help_text="Waivers asked for this check, oldest first.")

    class Meta:
        model = CheckRun
        fields = [
            "id", "check_type", "title", "status", "summary", "result", "attempts", "started_at", "finished_at",
            "waivers",
        ]  # fmt: skip


class DecisionOutputSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username")
    on_behalf_of = serializers.CharField(
        source="on_behalf_of.username", allow_null=True, default=None, help_text="Whom the actor stood in for."
    )
    step = serializers.CharField(source="step.name")
    decision = serializers.CharField(source="verdict")

    class Meta:
        model = Decision
        fields = ["id", "step", "actor", "on_behalf_of", "decision", "comment", "evidence_digest", "created_at"]


class StepOutputSerializer(serializers.ModelSerializer):
    approvers = serializers.SerializerMethodField()
    claimed_by = serializers.SerializerMethodField(help_text="Who is reviewing the step now (a claim), if anyone.")
    claimed_until = serializers.SerializerMethodField()
    overdue = serializers.BooleanField(source="is_overdue", help_text="Waiting past its deadline (due_at).")
    check_runs = CheckRunOutputSerializer(many=True)
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = StepState
        fields = [
            "position",
            "name",
            "title",
            "kind",
            "status",
            "approvers",
            "required_approvals",
            "group",
            "round",
            "result",
            "started_at",
            "finished_at",
            "check_runs",
            "decisions",
            "claimed_by",
            "claimed_until",
            "due_at",
            "overdue",
        ]
        extra_kwargs = {
            "group": {"help_text": "The parallel group the step belongs to (its steps wait together); empty for none."},
            "result": {"help_text": "A policy step's verdict, the condition, the values it read and the evidence "
                       "digest; on a step a policy skipped, which policy."},
        }  # fmt: skip

    def get_claimed_by(self, step) -> str | None:
        holder = step.claim_holder
        return holder.username if holder else None

    def get_claimed_until(self, step) -> datetime | None:
        return step.claimed_until if step.claim_holder else None

    def get_approvers(self, step) -> list[str]:
        return [group.name for group in step.approver_groups.all()] + [
            user.username for user in step.approver_users.all()
        ]

    def get_decisions(self, step) -> list[dict]:
        return [
            {"actor": d.actor.username, "on_behalf_of": d.on_behalf_of.username if d.on_behalf_of else None,
             "decision": d.verdict, "comment": d.comment, "created_at": d.created_at}
            for d in step.decisions.all()
        ]  # fmt: skip


class EmergencyOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    retrospective = serializers.CharField(
        source="retrospective.name", allow_null=True, default=None, help_text="The retrospective review step's name."
    )

    class Meta:
        model = EmergencyRelease
        fields = [
            "id", "status", "requested_by", "justification", "created_at", "decided_by", "decided_at", "comment",
            "retrospective",
        ]  # fmt: skip


class RequestDetailOutputSerializer(RequestOutputSerializer):
    steps = StepOutputSerializer(many=True)
    workflow_revision = serializers.IntegerField(
        source="revision.number", allow_null=True, default=None, help_text="The workflow revision the request runs."
    )
    emergency_release = serializers.BooleanField(
        source="version.emergency_release", help_text="The version was released past its waiting reviews."
    )
    emergencies = EmergencyOutputSerializer(many=True, help_text="Emergency releases asked for, oldest first.")
    resubmission_of = serializers.IntegerField(
        source="resubmission_of_id", allow_null=True, help_text="The request this one resubmits (a fixed version)."
    )

    class Meta(RequestOutputSerializer.Meta):
        fields = RequestOutputSerializer.Meta.fields + [
            "resubmission_of",
            "workflow_revision",
            "steps",
            "emergency_release",
            "emergencies",
        ]


class DecisionInputSerializer(StrictInputSerializer):
    decision = serializers.ChoiceField(choices=Decision.Verdict.choices, required=False)
    verdict = serializers.ChoiceField(
        choices=Decision.Verdict.choices, required=False, help_text="The same as decision (the page's field name)."
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    step = serializers.CharField(
        required=False,
        max_length=50,
        help_text="Name of the step you reviewed (as on the page); required when your roles cover several steps of "
        "the request. If someone decided it meanwhile, the answer is 409.",
    )
    production_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**31,
        help_text="Deployment steps: the production version you saw (null for none); if another version was "
        "deployed meanwhile, the answer is 409. Default: the current one.",
    )
    evidence_digest = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        help_text="The evidence_digest of GET /api/requests/<id>/evidence/ you reviewed; if the evidence changed "
        "since, the answer is 400. Default: the current evidence is recorded.",
    )

    def validate(self, data):
        given = {data[key] for key in ("decision", "verdict") if key in data}
        if len(given) != 1:
            raise serializers.ValidationError({"decision": "Give decision: approve, reject or request_changes."})
        data["decision"] = given.pop()
        data.pop("verdict", None)
        return data


class ClaimInputSerializer(StrictInputSerializer):
    step = serializers.CharField(
        required=False, max_length=50, help_text="The step's name; required when you may decide several."
    )


class WithdrawInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=5000, help_text="Why you withdraw it; the reviewers are told.")


class RequestFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PromotionRequest.Status.choices, required=False)
    awaiting = serializers.ChoiceField(choices=["me"], required=False)
    model = serializers.CharField(required=False, max_length=100)


class RollbackInputSerializer(StrictInputSerializer):
    comment = serializers.CharField(max_length=2000, help_text="Why the version is rolled back (required).")
    target = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31, help_text="Version to restore; default the one deployed before."
    )
    production_seen = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31,
        help_text="The production version you are rolling back (the page's field); if it changed meanwhile, the "
        "answer is 409.",
    )
    from_version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31, help_text="The same as production_seen (kept for clients)."
    )

    def validate(self, data):
        if "production_seen" in data and "from_version" in data and data["production_seen"] != data["from_version"]:
            raise serializers.ValidationError({"production_seen": "Give production_seen or from_version, not both."})
        return data


class CommentOutputSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")
    mentioned = serializers.SerializerMethodField(help_text="Usernames the comment mentions (told by e-mail).")
    earlier_texts = serializers.SerializerMethodField(help_text="The text before each edit, oldest first.")

    class Meta:
        model = Comment
        fields = ["id", "thread", "request", "author", "body", "mentioned", "created_at", "edited_at", "earlier_texts"]

    def get_mentioned(self, comment) -> list[str]:
        return [person.username for person in comment.mentioned.all()]

    def get_earlier_texts(self, comment) -> list[str]:
        return [edit.body for edit in comment.edits.all()]


class ThreadOutputSerializer(serializers.ModelSerializer):
    started_by = serializers.CharField(source="started_by.username")
    resolved = serializers.BooleanField(source="is_resolved")
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True, default=None)
    comments = CommentOutputSerializer(many=True)

    class Meta:
        model = Thread
        fields = ["id", "started_on", "started_by", "created_at", "resolved", "resolved_by", "resolved_at", "comments"]


class CommentInputSerializer(StrictInputSerializer):
    body = serializers.CharField(
        max_length=20_000, help_text="Markdown; @name tells a colleague who may see the model."
    )
    thread = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Reply in this thread; without it, start one."
    )


class CommentEditInputSerializer(StrictInputSerializer):
    body = serializers.CharField(max_length=20_000, help_text="The corrected text; the earlier one is kept.")


class ResolveInputSerializer(StrictInputSerializer):
    resolved = serializers.BooleanField(help_text="true: the point is settled; false: open it again.")


class WaiverRequestInputSerializer(StrictInputSerializer):
    check_run = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The failed check run's id.")
    reason = serializers.CharField(max_length=5000, help_text="Why this failure should not stop the request.")


class EmergencyRequestInputSerializer(StrictInputSerializer):
    justification = serializers.CharField(max_length=5000, help_text="Why it cannot wait for the reviews.")


class EmergencyDecisionInputSerializer(StrictInputSerializer):
    release = serializers.BooleanField(help_text="true agrees and releases; false refuses.")
    comment = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default="", help_text="Required to refuse."
    )


class WaiverDecisionInputSerializer(StrictInputSerializer):
    grant = serializers.BooleanField(help_text="true grants the waiver, false refuses it.")
    comment = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default="", help_text="Required to refuse."
    )
