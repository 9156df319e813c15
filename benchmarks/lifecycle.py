"""Where the governed life cycle's time goes, in one process: statements per step and the share
of the time in e-mail, SQL, the sandbox, the audit chain and the evidence summary.

Background work runs eagerly (no broker, no fork server: sandbox starts cost more than in a
worker), so read the shares and the statement counts, not the milliseconds; ``benchmarks.api``
measures the running servers. Against a migrated database with the basic workflow:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/signoff_bench_api
    export SIGNOFF_DEFAULT_WORKFLOW=tests/workflows/basic.yaml
    .venv/bin/python -m benchmarks.lifecycle --runs 5
"""

import argparse
import cProfile
import os
import pickle
import pstats
import random
import time

PHASES = (
    ("bench-mona", "manager approves, promotion, e-mails"),
    ("bench-quinn", "QA approves, e-mails"),
    ("bench-ivan", "deployment, e-mails"),
)
SHARES = (
    ("e-mail delivery (recipients included)", "notifications/services.py:notification_send"),
    ("SQL execution", "psycopg/cursor.py:execute"),
    ("sandbox runs", "sandbox/__init__.py:run_in_sandbox"),
    ("audit records", "audit/services.py:audit_record"),
    ("evidence summaries", "approvals/selectors.py:request_evidence"),
    ("e-mail templates", "notifications/services.py:build_message"),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from approvals import services
    from benchmarks.api import personas
    from config.celery import app
    from registry.models import RegisteredModel, Team
    from registry.services import model_version_create, registered_model_create

    app.conf.task_always_eager = True
    personas()
    people = {user.username: user for user in get_user_model().objects.filter(username__startswith="bench-")}
    model = RegisteredModel.objects.filter(name="bench-lifecycle").first() or registered_model_create(
        name="bench-lifecycle", team=Team.objects.get(slug="bench"), created_by=people["bench-dana"]
    )

    def life() -> dict[str, int]:
        weights = pickle.dumps({"weights": [random.random() for _ in range(450)]})
        version = model_version_create(
            model=model, artifact=ContentFile(weights, name="model.pkl"), created_by=people["bench-dana"],
            metrics={"accuracy": 0.9},
        )  # fmt: skip
        counts = {}
        with CaptureQueriesContext(connection) as queries:
            request = services.promotion_request_submit(version=version, actor=people["bench-dana"])
        counts["submit, checks, e-mail"] = len(queries)
        for username, label in PHASES:
            request.refresh_from_db()
            with CaptureQueriesContext(connection) as queries:
                services.step_decide(request=request, actor=people[username], verdict="approve", comment="ok")
            counts[label] = len(queries)
        request.refresh_from_db()
        assert request.status == "completed", request.status
        return counts

    counts = life()
    print(f"statements per life cycle: {sum(counts.values())}")
    for label, count in counts.items():
        print(f"  {label}: {count}")
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(args.runs):
        life()
    profile.disable()
    total = (time.perf_counter() - started) / args.runs
    stats = pstats.Stats(profile).stats
    print(f"in-process time per life cycle: {total * 1000:.0f} ms (eager; shares below)")
    for label, where in SHARES:
        spent = sum(row[3] for key, row in stats.items() if where in f"{key[0]}:{key[2]}") / args.runs
        print(f"  {label}: {spent / total:.0%}")


if __name__ == "__main__":
    main()
