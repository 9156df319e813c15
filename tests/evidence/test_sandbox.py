"""The sandbox in which checks open artifacts, and the pickle scan that runs in it.

Real child processes, real limits: a task that allocates too much, sleeps, spins or crashes
ends as a clear failure; the environment holds no secrets; inputs are verified before use; a
malicious pickle is refused and never runs (a marker file it would create stays absent).
"""

import hashlib
import io
import os
import pickle
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from evidence import sandbox
from evidence.sandbox import Limits, SandboxInput, run_in_sandbox
from tests.services import free_port

# The fork server's libraries already take about 520 MB of address space.
TIGHT = Limits(cpu_seconds=3, memory_bytes=1024**3, wall_seconds=6)
# Resolving a scikit-learn class imports scikit-learn and SciPy: seconds of CPU on a slow machine.
SCAN = Limits(cpu_seconds=30, memory_bytes=1024**3, wall_seconds=60)


def given(tmp_path, data: bytes, name="artifact") -> dict[str, SandboxInput]:
    path = tmp_path / f"source-{name}"
    path.write_bytes(data)
    return {name: SandboxInput(source=path, sha256=hashlib.sha256(data).hexdigest())}


def scan(tmp_path, data: bytes, file_name: str):
    return run_in_sandbox(
        "evidence.sandbox.tasks:pickle_scan", {"file_name": file_name}, given(tmp_path, data), limits=SCAN
    )


class Exploit:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class Evaluator:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def trained_model():
    features, labels = np.random.default_rng(1).random((60, 3)), np.arange(60) % 2
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(features, labels)


def test_the_environment_holds_no_secrets_and_only_the_inputs(tmp_path, monkeypatch, started_as):
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/signoff")
    monkeypatch.setenv("SIGNOFF_AUDIT_KEY", "do-not-leak")
    result = run_in_sandbox("tests.sandbox_probes:environment", {}, given(tmp_path, b"x"), limits=TIGHT)
    assert result.ok, result.error
    assert set(result.output["variables"]) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONNOUSERSITE",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "LC_CTYPE",
        "PWD",
    }
    assert result.output["files"] == ["artifact"]
    assert result.output["cwd"] != os.getcwd()


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        ("allocate", "more than 1024 MB of memory"),
        ("sleep", "did not finish within 6 seconds"),
        ("spin", "more than 3 s of CPU"),
        ("crash", "crashed: RuntimeError: the model's loader blew up"),
    ],
)
def test_a_task_that_misbehaves_ends_as_a_failure_saying_why(tmp_path, probe, message, started_as):
    result = run_in_sandbox(f"tests.sandbox_probes:{probe}", {}, limits=TIGHT)
    assert not result.ok
    assert message in result.error


def test_an_input_that_changed_since_it_was_recorded_is_never_opened(tmp_path):
    inputs = given(tmp_path, b"original bytes")
    inputs["artifact"].source.write_bytes(b"tampered bytes")
    result = run_in_sandbox("tests.sandbox_probes:environment", {}, inputs, limits=TIGHT)
    assert not result.ok
    assert "does not match the SHA-256 recorded for it" in result.error


def test_only_project_tasks_run(tmp_path, started_as):
    result = run_in_sandbox("os:system", {}, limits=TIGHT)
    assert not result.ok and "refused task" in result.error


def test_the_task_has_no_network(tmp_path, started_as):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", free_port()))
    server.listen()
    try:
        result = run_in_sandbox("tests.sandbox_probes:connect", {"port": server.getsockname()[1]}, limits=TIGHT)
    finally:
        server.close()
    assert result.ok and result.isolated_network
    assert result.output["connected"] is False


def test_under_a_memory_limit_the_fork_server_cannot_meet_a_task_starts_afresh(tmp_path):
    sandbox.enable_zygote()
    try:
        forked = run_in_sandbox("tests.sandbox_probes:environment", {}, limits=TIGHT)
        # In its jail the fork server is pid 2 (the jail's init is 1): 1 GB, forked from the server.
        assert forked.ok and forked.output["parent"] == 2
        small = Limits(cpu_seconds=30, memory_bytes=512 * 1024**2, wall_seconds=60)
        result = run_in_sandbox("tests.sandbox_probes:environment", {}, limits=small)
        assert result.ok, result.error  # a new interpreter, with all of the 512 MB for the task
        assert result.output["parent"] == 1  # the init of a jail of its own
    finally:
        sandbox.disable_zygote()


