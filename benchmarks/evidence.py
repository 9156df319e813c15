"""Benchmark: how long the evidence takes — submit → all checks done, the comparison page, the request page.

Run on PostgreSQL with Redis (it creates and drops its own database, ``signoff_bench``):

    .venv/bin/python -m benchmarks.evidence [--versions 100000] [--submissions 10] [--repeat 15]

1. The database is filled with ``--versions`` versions (``benchmarks.lists``), then the demo's
   credit-risk model is registered beside them with a 10,000-row hold-out dataset and a
   production version that has been measured.
2. A real Celery worker process (``--concurrency 2``, idle) runs the shipped default workflow:
   ``--submissions`` times a new candidate version is registered and submitted, and the time
   from the submission to the moment every check of the request has finished is recorded
   (polled every 50 ms). Printed: median, min and max.
3. The comparison page of 6 versions and the request page of the last candidate are requested
   ``--repeat`` times (warm, persistent connection, sessions in Redis): median server time in
   Django (wall time of the request in-process) and the number of SQL statements.
4. ``--rows 10000,100000,1000000``: for each size and each of a 150-tree gradient-boosting model
   and a 200-tree random forest, a model of its own gets a hold-out of that many rows, a measured
   production version and a candidate; printed: how each check of the candidate's request ended
   and took (from its start to its end in the worker), beside the floor: the model's own
   ``predict`` and ``predict_proba`` on the same rows, in this process, the CSV already parsed.
"""

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import time

from benchmarks.lists import BENCH_DB, SERVER, generate, recreate_database

BROKER = "redis://127.0.0.1:6379/7"


