"""A real MLflow tracking server for the tests (``mlflow server`` from the test extra), on its own
port with its own SQLite store and artifact folder, and a way to log a scikit-learn model to it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        env = {**os.environ, "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true", "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https"}
        self.process = subprocess.Popen(
            [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
             "--artifacts-destination", str(self.folder / "artifacts")],
            env=env, stdout=open(self.folder / "server.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture
def own_mlflow_server(tmp_path):
    """A server of this test's own, which the test may stop and start again."""
    server = MlflowServer(tmp_path).start()
    yield server
    server.stop()


_counter = iter(range(1, 10**6))


def log_model(server, name: str, *, accuracy: float = 0.93, user: str = "") -> str:
    """Train a small classifier, log it to ``server`` with a metric and a param, register it
    under ``name``; returns the new MLflow version number."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(server.url)
    rows = np.random.default_rng(next(_counter)).random((60, 3))
    labels = (rows[:, 0] > 0.5).astype(int)
    tags = {"mlflow.source.git.commit": "9c1e2f7", "mlflow.source.git.repoURL": "https://git.example.com/risk/credit"}
    if user:
        tags["mlflow.user"] = user
    with mlflow.start_run(tags=tags):
        mlflow.log_metric("accuracy", accuracy)
        mlflow.log_param("C", 0.5)
        info = mlflow.sklearn.log_model(LogisticRegression(C=0.5).fit(rows, labels), name="model",
                                        registered_model_name=name)  # fmt: skip
    return str(info.registered_model_version)
