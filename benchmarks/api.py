"""Benchmark: the write and read path of a running Signoff, side by side with MLflow's registry.

Signoff (PostgreSQL, gunicorn with 2 sync workers, one Celery worker):

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/signoff_bench_api CELERY_BROKER_URL=redis://127.0.0.1:6379/3
    export CACHE_URL=redis://127.0.0.1:6379/4
    export SIGNOFF_DEFAULT_WORKFLOW=tests/workflows/basic.yaml  # the bench models have no datasets
    .venv/bin/python manage.py migrate  # installs that default workflow
    export SIGNOFF_API_RATE_USER=100000/min  # the scenario's client is one user
    .venv/bin/gunicorn config.wsgi --workers 2 --bind 127.0.0.1:8300 &
    .venv/bin/celery -A config worker --concurrency 1 &
    .venv/bin/python -m benchmarks.api --url http://127.0.0.1:8300 --models 20 --versions 10 --threads 4

MLflow 3 (its own virtualenv; PostgreSQL as its backend store, artifacts served by the server):

    python3 -m venv /tmp/mlflow && /tmp/mlflow/bin/pip install 'mlflow>=3,<4' psycopg2-binary
    createdb -h 127.0.0.1 -U postgres mlflow_bench
    /tmp/mlflow/bin/mlflow server --backend-store-uri postgresql://postgres@127.0.0.1:5432/mlflow_bench \
        --artifacts-destination /tmp/mlflow-artifacts --workers 2 --port 5500 &
    .venv/bin/python -m benchmarks.api --mlflow http://127.0.0.1:5500 --models 20 --versions 10 --threads 4

The scenario is the same for both, one connection per request: create N models; register M
versions of each with a 4 KB artifact, a metric and a parameter (Signoff: one multipart POST,
a quarter then submitted; MLflow: ``runs/create``, ``runs/log-batch``, the artifact PUT to its
artifact proxy and ``model-versions/create``, a quarter then given the alias ``candidate``,
MLflow's nearest thing to a submission); then ANALYZE, as autovacuum would; read versions; list 50
versions for review (Signoff: ``/api/requests/?awaiting=me`` and the queue page; MLflow:
``model-versions/search``); and the governed life cycle of ``--lifecycles`` versions, one at a
time (Signoff: register, submit, the basic workflow's checks in the worker, the manager's and
the data analyst's approvals, the promotion to QA, the IT engineer's deployment and every
e-mail, waiting for each step; MLflow: register, then the two stage transitions to Staging and
Production, archiving the previous one). It prints ops/s, p50 / p95 latency, the server CPU milliseconds per
operation summed over every application process (Signoff: gunicorn and celery; MLflow: the
``mlflow server`` process tree), and the PostgreSQL backends' CPU milliseconds per operation
(from /proc, processes serving the benchmark's database). Run one server at a time, on an
otherwise idle machine.

To compare two checkouts (a ``git worktree`` of the commit before a change, say) that share one
virtualenv, start each one's servers with ``PYTHONPATH`` set to that checkout: the virtualenv's
editable install points at the first, and Celery imports only ``config`` from the working
directory, so a worker started elsewhere runs the first checkout's apps.
"""

