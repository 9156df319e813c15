"""An MLflow server that answers what no real one does: the import reads every field it uses and
skips what it cannot read with the reason on the connection; one bad entry never stops the rest,
and no answer raises anything but ``MlflowError`` (or ``TransientError`` when MLflow is away).

The server here is a stand-in on purpose: the real ``mlflow server`` (``test_mlflow.py``) cannot
be made to answer these."""

import json
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from mlflow_link import services
from mlflow_link.client import Mlflow, MlflowError
from mlflow_link.models import MlflowVersion
from registry.models import ModelVersion
from tests import factories

GOOD = {"version": "2", "run_id": "r2", "status": "READY", "source": "mlflow-artifacts:/2/model"}
GOOD_RUN = {"run": {"info": {"user_id": "nobody"},
                    "data": {"metrics": [{"key": "accuracy", "value": 0.9}], "params": [{"key": "C", "value": "1"}],
                             "tags": []}}}  # fmt: skip


class HostileMlflow(ThreadingHTTPServer):
    """Answers each MLflow call from ``answers``: keyed by the call ("runs/get") or the call and
    one of its parameters ("runs/get?run_id=r1"); artifacts by their path ("artifacts/2/model/MLmodel")."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.answers = {
            "model-versions/search": {"model_versions": [GOOD]},
            "runs/get?run_id=r2": GOOD_RUN,
            "model-versions/get-download-uri?version=2": {"artifact_uri": "mlflow-artifacts:/2/model"},
            "artifacts/2/model/MLmodel": b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n",
            "artifacts/2/model/model.pkl": pickle.dumps({"weights": [1, 2, 3]}),
        }


class Answer(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        call = url.path.removeprefix("/api/2.0/mlflow/").removeprefix("/api/2.0/mlflow-artifacts/")
        keys = [f"{call}?{name}={value}" for name, value in parse_qsl(url.query)] + [call]
        answer = next((self.server.answers[key] for key in keys if key in self.server.answers), None)
        if answer is None:
            self.send_response(404)
            body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{call} not found"}).encode()
        else:
            self.send_response(200)
            body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile():
    server = HostileMlflow()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def connection(people, risk_model, hostile):
    admin = factories.make_user("ada", is_superuser=True, is_staff=True)
    made, _ = services.mlflow_connect(model=risk_model, tracking_uri=hostile.url, registered_model="credit-risk",
                                      actor=admin)  # fmt: skip
    return made


def imported(connection) -> list[int]:
    return list(MlflowVersion.objects.filter(connection=connection).values_list("mlflow_version", flat=True))


def bad_entry(**fields):
    return {"model-versions/search": {"model_versions": [{"version": "1", "run_id": "r1", **fields}, GOOD]}}


BAD_RUN = {"model-versions/search": {"model_versions": [{"version": "1", "run_id": "r1"}, GOOD]},
           "model-versions/get-download-uri?version=1": {"artifact_uri": "mlflow-artifacts:/2/model"}}  # fmt: skip


@pytest.mark.parametrize(
    "answers, problem",
    [
        # entries of the list that cannot be read: skipped, the next one imports
        ({"model-versions/search": {"model_versions": [42, GOOD]}},
         "MLflow listed a version that is not an object: 42"),
        (bad_entry(version="1e400"), "MLflow gave a version number Signoff cannot read: '1e400'"),
        (bad_entry(version="9" * 5000), "MLflow gave a version number Signoff cannot read: '" + "9" * 58 + "…"),
        (bad_entry(version="-1"), "MLflow gave a version number Signoff cannot read: '-1'"),
        (bad_entry(version="\u0663"), "MLflow gave a version number Signoff cannot read: '\u0663'"),
        (bad_entry(version=True), "MLflow gave a version number Signoff cannot read: True"),
        (bad_entry(version=[1]), "MLflow gave a version number Signoff cannot read: a JSON list"),
        (bad_entry(version=None), "MLflow gave a version number Signoff cannot read: a JSON NoneType"),
        (bad_entry(run_id={"id": 1}), "MLflow gave a JSON dict where it writes text"),
        (bad_entry(run_id="r" * 65), "MLflow gave a run id Signoff cannot read: '" + "r" * 58 + "…"),
        (bad_entry(run_id="r1\x00"), "MLflow gave text that contains a NUL character"),
        (bad_entry(run_id="r1\n"), "MLflow gave a run id Signoff cannot read: 'r1\\n'"),
        (bad_entry(description=["x"]), "MLflow gave a JSON list where it writes text"),
        # its run, its artifact location: that version is skipped with why
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": "x"}}},
         "MLflow v1: MLflow's answer about its run is not in MLflow's format"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": [1]}},
         "MLflow v1: MLflow's answer about its run is not in MLflow's format"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": {"tags": [1, 2]}}}},
         "MLflow v1: the tags of its run are not in MLflow's format"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": {"params": {"C": 1}}}}},
         "MLflow v1: the params of its run are not in MLflow's format"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": {"params": [{"key": "C", "value": {"x": 1}}]}}}},
         "MLflow v1: MLflow gave a JSON dict where it writes text"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"info": {"user_id": 7}}}},
         "MLflow v1: MLflow gave 7 where it writes text"),
        # text that cannot be stored: once a DataError or UnicodeEncodeError out of the import on PostgreSQL
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": {"tags": [{"key": "k", "value": "\ud800"}]}}}},
         "MLflow v1: MLflow gave text that contains a lone surrogate (invalid Unicode)"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": {"tags": [{"key": "\ud800", "value": "v"}]}}}},
         "MLflow v1: MLflow gave text that contains a lone surrogate (invalid Unicode)"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"data": {"tags": [{"key": "k", "value": "a\x00b"}]}}}},
         "MLflow v1: MLflow gave text that contains a NUL character"),
        ({**BAD_RUN, "runs/get?run_id=r1": {"run": {"info": {"user_id": "\ud800"}}}},
         "MLflow v1: MLflow gave text that contains a lone surrogate (invalid Unicode)"),
        (bad_entry(source="a\x00b"), "MLflow gave text that contains a NUL character"),
        (bad_entry(description="\ud800"), "MLflow gave text that contains a lone surrogate (invalid Unicode)"),
        ({**BAD_RUN, "runs/get?run_id=r1": GOOD_RUN, "model-versions/get-download-uri?version=1": {"artifact_uri": []}},
         "MLflow v1: MLflow gave no artifact location for it"),
        ({**BAD_RUN, "runs/get?run_id=r1": b"[" * 100_000 + b"]" * 100_000},
         "MLflow v1: MLflow's answer to runs/get is not JSON"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_is_skipped_with_why_and_the_next_version_imports(connection, hostile, answers, problem):
    hostile.answers.update(answers)
    versions = services.mlflow_import(connection=connection)
    assert len(versions) == 1 and imported(connection) == [2]
    connection.refresh_from_db()
    assert connection.last_import_error.startswith(problem), connection.last_import_error


@pytest.mark.parametrize(
    "search, problem",
    [
        ({"model_versions": "12"}, "MLflow's list of versions is not in MLflow's format"),
        ({"model_versions": [GOOD], "next_page_token": 5}, "MLflow's list of versions is not in MLflow's format"),
        ({"model_versions": [GOOD], "next_page_token": "again"},
         "MLflow's list of versions does not end (it gave the same page token twice)"),
        ([GOOD], "MLflow's answer to model-versions/search is not a JSON object"),
        (b"{" * 100_000, "MLflow's answer to model-versions/search is not JSON"),
        (b'{"model_versions": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
         "MLflow's answer to model-versions/search is not JSON"),
    ],
)  # fmt: skip
def test_a_list_of_versions_that_cannot_be_read_imports_nothing_and_says_why(connection, hostile, search, problem):
    hostile.answers["model-versions/search"] = search
    assert services.mlflow_import(connection=connection) == []
    connection.refresh_from_db()
    assert connection.last_import_error == problem
    assert not ModelVersion.objects.exists()


def test_metrics_that_are_not_finite_numbers_are_left_out(connection, hostile):
    metrics = [{"key": "accuracy", "value": 0.9}, {"key": "huge", "value": 10**400}, {"key": "flag", "value": True},
               {"key": "text", "value": "0.5"}]  # fmt: skip
    hostile.answers["runs/get?run_id=r2"] = {"run": {"data": {"metrics": metrics}}}
    [version] = services.mlflow_import(connection=connection)
    assert version.metrics == {"accuracy": 0.9}


@pytest.mark.parametrize(
    "answer, problem",
    [
        ({"model_version": "x"}, "MLflow's answer about the alias 'champion' names no version"),
        ({"model_version": {"version": "1e400"}}, "MLflow gave a version number Signoff cannot read: '1e400'"),
        ({}, "MLflow's answer about the alias 'champion' names no version"),
    ],
)
def test_an_alias_answer_that_cannot_be_read_is_an_mlflow_error(hostile, answer, problem):
    hostile.answers["registered-models/alias"] = answer
    with pytest.raises(MlflowError) as refused:
        Mlflow(hostile.url).alias("credit-risk", "champion")
    assert str(refused.value) == problem


def test_an_alias_is_read_as_its_version_number(hostile):
    hostile.answers["registered-models/alias"] = {"model_version": {"version": "12"}}
    assert Mlflow(hostile.url).alias("credit-risk", "champion") == "12"
    del hostile.answers["registered-models/alias"]  # MLflow's 404: no such alias
    assert Mlflow(hostile.url).alias("credit-risk", "champion") is None


@pytest.mark.parametrize("status", [None, "PENDING_REGISTRATION", "FAILED_REGISTRATION"])
def test_only_a_ready_version_is_imported(connection, hostile, status):
    hostile.answers.update(bad_entry(status=status))
    services.mlflow_import(connection=connection)
    assert imported(connection) == [2]
    connection.refresh_from_db()
    assert connection.last_import_error == ""