def start_worker(environment: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
    return subprocess.Popen(command, env=environment, start_new_session=True)


def stop_worker(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # warm shutdown: the pool processes finish, then stop
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def checks_done(request) -> bool:
    from approvals.models import CheckRun

    runs = CheckRun.objects.filter(step__request=request)
    return runs.exists() and not runs.filter(status__in=("pending", "running")).exists()


def wait_for_checks(request, timeout: float = 300) -> float:
    started = time.perf_counter()
    while not checks_done(request):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"request #{request.pk}: checks not done after {timeout} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def timed_page(client, url: str, repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        assert client.get(url).status_code == 200, url
    times, statements = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
        statements = len(queries)
    return statistics.median(times), statements


SIZED_ESTIMATORS = {
    "gradient boosting, 150 trees": ("gradient_boosting", {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1}),
    "random forest, 200 trees": ("random_forest", {"n_estimators": 200, "max_depth": 8}),
}


def evidence_at_size(people, team, rows: int, label: str) -> dict:
    """One model with a ``rows``-row hold-out: each check of a candidate's request (status, seconds)
    and the model's own prediction time on the same rows."""
    import joblib
    import pandas as pd
    from django.core.files.base import ContentFile
    from django.db import transaction

    from approvals import services
    from demo import seed, training
    from evidence.datasets import evaluation_dataset_profile, evaluation_dataset_register
    from registry.services import model_version_create, model_version_set_stage, registered_model_create

    estimator, params = SIZED_ESTIMATORS[label]
    model = registered_model_create(
        name=f"{estimator.replace('_', '-')}-{rows}", description="Benchmark", team=team, created_by=people["dana"]
    )
    holdout = training.holdout_csv(
        training.credit_applications, target="defaulted", segment=training.age_band, rows=rows
    )
    dataset = evaluation_dataset_register(
        model=model, file=ContentFile(holdout, name="holdout.csv"), name="holdout", target_column="defaulted",
        sensitive_columns=["segment"], actor=people["quinn"],
    )  # fmt: skip
    evaluation_dataset_profile(dataset_id=dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == "ready", dataset.problem
    trained = training.train(training.credit_applications, estimator=estimator, params=params, seed=2)
    card = seed.model_card(seed.MODELS[0], seed.DemoVersion(estimator, {}, "a93f2c1", "2026-09-30"))

    def register():
        return model_version_create(
            model=model, created_by=people["dana"], artifact=ContentFile(trained.artifact, name="model.joblib"),
            metrics=trained.metrics, params=params, model_card=card,
        )  # fmt: skip

    production = register()
    wait_for_checks(services.promotion_request_submit(version=production, actor=people["dana"]), timeout=900)
    with transaction.atomic():
        model_version_set_stage(version=production, stage="production")
    request = services.promotion_request_submit(version=register(), actor=people["dana"])
    wall = wait_for_checks(request, timeout=900)
    checks = {
        run.check_type: (run.status, (run.finished_at - run.started_at).total_seconds())
        for run in request.steps.first().check_runs.all()
    }
    bundle = joblib.load(io.BytesIO(trained.artifact))  # the benchmark's own bytes
    frame = pd.read_csv(io.BytesIO(holdout))[bundle["features"]].to_numpy()  # as it was trained
    started = time.perf_counter()
    bundle["model"].predict(frame)
    bundle["model"].predict_proba(frame)
    floor = time.perf_counter() - started
    return {"checks": checks, "wall": wall, "floor": floor}


def print_sizes(results: dict) -> None:
    print("\nper check, seconds in the worker (status), beside the model's own predict + predict_proba:")
    for (label, rows), result in results.items():
        print(f"  {label}, {rows:,} rows: floor {result['floor']:.2f} s; all checks done {result['wall']:.2f} s")
        for check, (status, seconds) in result["checks"].items():
            print(f"    {check:<26} {seconds:7.2f} s  {status}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rows", default="", help="comma-separated hold-out sizes for step 4, e.g. 10000,100000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.rows.split(",") if size]

    recreate_database()
    os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DB}"
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/8")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from django.test.utils import setup_test_environment

    from approvals import services
    from demo import seed, training
    from evidence.datasets import evaluation_dataset_profile, evaluation_dataset_register
    from registry.models import Team
    from registry.services import model_version_create, model_version_set_stage, registered_model_create

    setup_test_environment()
    call_command("migrate", verbosity=0)
    print(f"filling the database with {args.versions:,} versions…", flush=True)
    people = generate(args.versions, audit_events=args.versions)
    team = Team.objects.get(slug="bench")
    model = registered_model_create(name="credit-risk", description="Benchmark", team=team, created_by=people["dana"])
    holdout = training.holdout_csv(
        training.credit_applications, target="defaulted", segment=training.age_band, rows=10_000
    )
    dataset = evaluation_dataset_register(
        model=model, file=ContentFile(holdout, name="holdout.csv"), name="holdout-10k", target_column="defaulted",
        sensitive_columns=["segment"], actor=people["quinn"],
    )  # fmt: skip
    evaluation_dataset_profile(dataset_id=dataset.pk)
    trained = training.train(
        training.credit_applications, estimator="gradient_boosting",
        params={"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1}, seed=2,
    )  # fmt: skip
    card = seed.model_card(seed.MODELS[0], seed.DemoVersion("gradient_boosting", {}, "a93f2c1", "2026-09-30"))

    def register():
        return model_version_create(
            model=model, created_by=people["dana"], artifact=ContentFile(trained.artifact, name="credit-risk.joblib"),
            metrics=trained.metrics, params={"n_estimators": 150}, model_card=card,
        )  # fmt: skip

    environment = {**os.environ}
    worker = start_worker(environment)
    try:
        time.sleep(5)  # the worker is up and idle
        production = register()
        wait_for_checks(services.promotion_request_submit(version=production, actor=people["dana"]))
        with transaction.atomic():
            model_version_set_stage(version=production, stage="production")
        durations, request = [], None
        for _ in range(args.submissions):
            request = services.promotion_request_submit(version=register(), actor=people["dana"])
            durations.append(wait_for_checks(request))
        statuses = {run.check_type: run.status for run in request.steps.first().check_runs.all()}
        sized = {
            (label, rows): evidence_at_size(people, team, rows, label) for rows in sizes for label in SIZED_ESTIMATORS
        }
    finally:
        stop_worker(worker)

    client = Client()
    client.force_login(people["mona"])
    numbers = "&".join(f"v={v.number}" for v in model.versions.order_by("-number")[:6])
    compare_ms, compare_statements = timed_page(client, f"/models/credit-risk/compare/?{numbers}", args.repeat)
    request_ms, request_statements = timed_page(client, f"/requests/{request.pk}/", args.repeat)

    print(f"versions in the database: {args.versions:,}; dataset: 10,000 rows; worker: 1 process, concurrency 2")
    print(f"last request's checks: {statuses}")
    print(
        f"submit → all checks done: median {statistics.median(durations):.2f} s "
        f"(min {min(durations):.2f}, max {max(durations):.2f}, n={len(durations)})"
    )
    print(f"comparison page, 6 versions: median {compare_ms:.1f} ms, {compare_statements} statements")
    print(f"request page: median {request_ms:.1f} ms, {request_statements} statements")
    if sized:
        print_sizes(sized)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