import argparse
import http.cookiejar
import json
import os
import pickle
import random
import re
import statistics
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, bytes, float]]:
    """pid -> (parent pid, command line, CPU seconds) of every process: its own user and system
    time and that of its children it has reaped. Without the latter, work done in short-lived
    children (the sandbox's forked check runs, which exit before the phase ends) went uncounted."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(pid)] = (int(fields[1]), cmdline, sum(map(int, fields[11:15])) / CLOCK_TICKS)
    return found


def cpu_seconds(
    patterns: tuple[bytes, ...], database: str, exclude: tuple[bytes, ...] = (), client_backends=frozenset()
) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds by pid of the application's processes (those whose command line holds one of
    ``patterns``, and their descendants, less those whose command line holds one of ``exclude``)
    and of the PostgreSQL backends serving ``database`` (less ``client_backends``: the
    benchmark's own connection, which polls for the end of background work)."""
    processes = _processes()
    roots = {pid for pid, (_, cmdline, _) in processes.items() if any(p in cmdline for p in patterns)}
    application, postgres = {}, {}
    for pid, (_parent, cmdline, cpu) in processes.items():
        if cmdline.startswith(b"postgres:") and f" {database} ".encode() in cmdline:
            if pid not in client_backends:
                postgres[pid] = cpu
            continue
        ancestor, seen = pid, set()
        while ancestor and ancestor not in roots and ancestor not in seen:
            seen.add(ancestor)
            ancestor = processes.get(ancestor, (0,))[0]
        if ancestor in roots and b"benchmarks.api" not in cmdline and not any(e in cmdline for e in exclude):
            application[pid] = cpu
    return application, postgres


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes alive at the end spent since ``before`` (a process that started
    meanwhile counts whole). A process that exited meanwhile (a database backend closing its idle
    connection) is left out: its last seconds are unknown, and subtracting its total would make
    the figure negative. A child its parent reaped meanwhile counts in its parent's figure."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def personas():
    """Dana (data scientist), Mona (manager), Quinn (data analyst) and Ivan (IT engineer) of a
    bench team, with API tokens (every scope)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.models import Scope
    from accounts.services import api_token_create
    from registry.models import Team
    from registry.roles import DATA_ANALYST, DATA_SCIENTIST, IT_ENGINEER, MANAGER

    group, _ = Group.objects.get_or_create(name="team bench")
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench", "group": group})
    users = {}
    roles = (("bench-dana", DATA_SCIENTIST), ("bench-mona", MANAGER), ("bench-quinn", DATA_ANALYST),
             ("bench-ivan", IT_ENGINEER))  # fmt: skip
    for name, role in roles:
        user, created = get_user_model().objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
        user.set_password("bench-password-1")
        user.save()
        user.groups.add(Group.objects.get(name=role), group)
        users[name] = api_token_create(user=user, name=f"bench {uuid.uuid4().hex[:6]}", scopes=list(Scope.values))[1]
    return users


def call(url, method="GET", token=None, body=None, content_type=None, opener=None):
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    started = time.perf_counter()
    with (opener or urllib.request.build_opener()).open(request, timeout=60) as response:
        payload = response.read()
        status = response.status
    return time.perf_counter() - started, status, payload


def multipart(fields: dict, artifact: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="artifact"; filename="model.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + artifact
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Meter:
    """Runs phases and prints a row each: ops/s, p50 / p95, the CPU per op of each part of the
    application (``parts``: a name and the command-line patterns of its processes) and of the
    PostgreSQL backends serving ``database``, less ``client_backends`` (the benchmark's own
    connection, which polls for the end of background work: a client's cost, not the server's)."""

    def __init__(self, parts: dict, database: str, threads: int, idle_seconds=5.0, exclude=(), client_backends=()):
        self.parts, self.database, self.threads, self.exclude = parts, database, threads, exclude
        self.client_backends = frozenset(client_backends)
        # What the processes burn doing nothing (pollers, heartbeats) is not the operations' cost.
        before, started = self.read(), time.perf_counter()
        time.sleep(idle_seconds)
        after, idle = self.read(), time.perf_counter() - started
        self.idle_rates = {name: spent(before[name], after[name]) / idle for name in parts}
        print(
            "idle CPU of the application's processes (subtracted below): "
            + ", ".join(f"{name} {rate * 1000:.1f} ms/s" for name, rate in self.idle_rates.items())
        )
        columns = "".join(f" {name + ' cpu ms/op':>16}" for name in parts)
        print(f"{'operation':<36} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p95 ms':>8}{columns} {'pg cpu ms/op':>12}")

    def read(self) -> dict[str, dict[int, float]]:
        """CPU seconds by pid of each part, and of the database backends (under "pg")."""
        found = {}
        for name, patterns in self.parts.items():
            found[name], found["pg"] = cpu_seconds(patterns, self.database, self.exclude, self.client_backends)
        return found

    def phase(self, name, tasks, settled=None):
        """Run ``tasks``; ``settled`` (if given) says when the background work they caused is
        done: the CPU is read then, so the worker's share counts with the operations causing it."""
        before = self.read()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            latencies = list(pool.map(lambda task: task(), tasks))
        wall = time.perf_counter() - started
        while settled is not None and not settled():
            time.sleep(0.2)
        after = self.read()
        busy = time.perf_counter() - started
        latencies.sort()
        count = len(latencies)
        p95 = latencies[min(count - 1, int(count * 0.95))]
        parts = "".join(
            f" {(spent(before[part], after[part]) - rate * busy) * 1000 / count:>16.1f}"
            for part, rate in self.idle_rates.items()
        )
        print(
            f"{name:<36} {count:>6} {count / wall:>8.1f} {statistics.median(latencies) * 1000:>8.1f} {p95 * 1000:>8.1f}"
            f"{parts} {spent(before['pg'], after['pg']) * 1000 / count:>12.1f}"
        )


def logged_in_opener(base, username):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": "bench-password-1", "csrfmiddlewaretoken": token})
    request = urllib.request.Request(f"{base}/login/", data=body.encode(), headers={"Referer": f"{base}/login/"})
    opener.open(request).read()
    return opener