def test_a_forked_task_starts_with_the_pickle_scan_imported_and_the_servers_heap_frozen(tmp_path):
    """The scan runs on every submission: its reader is imported once by the fork server, not by
    each task; and the heap the task inherits is frozen, so its collections copy none of it."""
    modules = ["evidence.sandbox.tasks", "evidence.sandbox.unpickle", "picklescan.scanner"]
    sandbox.enable_zygote()
    try:
        forked = run_in_sandbox("tests.sandbox_probes:warm", {"modules": modules}, limits=TIGHT)
    finally:
        sandbox.disable_zygote()
    assert forked.ok, forked.error
    assert forked.output["imported"] == modules
    assert forked.output["frozen"] > 10_000
    fresh = run_in_sandbox("tests.sandbox_probes:warm", {"modules": modules}, limits=TIGHT)  # a new interpreter
    assert fresh.ok and fresh.output == {"imported": [], "frozen": 0}


def test_a_fork_server_that_died_is_replaced(tmp_path):
    sandbox.enable_zygote()
    try:
        first = sandbox._zygote.process
        assert run_in_sandbox("tests.sandbox_probes:environment", {}, limits=TIGHT).ok
        first.kill()
        first.wait()
        result = run_in_sandbox("tests.sandbox_probes:environment", {}, limits=TIGHT)
        assert result.ok, result.error
        assert sandbox._zygote.process.pid != first.pid
    finally:
        sandbox.disable_zygote()


def test_a_task_dies_with_its_fork_server_and_the_check_fails_instead_of_waiting(tmp_path):
    """kill -9 of the fork server (as when the worker process is killed) takes the running task
    with it: nothing is left behind and the caller gets a failure, not a hang."""
    sandbox.enable_zygote()
    try:
        server = sandbox._zygote.process
        ran = {}
        caller = threading.Thread(
            target=lambda: ran.update(
                result=run_in_sandbox(
                    "tests.sandbox_probes:sleep",
                    {},
                    limits=Limits(cpu_seconds=30, memory_bytes=1024**3, wall_seconds=30),
                )
            )
        )
        caller.start()
        deadline = time.monotonic() + 20
        # bubblewrap, the jail's init, the fork server and the task, by host pid
        while len(sandbox._host_tree(server.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        task = sandbox._host_tree(server.pid)[-1]
        server.kill()
        caller.join(timeout=20)
        assert not caller.is_alive()
        assert not ran["result"].ok
        deadline = time.monotonic() + 5
        while Path(f"/proc/{task}").exists() and "Z" not in Path(f"/proc/{task}/stat").read_text().split()[2]:
            assert time.monotonic() < deadline, "the task outlived its fork server"
            time.sleep(0.05)
    finally:
        sandbox.disable_zygote()


def test_a_joblib_scikit_learn_model_passes_the_pickle_scan(tmp_path):
    buffer = io.BytesIO()
    joblib.dump({"model": trained_model(), "features": ["income", "debt", "age"]}, buffer)
    result = scan(tmp_path, buffer.getvalue(), "credit.joblib")
    assert result.ok, result.error
    assert result.output["passed"] is True
    assert "sklearn.pipeline.Pipeline" in result.output["details"]["globals"]


def test_a_plain_pickle_of_a_model_passes(tmp_path):
    result = scan(tmp_path, pickle.dumps(trained_model()), "credit.pkl")
    assert result.output["passed"] is True


def test_a_pickle_that_runs_a_shell_command_is_refused_and_never_runs(tmp_path, started_as):
    marker = tmp_path / "pwned"
    result = scan(tmp_path, pickle.dumps(Exploit(f"touch {marker}")), "credit.pkl")
    assert result.output["passed"] is False
    assert result.output["details"]["refused"] == ["posix.system"]
    assert "posix.system" in result.output["summary"]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sklearn.utils._testing", "assert_run_python_script_without_output"),  # runs a script
        ("numpy", "load"),  # a function, not a class: it could open another pickle
        ("sklearn.datasets._openml", "Path"),  # pathlib.Path re-exported: not scikit-learn's own class
    ],
)
def test_a_pickle_calling_a_function_of_an_allowed_package_is_refused_and_never_runs(tmp_path, module, name):
    marker = tmp_path / "pwned"
    script = f"open({str(marker)!r}, 'w').write('ran')"
    result = scan(tmp_path, f"c{module}\n{name}\n(V{script}\ntR.".encode(), "credit.pkl")
    assert result.ok, result.error
    assert result.output["passed"] is False
    assert f"{module}.{name}" in result.output["summary"]
    assert not marker.exists()


