"""The record cannot be rewritten unnoticed (finding 8): TRUNCATE is refused, the chain is keyed,
checkpoints outside the database reveal deleted tails and truncation, the runtime role cannot
touch audit rows, and submitted versions cannot be edited in the database."""

import json
import uuid

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from approvals import services
from approvals.models import StepState
from audit.models import AuditEvent
from audit.services import audit_chain_first_break, audit_log_problems, checkpoint_write
from registry.models import ModelVersion
from tests import factories


@pytest.fixture
def history(people, risk_model, background, tmp_path, settings):
    settings.SIGNOFF_AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    request.refresh_from_db()
    with background():
        services.step_decide(request=request, actor=people.mona, verdict="reject", comment="Not calibrated.")
    checkpoint_write()
    return list(AuditEvent.objects.order_by("pk"))


def as_database_superuser(sql, params=()):
    """What someone with the database's superuser password (or SQLite's file) could do: switch
    the triggers off, or drop them and put them back."""
    from config.db import SQLITE_AUDIT_GUARDS

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            for name in SQLITE_AUDIT_GUARDS:
                cursor.execute(f"DROP TRIGGER {name}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")
        else:
            for guard in SQLITE_AUDIT_GUARDS.values():
                cursor.execute(guard)


def test_every_event_links_to_the_one_before(history, capsys):
    for chain in {event.chain for event in history}:  # the model's, and chain 0 (the people's accounts)
        events = [event for event in history if event.chain == chain]
        assert events[0].previous_digest == ""
        assert all(later.previous_digest == earlier.digest for earlier, later in zip(events, events[1:], strict=False))
    assert audit_chain_first_break() is None
    call_command("verify_audit_log")
    assert f"intact ({len(history)} events)" in capsys.readouterr().out


def test_an_edited_comment_is_found(history):
    decision = next(event for event in history if event.verb == "decision.reject")
    as_database_superuser("UPDATE approvals_auditevent SET comment = %s WHERE id = %s", ["Fine.", decision.pk])

    assert audit_chain_first_break().pk == decision.pk
    with pytest.raises(CommandError, match=f"event #{decision.pk}"):
        call_command("verify_audit_log")


def test_a_deleted_event_in_the_middle_is_found(history):
    removed, following = history[2], history[3]
    as_database_superuser("DELETE FROM approvals_auditevent WHERE id = %s", [removed.pk])

    assert audit_chain_first_break().pk == following.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE approvals_auditevent CASCADE",
        "DELETE FROM approvals_auditevent",
        "UPDATE approvals_auditevent SET comment = ''",
    ],
)
def test_the_database_refuses_to_rewrite_audit_events(history, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)
    connection.close()  # TRUNCATE's refusal leaves the session's snapshot; start afresh
    assert AuditEvent.objects.count() == len(history)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_truncation_behind_the_triggers_is_found_by_the_checkpoint(history):
    as_database_superuser("TRUNCATE approvals_auditevent CASCADE")
    with pytest.raises(CommandError, match=f"Event #{history[-1].pk}.*is missing"):
        call_command("verify_audit_log")


@pytest.mark.postgres
def test_deleting_the_newest_events_is_found(history):
    as_database_superuser("DELETE FROM approvals_auditevent WHERE id >= %s", [history[-2].pk])
    assert any("is missing" in problem for problem in audit_log_problems())


@pytest.mark.postgres
def test_an_edit_with_the_chain_recomputed_without_the_key_is_found(history, settings):
    """The attacker edits a comment and recomputes every digest after it, but has no audit key."""
    from audit import services as audit

    decision = next(event for event in history if event.verb == "decision.reject")
    as_database_superuser("UPDATE approvals_auditevent SET comment = 'Fine.' WHERE id = %s", [decision.pk])
    real_key = settings.SIGNOFF_AUDIT_KEY
    settings.SIGNOFF_AUDIT_KEY = "a guess at the key"
    previous = AuditEvent.objects.filter(pk__lt=decision.pk).order_by("-pk").values_list("digest", flat=True).first()
    for event in AuditEvent.objects.filter(pk__gte=decision.pk).order_by("pk"):
        event.previous_digest = previous
        digest = audit.event_digest(event)
        as_database_superuser(
            "UPDATE approvals_auditevent SET previous_digest = %s, digest = %s WHERE id = %s",
            [previous, digest, event.pk],
        )
        previous = digest
    settings.SIGNOFF_AUDIT_KEY = real_key

    problems = audit_log_problems()
    assert problems and f"event #{decision.pk}" in problems[0]