def signoff(args, names):
    tokens = personas()
    dana, base = tokens["bench-dana"], args.url.rstrip("/")
    from django.conf import settings

    for _ in range(20):  # every web process has imported and warmed up before anything is measured
        call(f"{base}/api/models/", token=dana)
        call(f"{base}/api/requests/?awaiting=me", token=tokens["bench-mona"])

    def create(name):
        body = json.dumps({"name": name, "team": "bench"}).encode()
        return lambda: call(f"{base}/api/models/", "POST", dana, body, "application/json")[0]

    def register(name, index):
        def task():
            body, content_type = multipart(
                {"metrics": json.dumps({"accuracy": 0.9}), "params": json.dumps({"C": 1.0})},
                pickle.dumps({"weights": os.urandom(4040)}),  # about 4 KB that a loader can read
            )
            took, _, payload = call(f"{base}/api/models/{name}/versions/", "POST", dana, body, content_type)
            if index % 4 == 0:
                number = json.loads(payload)["number"]
                took += call(f"{base}/api/models/{name}/versions/{number}/submit/", "POST", dana)[0]
            return took

        return task

    from jobs.models import Job

    def worker_done():
        return not Job.objects.filter(status__in=[Job.Status.PENDING, Job.Status.RUNNING]).exists()

    warm_up(args, names, create, register)
    while not worker_done():
        time.sleep(0.2)
    from django.db import connection

    with connection.cursor() as cursor:  # the connection that polls for the worker's end
        cursor.execute("SELECT pg_backend_pid()")
        polling = [cursor.fetchone()[0]]
    meter = Meter(
        {"web": (b"gunicorn",), "worker": (b"celery",)},
        settings.DATABASES["default"]["NAME"],
        args.threads,
        client_backends=polling,
    )
    meter.phase("create a model", [create(name) for name in names])
    meter.phase(
        "register a version (1/4 submitted)",
        [register(name, i) for i in range(args.versions) for name in names],
        settled=worker_done,
    )
    reads = [
        (lambda n=name, v=v: call(f"{base}/api/models/{n}/versions/{v}/", token=dana)[0])
        for name in names
        for v in range(1, args.versions + 1)
    ]
    analyze(args, settings.DATABASES["default"]["NAME"])
    meter.phase("read a version", reads)
    meter.phase(
        "review queue, 50 rows (API)",
        [lambda: call(f"{base}/api/requests/?awaiting=me", token=tokens["bench-mona"])[0] for _ in range(100)],
    )
    mona = logged_in_opener(base, "bench-mona")
    meter.phase(
        "review queue page, 25 rows (HTML)",
        [lambda: call(f"{base}/requests/?view=all", opener=mona)[0] for _ in range(100)],
    )
    governed_life_cycle(args, base, tokens, names, meter)


def governed_life_cycle(args, base, tokens, names, meter):
    """One version at a time from registration to production, the test client waiting for each
    step as a person would (it reads the request's status from the database every 10 ms, on a
    connection the PostgreSQL figure leaves out: the client's polling is not the server's work)."""
    from approvals.models import PromotionRequest

    def wait(request_id, status, step=None):
        while True:
            row = PromotionRequest.objects.filter(pk=request_id).values("status", "current_step__name").first()
            if row["status"] == status and (step is None or row["current_step__name"] == step):
                return
            if row["status"] not in PromotionRequest.OPEN_STATUSES:
                raise RuntimeError(f"request #{request_id} ended {row['status']}")
            time.sleep(0.01)

    def decide(request_id, who):
        body = json.dumps({"decision": "approve", "comment": "ok"}).encode()
        took, status, payload = call(f"{base}/api/requests/{request_id}/decisions/", "POST", tokens[who], body,
                                     "application/json")  # fmt: skip
        assert status == 201, payload
        return took

    def life(name):
        def task():
            # A plain pickle of about 4 KB: the basic workflow's pickle scan passes it.
            weights = pickle.dumps({"weights": [random.random() for _ in range(450)]})
            body, content_type = multipart({"metrics": json.dumps({"accuracy": 0.9})}, weights)
            took, _, payload = call(f"{base}/api/models/{name}/versions/", "POST", tokens["bench-dana"], body,
                                    content_type)  # fmt: skip
            number = json.loads(payload)["number"]
            spent, _, payload = call(
                f"{base}/api/models/{name}/versions/{number}/submit/", "POST", tokens["bench-dana"]
            )
            took, request_id = took + spent, json.loads(payload)["id"]
            wait(request_id, "awaiting_review", "manager_review")
            took += decide(request_id, "bench-mona")
            wait(request_id, "awaiting_review", "qa_review")
            took += decide(request_id, "bench-quinn")
            wait(request_id, "awaiting_review", "deployment")
            took += decide(request_id, "bench-ivan")
            wait(request_id, "completed")
            return took

        return task

    threads, meter.threads = meter.threads, 1
    meter.phase("governed life cycle (basic workflow)", [life(names[i % len(names)]) for i in range(args.lifecycles)])
    meter.threads = threads


