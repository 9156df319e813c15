"""Races, through the API, on PostgreSQL, with the real worker process doing the background work:
no request errs or deadlocks, and where one winner is expected there is exactly one."""

import json
import pickle
import threading
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import Scope
from accounts.services import api_token_create
from approvals import services
from approvals.models import PromotionRequest, StepState
from audit.models import AuditEvent
from audit.services import audit_chain_first_break
from registry.models import ModelVersion, RegisteredModel
from tests import factories
from tests.integration.conftest import wait_for
from tests.integration.test_worker_loop import client_for, status_of, waiting_at

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def in_parallel(calls):
    """Run each call in its own thread (and database connection), started together; their results."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            start.wait()
            results[index] = call()
        except Exception as error:  # a crash is a result too: the assertions name it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def clients_of(user, count):
    """``count`` API clients (one per thread) sharing one token of ``user``'s."""
    _, key = api_token_create(user=user, name="parallel clients", scopes=list(Scope.values))
    clients = [APIClient() for _ in range(count)]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return clients


def statuses(responses):
    return Counter(getattr(response, "status_code", repr(response)) for response in responses)


def test_thirty_parallel_registrations_of_one_name_make_one_model(people, celery_worker_process):
    clients = clients_of(people.dana, 30)
    responses = in_parallel(
        [lambda c=c: c.post("/api/models/", {"name": "fraud", "team": "risk"}, format="json") for c in clients]
    )
    assert statuses(responses) == {201: 1, 400: 29}
    assert RegisteredModel.objects.filter(name="fraud").count() == 1


def test_twenty_parallel_submits_of_one_model_all_reach_the_manager(people, risk_model, celery_worker_process):
    versions = [factories.make_version(model=risk_model, by=people.dana) for _ in range(20)]
    clients = clients_of(people.dana, len(versions))
    responses = in_parallel(
        [
            lambda c=c, v=v: c.post(f"/api/models/credit-risk/versions/{v.number}/submit/")
            for c, v in zip(clients, versions, strict=True)
        ]
    )
    assert statuses(responses) == {201: 20}
    ids = [response.json()["id"] for response in responses]
    wait_for(
        lambda: all(waiting_at(pk, "manager_review") for pk in ids),
        timeout=90,
        what="the checks of 20 requests",
        worker=celery_worker_process,
    )
    assert audit_chain_first_break() is None  # 20 web writers and the worker, one chain, unbroken


def test_twenty_parallel_rollbacks_have_one_winner_and_the_others_learn_why(people, risk_model, celery_worker_process):
    first, _ = factories.make_production_history(model=risk_model, by=people.dana)
    clients = clients_of(people.ivan, 20)
    body = {"comment": "Latency regression.", "from_version": 2}
    responses = in_parallel([lambda c=c: c.post("/api/models/credit-risk/rollback/", body) for c in clients])

    assert statuses(responses) == {200: 1, 409: 19}
    refusals = {r.json()["detail"] for r in responses if r.status_code == 409}
    assert refusals == {"Version 2 was already rolled back by ivan; version 1 is in production."}
    assert ModelVersion.objects.get(model=risk_model, stage="production") == first


def test_four_parallel_deployments_of_one_model_deploy_one(people, risk_model, celery_worker_process, background):
    requests = []
    for _ in range(4):
        version = factories.make_version(model=risk_model, by=people.dana)
        request = services.promotion_request_submit(version=version, actor=people.dana)
        wait_for(lambda r=request: waiting_at(r.pk, "manager_review"), what="checks", worker=celery_worker_process)
        for reviewer, step in ((people.mona, "qa_review"), (people.quinn, "deployment")):
            seen = status_of(request.pk)
            services.step_decide(request=seen, actor=reviewer, verdict="approve")
            wait_for(lambda r=request, s=step: waiting_at(r.pk, s), what=step, worker=celery_worker_process)
        requests.append(request)

    clients = clients_of(people.ivan, len(requests))
    body = {"decision": "approve", "comment": "Go.", "production_version": None}
    responses = in_parallel(
        [
            lambda c=c, r=r: c.post(f"/api/requests/{r.pk}/decisions/", body, format="json")
            for c, r in zip(clients, requests, strict=True)
        ]
    )

    assert statuses(responses) == {201: 1, 409: 3}
    winner = requests[[r.status_code for r in responses].index(201)]
    wait_for(lambda: status_of(winner.pk).status == "completed", what="the deployment", worker=celery_worker_process)
    assert ModelVersion.objects.get(model=risk_model, stage="production") == winner.version
    for loser, response in zip(requests, responses, strict=True):
        if response.status_code == 409:
            assert "meanwhile" in response.json()["detail"]
            assert waiting_at(loser.pk, "deployment")  # still deployable later

    # Later, knowingly replacing the winner, the IT engineer deploys one of the others.
    loser = next(r for r, resp in zip(requests, responses, strict=True) if resp.status_code == 409)
    later = client_for(people.ivan).post(
        f"/api/requests/{loser.pk}/decisions/",
        {"decision": "approve", "comment": "Replaces it.", "production_version": winner.version.number},
        format="json",
    )
    assert later.status_code == 201, later.content
    wait_for(
        lambda: status_of(loser.pk).status == "completed", what="the later deployment", worker=celery_worker_process
    )


