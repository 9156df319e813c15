"""``SIGNOFF_DEMO_MLFLOW=1 make demo``: a local MLflow server beside the demo (port
``SIGNOFF_DEMO_MLFLOW_PORT``, default 5001, its store in ``var/mlflow``), a model trained and
registered there as dana would from a notebook, and the demo's ``loan-approval`` model connected
to it: its versions are imported by the worker, and deploying one moves ``@champion`` in MLflow."""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from approvals.models import Workflow
from approvals.revisions import workflow_assign, workflow_revise
from demo.state import TEAM_NAME
from mlflow_link import services
from mlflow_link.models import MlflowConnection
from registry.models import RegisteredModel, Team
from registry.services import registered_model_create

NAME = "loan-approval"
WORKFLOW = Path(__file__).parent / "workflows" / "mlflow-gated.yaml"


def enabled() -> bool:
    return os.environ.get("SIGNOFF_DEMO_MLFLOW", "").lower() in {"1", "true", "yes"}


def server_start() -> tuple[subprocess.Popen, str]:
    """``mlflow server`` on 127.0.0.1, with its store in var/mlflow; (process, URL) once healthy."""
    executable = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow")
    if executable is None:
        raise RuntimeError("SIGNOFF_DEMO_MLFLOW=1 needs MLflow: make demo installs it (the 'mlflow' extra).")
    port = int(os.environ.get("SIGNOFF_DEMO_MLFLOW_PORT", "5001"))
    folder = Path(settings.VAR_DIR) / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    store, artifacts = f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts")
    process = subprocess.Popen(
        [executable, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", store, "--artifacts-destination", artifacts],
        stdout=open(folder / "server.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server did not start; see {folder / 'server.log'}")


def server_stop(process: subprocess.Popen) -> None:
    """The server and the processes it started (its own session)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _log_versions(url: str) -> None:
    """Two versions of a loan-approval classifier, registered in MLflow as dana's runs."""
    import mlflow
    from mlflow import MlflowClient

    from demo import training  # scikit-learn: imported when used, not when the demo starts

    mlflow.set_tracking_uri(url)
    if MlflowClient(tracking_uri=url).search_model_versions(f"name='{NAME}'"):
        return
    for seed, params in ((11, {"C": 0.3, "max_iter": 300}), (12, {"C": 1.0, "max_iter": 300})):
        trained = training.train(training.credit_applications, estimator="logistic_regression", params=params,
                                 seed=seed, rows=3000)  # fmt: skip
        tags = {"mlflow.user": "dana", "mlflow.source.git.commit": f"d{seed}e4f0",
                "mlflow.source.git.repoURL": "https://git.example.com/analytics/loan-approval"}  # fmt: skip
        with mlflow.start_run(tags=tags):
            mlflow.log_params(params)
            mlflow.log_metrics(trained.metrics)
            mlflow.sklearn.log_model(trained.fitted, name="model", registered_model_name=NAME)


def connect(url: str, log=print) -> MlflowConnection:
    """The demo model, its workflow and its connection (once); the worker imports its versions."""
    _log_versions(url)
    admin = get_user_model().objects.get(username="admin")
    existing = MlflowConnection.objects.filter(model__name=NAME).first()
    if existing is not None:
        services.mlflow_import_soon(connection=existing)
        return existing
    team = Team.objects.get(name=TEAM_NAME)
    with transaction.atomic():
        model = RegisteredModel.objects.filter(name=NAME).first() or registered_model_create(
            name=NAME, team=team, created_by=get_user_model().objects.get(username="dana"),
            description="Approves or declines small personal loans. Trained and registered in MLflow.",
        )  # fmt: skip
        workflow_revise(source=WORKFLOW.read_text(), actor=admin, note="The MLflow demo's.")
        workflow_assign(model=model, workflow=Workflow.objects.get(name="mlflow-gated"), actor=admin)
    connection, _secret = services.mlflow_connect(
        model=model, tracking_uri=url, registered_model=NAME, actor=admin, revert_drift=True
    )
    log(f"MLflow at {url}: {NAME} is connected; its versions are imported by the worker.")
    return connection
