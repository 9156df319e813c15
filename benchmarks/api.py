"""Benchmark: the write and read path through the API and pages of a running Signoff.

Start Signoff first (PostgreSQL, gunicorn with 2 sync workers, one Celery worker), e.g.:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/signoff_bench_api CELERY_BROKER_URL=redis://127.0.0.1:6379/3
    .venv/bin/python manage.py migrate
    .venv/bin/gunicorn config.wsgi --workers 2 --bind 127.0.0.1:8300 &
    .venv/bin/celery -A config worker --concurrency 1 &
    .venv/bin/python -m benchmarks.api --url http://127.0.0.1:8300 --models 20 --versions 10 --threads 4

With the same DATABASE_URL it creates its personas and tokens, then drives the scenario: create
N models, register M versions of each (4 KB artifacts, a quarter also submitted), read versions,
and load the reviewer queue page (50 rows). It prints ops/s, p50 / p95 latency, and server CPU
milliseconds per operation summed over every gunicorn and celery process (from /proc).
"""

import argparse
import http.cookiejar
import json
import os
import re
import statistics
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> float:
    """User + system CPU of every gunicorn and celery process on this machine."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
            if b"gunicorn" not in cmdline and b"celery" not in cmdline:
                continue
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def personas():
    """Dana (data scientist) and Mona (manager) of a bench team, with API tokens."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.services import api_token_create
    from registry.models import Team
    from registry.roles import DATA_SCIENTIST, MANAGER

    group, _ = Group.objects.get_or_create(name="team bench")
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench", "group": group})
    users = {}
    for name, role in (("bench-dana", DATA_SCIENTIST), ("bench-mona", MANAGER)):
        user, created = get_user_model().objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
        user.set_password("bench-password-1")
        user.save()
        user.groups.add(Group.objects.get(name=role), group)
        users[name] = api_token_create(user=user, name=f"bench {uuid.uuid4().hex[:6]}")[1]
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


def phase(name, tasks, threads):
    cpu_before, started = server_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        latencies = list(pool.map(lambda task: task(), tasks))
    wall = time.perf_counter() - started
    cpu = server_cpu_seconds() - cpu_before
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(
        f"{name:<34} {len(latencies):>6} {len(latencies) / wall:>8.1f} {statistics.median(latencies) * 1000:>8.1f}"
        f" {p95 * 1000:>8.1f} {cpu * 1000 / len(latencies):>9.1f}"
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8300")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    tokens = personas()
    dana, base, run = tokens["bench-dana"], args.url.rstrip("/"), uuid.uuid4().hex[:6]
    names = [f"bench-{run}-{i}" for i in range(args.models)]
    print(f"{'operation':<34} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms/op':>9}")

    def create(name):
        body = json.dumps({"name": name, "team": "bench"}).encode()
        return lambda: call(f"{base}/api/models/", "POST", dana, body, "application/json")[0]

    phase("create a model", [create(name) for name in names], args.threads)

    def register(name, index):
        def task():
            body, content_type = multipart(
                {"metrics": json.dumps({"accuracy": 0.9}), "params": json.dumps({"C": 1.0})}, os.urandom(4096)
            )
            took, _, payload = call(f"{base}/api/models/{name}/versions/", "POST", dana, body, content_type)
            if index % 4 == 0:
                number = json.loads(payload)["number"]
                took += call(f"{base}/api/models/{name}/versions/{number}/submit/", "POST", dana)[0]
            return took

        return task

    phase(
        "register a version (1/4 submitted)",
        [register(name, i) for i in range(args.versions) for name in names],
        args.threads,
    )
    reads = [
        (lambda n=name, v=v: call(f"{base}/api/models/{n}/versions/{v}/", token=dana)[0])
        for name in names
        for v in range(1, args.versions + 1)
    ]
    phase("read a version", reads, args.threads)
    mona = logged_in_opener(base, "bench-mona")
    phase(
        "reviewer queue page (all, 25 rows)",
        [lambda: call(f"{base}/requests/?view=all", opener=mona)[0] for _ in range(100)],
        args.threads,
    )
    phase(
        "waiting for me (API, 50 rows)",
        [lambda: call(f"{base}/api/requests/?awaiting=me", token=tokens["bench-mona"])[0] for _ in range(100)],
        args.threads,
    )


if __name__ == "__main__":
    main()
