"""Benchmark: the "waiting for me" queue at 1k, 10k and 100k versions, PostgreSQL time per request.

Run on PostgreSQL (it creates and drops its own database, ``signoff_bench``, once per size):

    .venv/bin/python -m benchmarks.queue [--sizes 1000,10000,100000] [--repeat 15]

For each size the data of ``benchmarks.lists`` is generated (every fifth version has a request,
one in five of those waits at the manager), then the manager's queue is requested as a page
(``/requests/``, the default view), as the dashboard and through the API
(``/api/requests/?awaiting=me``). Printed per URL: the median over ``--repeat`` requests of the
time PostgreSQL spent (planning + execution of every statement, as EXPLAIN ANALYZE reports it
when the request's statements are replayed on the same warm connection), the median round-trip
time of those statements through the driver (adds psycopg's and Django's time per statement),
the median wall time of the whole request, and the number of statements. As in production:
a persistent connection, sessions in Redis.
"""

import argparse
import os
import statistics
import sys
import time

from benchmarks.lists import BENCH_DB, SERVER, generate, recreate_database

URLS = ("/requests/", "/", "/api/requests/?awaiting=me")


class StatementTimer:
    """Times every statement as the driver sees it (a database execute wrapper), and keeps the
    SELECTs to replay under EXPLAIN ANALYZE."""

    def __init__(self):
        self.seconds, self.statements, self.selects = 0.0, 0, []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1
            if sql.lstrip().upper().startswith("SELECT"):
                self.selects.append((sql, params))

    def server_milliseconds(self) -> float:
        """Planning + execution time PostgreSQL reports for the SELECTs, replayed on the same,
        warm connection: the database's own time, without the driver's and Python's."""
        from django.db import connection

        total = 0.0
        with connection.cursor() as cursor:
            for sql, params in self.selects:
                cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]
                total += plan["Planning Time"] + plan["Execution Time"]
        return total


def measure(client, url, repeat, headers):
    for _ in range(3):  # warm the connection's caches, as a running server's are
        client.get(url, **headers)
    server, driver, wall, statements = [], [], [], 0
    for _ in range(repeat):
        timer = StatementTimer()
        started = time.perf_counter()
        with connection_wrapped(timer):
            response = client.get(url, **headers)
        wall.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        driver.append(timer.seconds * 1000)
        server.append(timer.server_milliseconds())
        statements = timer.statements
    return statistics.median(server), statistics.median(driver), statistics.median(wall), statements


def connection_wrapped(timer):
    from django.db import connection

    return connection.execute_wrapper(timer)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    recreate_database()
    os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DB}"
    # As in production: sessions in the shared Redis cache (written through to the database).
    os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.services import api_token_create
    from approvals.models import PromotionRequest

    setup_test_environment()
    rows = []
    for size in sizes:
        connection.close()
        recreate_database()
        call_command("migrate", verbosity=0)
        people = generate(size, audit_events=size)
        waiting = PromotionRequest.objects.filter(status="awaiting_review").count()
        client = Client()
        client.force_login(people["mona"])
        _, token = api_token_create(user=people["mona"], name="benchmark")
        api = {"HTTP_AUTHORIZATION": f"Token {token}"}
        for url in URLS:
            headers = api if url.startswith("/api/") else {}
            rows.append((size, waiting, url, *measure(client, url, args.repeat, headers)))
    print(
        f"{'versions':>9} {'waiting':>8}  {'url':<28} {'PostgreSQL ms':>13} {'driver ms':>10} {'request ms':>11} "
        f"{'statements':>10}"
    )
    for size, waiting, url, server, driver, wall, statements in rows:
        print(f"{size:>9,} {waiting:>8,}  {url:<28} {server:>13.2f} {driver:>10.2f} {wall:>11.1f} {statements:>10}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