def test_a_pickle_naming_eval_is_refused(tmp_path):
    result = scan(tmp_path, pickle.dumps(Evaluator()), "credit.pkl")
    assert result.output["passed"] is False
    assert "builtins.eval" in result.output["summary"]


def test_a_global_outside_the_allowed_list_is_named(tmp_path):
    from collections import Counter

    result = scan(tmp_path, pickle.dumps(Counter("abc")), "counts.pkl")
    assert result.output["passed"] is False
    assert result.output["details"]["refused"] == ["collections.Counter"]


def test_a_file_no_reader_recognises_is_refused_and_so_is_a_broken_pickle(tmp_path):
    text = scan(tmp_path, b"this is a README, not a model", "README.txt")
    assert text.output["passed"] is False and "not a pickle, joblib, skops or ONNX" in text.output["summary"]
    broken = scan(tmp_path, b"\x80\x04garbage", "model.pkl")
    assert broken.output["passed"] is False and "could not be read as a pickle" in broken.output["summary"]


def test_a_skops_model_is_scanned_for_types_outside_the_trusted_list(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    clean = scan(tmp_path, skops.io.dumps({"model": trained_model(), "features": ["a", "b", "c"]}), "credit.skops")
    assert clean.output["passed"] is True, clean.output
    assert clean.output["details"] == {"format": "skops", "pickle": False, "trusted": []}

    calls_print = scan(tmp_path, skops.io.dumps(FunctionTransformer(func=print)), "credit.skops")
    assert calls_print.output["passed"] is False
    assert calls_print.output["details"]["refused"] == ["builtins.print"]
    assert "outside the trusted list: builtins.print" in calls_print.output["summary"]

    broken = scan(tmp_path, b"PK\x03\x04 not really an archive", "credit.skops")
    assert broken.output["passed"] is False and "could not be read as a skops file" in broken.output["summary"]


def onnx_bytes(model, features) -> bytes:
    from skl2onnx import to_onnx

    graph = to_onnx(model, np.zeros((1, len(features)), dtype=np.float32), options={"zipmap": False})
    entry = graph.metadata_props.add()
    entry.key, entry.value = "features", ",".join(features)
    return graph.SerializeToString()


def test_an_onnx_model_is_scanned_for_custom_operators_and_outside_weights(tmp_path):
    from onnx import TensorProto, helper

    clean = scan(tmp_path, onnx_bytes(trained_model(), ["a", "b", "c"]), "credit.onnx")
    assert clean.output["passed"] is True and "standard operators" in clean.output["summary"]

    node = helper.make_node("RunShell", ["X"], ["Y"], domain="com.example.native")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )  # fmt: skip
    native = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example.native", 1)]
    )
    custom = scan(tmp_path, native.SerializeToString(), "credit.onnx")
    assert custom.output["passed"] is False and "custom operators (com.example.native)" in custom.output["summary"]

    def branch(nodes, name):
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])])

    def if_node(then, otherwise):
        return helper.make_node("If", ["C"], ["Y"], then_branch=then, else_branch=otherwise)

    safe = branch([helper.make_node("Identity", ["X"], ["Y"])], "safe")
    deep = branch([if_node(safe, branch([node], "native"))], "inner")  # the custom op two branches down
    outer = helper.make_graph(
        [if_node(deep, safe)], "g",
        [helper.make_tensor_value_info("C", TensorProto.BOOL, []),
         helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )  # fmt: skip
    nested = helper.make_model(outer, opset_imports=native.opset_import)
    hidden = scan(tmp_path, nested.SerializeToString(), "credit.onnx")
    assert hidden.output["passed"] is False, hidden.output
    assert "custom operators (com.example.native)" in hidden.output["summary"]

    broken = scan(tmp_path, b"not a protobuf at all", "credit.onnx")
    assert broken.output["passed"] is False and "could not be read as an ONNX model" in broken.output["summary"]
