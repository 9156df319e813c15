"""Benchmark: list pages and endpoints with 100,000 versions and a million audit events.

Run on PostgreSQL (it creates and drops its own database, ``signoff_bench``):

    .venv/bin/python -m benchmarks.lists [--versions 100000] [--audit-events 1000000]

Rows are generated in the database with ``generate_series`` (the audit events' digests are
placeholders, not a verifiable chain) (minutes with the ORM, seconds
this way), then each page is requested through Django's test client as a manager and a
data scientist, and the median time and the number of queries are printed. Not part of
``make test``: timings belong in benchmarks, not in tests.
"""

import argparse
import os
import statistics
import sys
import time

import psycopg

BENCH_DB = "signoff_bench"
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def recreate_database():
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {BENCH_DB}")


def generate(versions: int, audit_events: int, models: int = 100):
    """Fill the database: ``models`` models share ``versions`` versions; every fifth version
    has a request (one in five of those open at the manager), and ``audit_events`` events."""
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from registry.models import Team

    team_group = Group.objects.create(name="team bench")
    team = Team.objects.create(name="Bench", slug="bench", group=team_group)
    roles = {
        name: Group.objects.get(name=name) for name in ("data scientist", "manager", "data analyst", "IT engineer")
    }
    people = {}
    for username, role in (
        ("dana", "data scientist"),
        ("mona", "manager"),
        ("quinn", "data analyst"),
        ("ivan", "IT engineer"),
    ):
        user = User.objects.create_user(username, f"{username}@example.com", "bench")
        user.groups.add(roles[role], team_group)
        people[username] = user
    per_model = versions // models
    statements = [
        f"""INSERT INTO registry_registeredmodel (name, description, team_id, created_by_id, created_at)
            SELECT 'model-' || i, 'Benchmark model ' || i, {team.pk}, {people["dana"].pk}, now()
            FROM generate_series(1, {models}) i""",
        f"""INSERT INTO registry_registeredmodelgroupobjectpermission (permission_id, group_id, content_object_id)
            SELECT p.id, {team_group.pk}, m.id FROM registry_registeredmodel m, auth_permission p
            WHERE p.codename = 'view_registeredmodel'""",
        f"""INSERT INTO registry_modelversion (model_id, number, description, artifact, artifact_sha256, artifact_size,
                metrics, params, dataset_uri, dataset_version, code_repository, code_commit, stage, created_by_id,
                created_at, submitted_at, stage_note, model_card)
            SELECT m.id, n, '', 'artifacts/bench.joblib', repeat('a', 64), 1024,
                jsonb_build_object('accuracy', 0.8 + random() / 10, 'f1', 0.7 + random() / 10, 'roc_auc', 0.9),
                '{{"C": 1.0}}'::jsonb, 's3://bench/data.parquet', 'v1', 'https://git.example.com/bench', 'abc123',
                'development', {people["dana"].pk}, now() - (n || ' minutes')::interval, now(), '', '{{}}'::jsonb
            FROM registry_registeredmodel m, generate_series(1, {per_model}) n""",
        f"""INSERT INTO approvals_promotionrequest (model_id, version_id, workflow_name, workflow_source, status,
                submitted_by_id, submitted_at, updated_at, closed_at)
            SELECT v.model_id, v.id, 'default', '',
                CASE WHEN v.id % 25 = 0 THEN 'awaiting_review' ELSE 'rejected' END,
                {people["dana"].pk}, v.created_at, v.created_at,
                CASE WHEN v.id % 25 = 0 THEN NULL ELSE v.created_at END
            FROM registry_modelversion v WHERE v.id % 5 = 0""",
        """INSERT INTO approvals_stepstate (request_id, position, name, title, kind, config, status,
                required_approvals, started_at, note, round, "group", result, allow_deciders_of)
            SELECT r.id, 1, 'manager_review', 'Manager review', 'approval', '{}'::jsonb,
                CASE WHEN r.status = 'awaiting_review' THEN 'waiting' ELSE 'rejected' END, 1, r.submitted_at, '', 1,
                '', '{}'::jsonb, ''
            FROM approvals_promotionrequest r""",
        """UPDATE approvals_promotionrequest r SET current_step_id = s.id
            FROM approvals_stepstate s WHERE s.request_id = r.id""",
        f"""INSERT INTO approvals_stepstate_approver_groups (stepstate_id, group_id)
            SELECT s.id, {roles["manager"].pk} FROM approvals_stepstate s""",
        f"""INSERT INTO approvals_decision (request_id, step_id, actor_id, verdict, comment, created_at, round,
                evidence, evidence_digest)
            SELECT r.id, r.current_step_id, {people["mona"].pk}, 'reject', 'Not yet.', r.updated_at, 1, '{{}}', ''
            FROM approvals_promotionrequest r WHERE r.status = 'rejected'""",
        f"""INSERT INTO approvals_auditevent (created_at, actor_id, verb, object_type, object_id, object_repr,
                model_id, request_id, from_state, to_state, comment, data, chain, previous_digest, digest)
            SELECT now() - (i || ' seconds')::interval, {people["mona"].pk}, 'decision.reject', 'stepstate', i::text,
                'Manager review', r.model_id, r.id, 'waiting', 'rejected', '', '{{}}'::jsonb, r.model_id,
                '', encode(sha256(i::text::bytea), 'hex')
            FROM generate_series(1, {audit_events}) i
            JOIN approvals_promotionrequest r ON r.id = 1 + (i % (SELECT count(*) FROM approvals_promotionrequest))""",
        "ANALYZE",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return people


def measure(client, url, repeat, headers):
    from django.db import connection, reset_queries

    timings, queries = [], 0
    for _ in range(repeat):
        reset_queries()
        started = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(connection.queries)
    return statistics.median(timings), queries


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    recreate_database()
    os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "true"  # connection.queries is recorded only with DEBUG
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.services import api_token_create

    setup_test_environment()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    people = generate(args.versions, args.audit_events)
    print(
        f"generated {args.versions:,} versions and {args.audit_events:,} audit events "
        f"in {time.perf_counter() - started:.1f} s"
    )

    from approvals.models import PromotionRequest
    from audit.models import AuditEvent
    from registry.models import ModelVersion

    print(
        f"rows: {ModelVersion.objects.count():,} versions, {PromotionRequest.objects.count():,} requests, "
        f"{AuditEvent.objects.count():,} audit events"
    )
    request_id = (
        PromotionRequest.objects.filter(status="awaiting_review").order_by("-pk").values_list("pk", flat=True)[0]
    )
    client = Client()
    client.force_login(people["mona"])
    _, token = api_token_create(user=people["mona"], name="benchmark")
    api = {"HTTP_AUTHORIZATION": f"Token {token}"}
    pages = [
        ("/", {}),
        ("/models/", {}),
        ("/models/model-1/", {}),
        ("/models/model-1/versions/100/", {}),
        ("/requests/", {}),
        ("/requests/?view=all", {}),
        ("/requests/?view=all&page=200", {}),
        (f"/requests/{request_id}/", {}),
        ("/audit/", {}),
        ("/audit/?model=model-7", {}),
        ("/api/models/", api),
        ("/api/models/model-1/versions/", api),
        ("/api/requests/?awaiting=me", api),
        ("/api/requests/?status=rejected", api),
        ("/api/audit-events/", api),
        ("/api/audit-events/?model=model-7", api),
    ]
    print(f"{'page':<45} {'median ms':>10} {'queries':>8}")
    for url, headers in pages:
        median, queries = measure(client, url, args.repeat, headers)
        print(f"{url:<45} {median:>10.1f} {queries:>8}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