def test_a_forged_checkpoint_is_refused(history, settings):
    forged = next(settings.SIGNOFF_AUDIT_CHECKPOINT_DIR.glob("checkpoint-*.json"))
    forged.write_text(forged.read_text().replace('"count": ', '"count": 1'))
    assert any("signature" in problem for problem in audit_log_problems())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_runtime_role_may_not_update_delete_truncate_audit_events_nor_disable_triggers(history):
    role = f"signoff_runtime_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    try:
        call_command("audit_grant_runtime_role", role)
        settings = connection.settings_dict
        runtime = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"], dbname=settings["NAME"], user=role, autocommit=True
        )
        with runtime, runtime.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM approvals_auditevent")
            assert cursor.fetchone()[0] == len(history)
            for statement in (
                "UPDATE approvals_auditevent SET comment = 'x'",
                "DELETE FROM approvals_auditevent",
                "TRUNCATE approvals_auditevent CASCADE",
                "ALTER TABLE approvals_auditevent DISABLE TRIGGER ALL",
                "SET session_replication_role = replica",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    cursor.execute(statement)
            cursor.execute("SELECT count(*) FROM registry_registeredmodel")  # the application's tables work
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.postgres
@pytest.mark.parametrize(
    "assignment", ["metrics = '{\"accuracy\": 0.99}'", "artifact_sha256 = 'forged'", "code_commit = 'other'"]
)
def test_a_submitted_version_cannot_be_edited_in_the_database(people, awaiting_manager, assignment):
    version = awaiting_manager.version
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE registry_modelversion SET {assignment} WHERE id = %s", [version.pk])
    assert ModelVersion.objects.get(pk=version.pk).metrics == version.metrics


def test_a_checkpoint_is_also_e_mailed_to_the_auditors(history, settings, mailoutbox):
    settings.SIGNOFF_AUDIT_CHECKPOINT_EMAILS = ["auditors@example.com"]
    call_command("audit_checkpoint")
    message = mailoutbox[-1]
    assert message.to == ["auditors@example.com"]
    assert f"#{history[-1].pk}" in message.subject and '"signature"' in message.body


def test_beat_writes_a_checkpoint_every_hour_by_default(history, settings, tmp_path):
    from audit import tasks
    from config.celery import app as celery_app

    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["schedule"] == 3600.0 and entry["task"] in celery_app.tasks
    settings.SIGNOFF_AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    celery_app.tasks[entry["task"]]()  # what beat runs, on a default install
    [written] = (tmp_path / "checkpoints").iterdir()
    assert json.loads(written.read_text())["event_id"] == history[-1].pk  # the newest event is signed
    assert tasks.audit_checkpoint.name == entry["task"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_model_has_its_own_chain_and_they_append_in_parallel(people, risk_model, growth_model):
    import threading

    from audit.services import audit_record

    finished = threading.Event()

    def append_for_growth():
        audit_record(actor=people.gina, verb="note", obj=growth_model, model=growth_model)
        finished.set()
        connection.close()

    with transaction.atomic():  # holds credit-risk's chain until it commits
        audit_record(actor=people.dana, verb="note", obj=risk_model, model=risk_model)
        other = threading.Thread(target=append_for_growth)
        other.start()
        assert finished.wait(timeout=10), "growth's event waited for credit-risk's chain"
    other.join()

    chains = dict(AuditEvent.objects.filter(verb="note").values_list("model__name", "chain"))
    assert chains == {"credit-risk": risk_model.pk, "churn": growth_model.pk}
    assert audit_chain_first_break() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_workers_role_cannot_decide_nor_change_identities(people, awaiting_manager):
    """What code that took over a worker could do with its connection: not approve anything."""
    role = f"signoff_worker_{uuid.uuid4().hex[:8]}"
    step = awaiting_manager.current_step
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    try:
        call_command("audit_grant_runtime_role", role, "--worker")
        settings = connection.settings_dict
        worker = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"], dbname=settings["NAME"], user=role, autocommit=True
        )
        with worker, worker.cursor() as cursor:
            for statement in (
                "INSERT INTO approvals_decision (request_id, step_id, actor_id, verdict, comment, created_at, round,"
                f" evidence, evidence_digest) VALUES ({awaiting_manager.pk}, {step.pk}, {people.mona.pk}, 'approve',"
                " 'forged', now(), 1, '{}', '')",
                f"UPDATE auth_user SET is_superuser = true WHERE id = {people.dana.pk}",
                f"INSERT INTO auth_user_groups (user_id, group_id) SELECT {people.dana.pk}, id FROM auth_group",
                "DELETE FROM accounts_passwordsetbyother",
                # a workflow with no human step, made the default or assigned: no decision needed
                "INSERT INTO approvals_workflowrevision (workflow_id, number, source, digest, note, created_at)"
                " SELECT id, 99, 'name: x', '', '', now() FROM approvals_workflow",
                "UPDATE approvals_workflow SET is_default = false",
                "DELETE FROM approvals_workflowassignment",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    cursor.execute(statement)
            with pytest.raises(psycopg.errors.RaiseException, match="only a decision approves it"):
                cursor.execute(f"UPDATE approvals_stepstate SET status = 'approved' WHERE id = {step.pk}")
            cursor.execute(f"UPDATE approvals_promotionrequest SET updated_at = now() WHERE id = {awaiting_manager.pk}")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
    step.refresh_from_db()
    assert step.status == "waiting" and not awaiting_manager.decisions.exists()


@pytest.mark.parametrize("assignment", [{"model_card": {"limitations": "none"}}, {"description": "rewritten"}])
def test_a_submitted_versions_card_and_description_cannot_be_changed_on_any_database(awaiting_manager, assignment):
    version = awaiting_manager.version
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(**assignment)
    assert ModelVersion.objects.get(pk=version.pk).model_card == version.model_card


def test_audit_events_and_human_steps_are_guarded_on_any_database(awaiting_manager):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(comment="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    with pytest.raises(DatabaseError, match="only a decision approves it"), transaction.atomic():
        StepState.objects.filter(pk=awaiting_manager.current_step_id).update(status="approved")
