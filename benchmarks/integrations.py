"""What the outside world waits for: webhook delivery latency, and MLflow import time per version.

- Webhooks: ``--events`` events are recorded one at a time (a transaction each, as an engine
  change would); a real Celery worker delivers them to a receiver in this process. Latency is
  from the commit to the receiver reading the POST: p50, p95, max.
- MLflow: a local ``mlflow server`` (needs the ``mlflow`` extra) gets ``--versions`` logged
  scikit-learn versions; one ``mlflow_import`` brings them in; time per version.

Against a migrated PostgreSQL database and Redis:

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/signoff_bench_api
    export CELERY_BROKER_URL=redis://127.0.0.1:6379/14
    .venv/bin/python -m benchmarks.integrations --events 200 --versions 10
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def webhooks(events: int) -> None:
    from django.db import transaction
    from django.test.utils import override_settings

    from config.celery import worker_command
    from webhooks.models import WebhookEndpoint
    from webhooks.services import deliveries_record

    received: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            received[self.headers["webhook-id"]] = time.time()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    env = {**os.environ, "SIGNOFF_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    worker = subprocess.Popen(worker_command("--loglevel=WARNING", quiet=True), env=env)
    try:
        with override_settings(SIGNOFF_WEBHOOK_ALLOWED_HOSTS=["127.0.0.1"]):
            WebhookEndpoint.objects.filter(description="benchmark").delete()
            WebhookEndpoint.objects.create(url=url, events=["model_version.submitted"], secret="whsec_" + "A" * 44,
                                           description="benchmark")  # fmt: skip
            time.sleep(5)  # the worker is up
            committed = {}
            for index in range(events):
                with transaction.atomic():
                    (delivery,) = deliveries_record(event="model_version.submitted", data={"n": index})
                committed[delivery.message_id] = time.time()
                time.sleep(0.05)
            deadline = time.time() + 120
            while len(received) < events and time.time() < deadline:
                time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.shutdown()
    latencies = [(received[key] - committed[key]) * 1000 for key in committed if key in received]
    print(f"webhooks: {len(latencies)}/{events} delivered; latency from commit to receipt "
          f"p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
          f"max {max(latencies):.1f} ms, mean {statistics.mean(latencies):.1f} ms")  # fmt: skip


def mlflow_import_time(versions: int) -> None:
    import mlflow
    import numpy as np
    from django.contrib.auth import get_user_model
    from sklearn.linear_model import LogisticRegression

    from mlflow_link import services
    from mlflow_link.models import MlflowConnection
    from registry.models import RegisteredModel, Team
    from registry.services import registered_model_create

    folder = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    port = 5591
    server = subprocess.Popen(
        [str(Path(os.sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'db.sqlite'}",
         "--artifacts-destination", str(folder / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        mlflow.set_tracking_uri(url)
        name = f"bench-import-{int(time.time())}"
        for seed in range(versions):
            rows = np.random.default_rng(seed).random((500, 8))
            with mlflow.start_run():
                mlflow.log_metric("accuracy", 0.9)
                mlflow.sklearn.log_model(LogisticRegression().fit(rows, rows[:, 0] > 0.5), name="model",
                                         registered_model_name=name)  # fmt: skip
        admin = get_user_model().objects.filter(is_superuser=True, is_active=True).first() or (
            get_user_model().objects.create_superuser("bench-admin", "bench-admin@example.com", "x")
        )
        dana = get_user_model().objects.get(username="bench-dana")
        model = RegisteredModel.objects.filter(name=name).first() or registered_model_create(
            name=name, team=Team.objects.get(slug="bench"), created_by=dana
        )
        connection, _ = services.mlflow_connect(model=model, tracking_uri=url, registered_model=name, actor=admin)
        started = time.perf_counter()
        imported = services.mlflow_import(connection=MlflowConnection.objects.get(pk=connection.pk))
        elapsed = time.perf_counter() - started
        each = elapsed / len(imported) * 1000
        print(f"mlflow import: {len(imported)} versions in {elapsed:.2f} s, {each:.0f} ms per version "
              f"(artifact ~{imported[0].artifact_size / 1024:.1f} KB)")  # fmt: skip
    finally:
        os.killpg(server.pid, 9)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--versions", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from benchmarks.api import personas

    personas()
    webhooks(args.events)
    mlflow_import_time(args.versions)


if __name__ == "__main__":
    main()