def test_two_reviewers_deciding_one_step_at_once_make_one_decision(people, risk_model, celery_worker_process):
    """Mona approves while Mike sends it back, at the same instant, while the worker runs the
    checks of other submissions: one decision counts, the other reviewer hears it was taken."""
    busy = [factories.make_version(model=risk_model, by=people.dana) for _ in range(4)]
    version = factories.make_version(model=risk_model, by=people.dana)
    request = services.promotion_request_submit(version=version, actor=people.dana)
    wait_for(lambda: waiting_at(request.pk, "manager_review"), what="checks", worker=celery_worker_process)
    for other in busy:  # the worker concludes these while the two decide
        services.promotion_request_submit(version=other, actor=people.dana)

    bodies = [
        (people.mona, {"decision": "approve", "comment": "Good to go."}),
        (people.mike, {"decision": "request_changes", "comment": "Recalibrate first."}),
    ]
    clients = [client_for(user) for user, _ in bodies]
    responses = in_parallel(
        [
            lambda c=c, b=b: c.post(f"/api/requests/{request.pk}/decisions/", b, format="json")
            for c, (_, b) in zip(clients, bodies, strict=True)
        ]
    )

    assert statuses(responses) == {201: 1, 409: 1}
    loser = next(r for r in responses if r.status_code == 409)
    assert "already decided" in loser.json()["detail"]
    step = StepState.objects.get(request=request, name="manager_review")
    assert step.decisions.count() == 1
    verdict = step.decisions.get().verdict
    expected = "qa_review" if verdict == "approve" else None
    if expected:
        wait_for(lambda: waiting_at(request.pk, expected), what="the QA step", worker=celery_worker_process)
    else:
        assert status_of(request.pk).status == "changes_requested"
    assert AuditEvent.objects.filter(request=request, verb__startswith="decision.").count() == 1
    wait_for(
        lambda: all(waiting_at(r.pk, "manager_review") for r in PromotionRequest.objects.filter(version__in=busy)),
        what="the other submissions' checks",
        worker=celery_worker_process,
    )


def test_registering_versions_while_submissions_of_the_same_model_are_audited(
    people, risk_model, celery_worker_process
):
    """Registrations lock the model row to number versions; submissions, and the worker running
    their checks, append to the model's audit chain and refer to that row meanwhile. Once such a
    registration deadlocked with the worker (FOR UPDATE against the audit rows' key-share)."""
    versions = [factories.make_version(model=risk_model, by=people.dana) for _ in range(8)]
    uploads, submits = clients_of(people.dana, 12), clients_of(people.dana, len(versions))
    calls = [lambda c=c, i=i: register_version(c, i) for i, c in enumerate(uploads)] + [
        lambda c=c, v=v: c.post(f"/api/models/credit-risk/versions/{v.number}/submit/")
        for c, v in zip(submits, versions, strict=True)
    ]
    responses = in_parallel(calls)

    assert statuses(responses) == {201: len(calls)}
    numbers = sorted(ModelVersion.objects.filter(model=risk_model).values_list("number", flat=True))
    assert numbers == list(range(1, len(versions) + len(uploads) + 1))
    ids = [r.json()["id"] for r in responses[len(uploads) :]]
    wait_for(
        lambda: all(waiting_at(pk, "manager_review") for pk in ids),
        timeout=90,
        what="the checks of the submissions",
        worker=celery_worker_process,
    )
    assert audit_chain_first_break() is None


def register_version(client, index):
    artifact = SimpleUploadedFile(f"model-{index}.joblib", pickle.dumps({"weights": [index]}))
    return client.post(
        "/api/models/credit-risk/versions/",
        {"artifact": artifact, "metrics": json.dumps({"accuracy": 0.91})},
        format="multipart",
    )


def test_parallel_emergency_asks_and_seconds_have_one_winner_each(people, risk_model, celery_worker_process):
    """Ten tries to ask for an emergency release of one request at once make one; then two
    managers agreeing at the same instant release it once (the other hears it was decided)."""
    version = factories.make_version(model=risk_model, by=people.dana)
    request = services.promotion_request_submit(version=version, actor=people.dana)
    wait_for(lambda: waiting_at(request.pk, "manager_review"), what="checks", worker=celery_worker_process)

    asks = in_parallel(
        [lambda c=c: c.post(f"/api/requests/{request.pk}/emergency/", {"justification": "Fraud spike; v1 misses it."},
                            format="json") for c in clients_of(people.ivan, 10)]
    )  # fmt: skip
    assert statuses(asks) == {201: 1, 409: 9}
    emergency_id = next(r for r in asks if r.status_code == 201).json()["id"]
    seconds = in_parallel(
        [lambda c=c: c.post(f"/api/requests/{request.pk}/emergency/{emergency_id}/",
                            {"release": True, "comment": "Agreed."}, format="json")
         for c in (client_for(people.mona), client_for(people.mike))]
    )  # fmt: skip
    assert statuses(seconds) == {200: 1, 409: 1}
    assert AuditEvent.objects.filter(request=request, verb="emergency.requested").count() == 1
    assert AuditEvent.objects.filter(request=request, verb="emergency.released").count() == 1
    wait_for(lambda: status_of(request.pk).status == "awaiting_review", what="the retrospective",
             worker=celery_worker_process)  # fmt: skip