def mlflow(args, names):
    base = args.mlflow.rstrip("/")
    api = f"{base}/api/2.0/mlflow"
    for _ in range(20):
        call(f"{api}/registered-models/search?max_results=10")
        call(f"{api}/model-versions/search?max_results=10")

    def post(path, body):
        return call(f"{api}/{path}", "POST", body=json.dumps(body).encode(), content_type="application/json")

    def create(name):
        return lambda: post("registered-models/create", {"name": name})[0]

    experiment = json.loads(post("experiments/create", {"name": f"bench-{names[0]}"})[2])["experiment_id"]

    def register_version(name):
        """A version's source must be a run's artifact: the run, its metrics and parameters, the
        artifact, then the version (what Signoff's one multipart POST holds)."""
        took, _, payload = post("runs/create", {"experiment_id": experiment})
        run = json.loads(payload)["run"]["info"]
        metrics = [{"key": "accuracy", "value": 0.9, "timestamp": 0, "step": 0}]
        took += post(
            "runs/log-batch",
            {"run_id": run["run_id"], "metrics": metrics, "params": [{"key": "C", "value": "1.0"}]},
        )[0]
        path = f"{experiment}/{run['run_id']}/artifacts/model.bin"
        took += call(f"{base}/api/2.0/mlflow-artifacts/artifacts/{path}", "PUT", body=os.urandom(4096))[0]
        source = f"{run['artifact_uri']}/model.bin"
        spent, _, payload = post("model-versions/create", {"name": name, "source": source, "run_id": run["run_id"]})
        return took + spent, json.loads(payload)["model_version"]["version"]

    def register(name, index):
        def task():
            took, version = register_version(name)
            if index % 4 == 0:
                took += post("registered-models/alias", {"name": name, "alias": "candidate", "version": version})[0]
            return took

        return task

    warm_up(args, names, create, register)
    # MLflow 3's server also starts huey consumers for its own job feature (prompt optimisation
    # and the like), which poll all the time and take no part in the registry's operations.
    meter = Meter({"app": (b"mlflow server", b"mlflow.server")}, args.mlflow_database, args.threads, exclude=(b"huey",))
    meter.phase("create a model", [create(name) for name in names])
    meter.phase("register a version (1/4 aliased)", [register(name, i) for i in range(args.versions) for name in names])
    reads = [
        (lambda n=name, v=v: call(f"{api}/model-versions/get?name={n}&version={v}")[0])
        for name in names
        for v in range(1, args.versions + 1)
    ]
    analyze(args, args.mlflow_database)
    meter.phase("read a version", reads)
    meter.phase(
        "versions to review, 50 rows (API)",
        [lambda: call(f"{api}/model-versions/search?max_results=50")[0] for _ in range(100)],
    )

    def life(name):
        # MLflow 3.x removed stage transitions in later releases (400): its replacement is an
        # alias per stage, moved onto the version ("staging", then "champion").
        def task():
            took, version = register_version(name)
            for stage, alias in (("Staging", "staging"), ("Production", "champion")):
                try:
                    took += post("model-versions/transition-stage", {"name": name, "version": version, "stage": stage,
                                 "archive_existing_versions": stage == "Production"})[0]  # fmt: skip
                except urllib.error.HTTPError as error:
                    if error.code != 400:
                        raise
                    took += post("registered-models/alias", {"name": name, "alias": alias, "version": version})[0]
            return took

        return task

    threads, meter.threads = meter.threads, 1
    lives = [life(names[i % len(names)]) for i in range(args.lifecycles)]
    meter.phase("life cycle (register, 2 transitions or aliases)", lives)
    meter.threads = threads


def analyze(args, database):
    """Refresh the planner's statistics after the writes, as autovacuum would soon (a fresh
    table's are empty, and the plans chosen for the reads would be those of an empty table)."""
    import psycopg

    with psycopg.connect(f"{args.postgres}/{database}", autocommit=True) as connection:
        connection.execute("ANALYZE")


def warm_up(args, names, create, register):
    """Before anything is measured, every server process runs the write path a few times (first
    requests import modules and fill caches); the warm-up models are not measured."""
    warm = [f"{names[0]}-warm-{i}" for i in range(args.warmup)]
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(lambda name: create(name)(), warm))
        list(pool.map(lambda name: register(name, 0)(), warm))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8300", help="a running Signoff")
    parser.add_argument("--mlflow", help="a running MLflow server: benchmark it instead of Signoff")
    parser.add_argument("--mlflow-database", default="mlflow_bench", help="MLflow's PostgreSQL database")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432", help="the server, to ANALYZE")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=10, help="throw-away models created first, unmeasured")
    parser.add_argument("--lifecycles", type=int, default=20, help="versions taken through the whole life cycle")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    names = [f"bench-{run}-{i}" for i in range(args.models)]
    if args.mlflow:
        mlflow(args, names)
    else:
        signoff(args, names)


if __name__ == "__main__":
    main()
