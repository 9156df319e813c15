"""The pickle reader scans and loads in one pass: the bypasses that beat scan-then-load are refused,
and every model scikit-learn writes still loads and predicts as before.

Each hostile file would, if anything ran it, leave a marker file behind; the tests check the
marker is absent as well as the refusal.
"""

import gzip
import hashlib
import io
import os
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from evidence.sandbox import Limits, SandboxInput, run_in_sandbox
from evidence.sandbox.tasks import scan_bytes
from evidence.sandbox.unpickle import Refused, restricted_load

SCAN = Limits(cpu_seconds=30, memory_bytes=1024**3, wall_seconds=60)
FEATURES = np.random.default_rng(0).random((120, 4))
LABELS = (FEATURES[:, 0] > 0.5).astype(int)


class Exploit:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def memmap_writer(path) -> bytes:
    """numpy.memmap(path, uint8, 'w+', 0, (4,)): names only a NumPy class, and creates a file."""
    return f"cnumpy\nmemmap\n(V{path}\nVuint8\nVw+\nI0\n(I4\nttR.".encode()


def ufunc_writer(path) -> bytes:
    """numpy.positive(array, out=numpy.memmap(path, mode='w+')): a ufunc called with a file as its output."""
    return f"cnumpy\npositive\n(cnumpy\nones\n(I4\ntRcnumpy\nmemmap\n(V{path}\nVfloat64\nVw+\nI0\n(I4\nttRtR.".encode()


def models():
    frame = pd.DataFrame(FEATURES, columns=list("abcd")).assign(c=np.where(LABELS, "x", "z"))
    return [
        (make_pipeline(StandardScaler(), LogisticRegression()).fit(FEATURES, LABELS), FEATURES),
        (GradientBoostingClassifier(n_estimators=5).fit(FEATURES, LABELS), FEATURES),
        (RandomForestClassifier(n_estimators=3, random_state=1).fit(FEATURES, np.where(LABELS, "yes", "no")), FEATURES),
        (HistGradientBoostingClassifier(max_iter=3).fit(FEATURES, LABELS), FEATURES),
        (Ridge().fit(FEATURES, FEATURES[:, 1]), FEATURES),
        (make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(FEATURES, LABELS), FEATURES),
        (
            make_pipeline(
                make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough"), LogisticRegression()
            ).fit(frame, LABELS),
            frame,
        ),
    ]


def dumped(model, how: str, protocol: int) -> bytes:
    buffer = io.BytesIO()
    if how == "pickle":
        pickle.dump(model, buffer, protocol=protocol)
    else:
        joblib.dump(model, buffer, protocol=protocol, compress=("gzip", 3) if how == "gzip" else 0)
    return buffer.getvalue()


@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("how", ["pickle", "joblib", "gzip"])
def test_models_scikit_learn_writes_load_and_predict_as_before(how, protocol):
    for model, inputs in models():
        loaded, seen, _compression = restricted_load(dumped(model, how, protocol))
        assert type(loaded) is type(model) and seen
        np.testing.assert_array_equal(loaded.predict(inputs), model.predict(inputs))


def test_a_memmap_that_writes_a_file_is_refused_by_name(tmp_path):
    marker = tmp_path / "written"
    with pytest.raises(Refused, match="numpy.memmap"):
        restricted_load(memmap_writer(marker))
    assert not marker.exists()


def test_a_ufunc_is_never_called(tmp_path):
    marker = tmp_path / "written"
    with pytest.raises(Refused):
        restricted_load(ufunc_writer(marker))
    assert not marker.exists()


def test_bytes_after_an_early_stop_are_refused_not_skipped(tmp_path):
    marker = tmp_path / "ran"
    # What a second parser could read past: an INT written in hex, an early STOP, then code.
    hostile = b"\x80\x04I0x1\n." + pickle.dumps(Exploit(f"touch {marker}"))
    outcome, model = scan_bytes(hostile, "model.joblib", ())
    assert not outcome["passed"] and model is None
    assert "bytes after its end" in outcome["summary"]
    assert not marker.exists()


def test_a_protocol_0_pickle_under_any_name_is_scanned(tmp_path):
    marker = tmp_path / "ran"
    outcome, _ = scan_bytes(pickle.dumps(Exploit(f"touch {marker}"), protocol=0), "model.bin", ())
    assert not outcome["passed"] and "posix.system" in outcome["summary"]
    assert not marker.exists()


def test_a_compressed_joblib_file_is_read_inside_its_compression(tmp_path):
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    joblib.dump(Exploit(f"touch {marker}"), buffer, compress=("gzip", 3))
    outcome, _ = scan_bytes(buffer.getvalue(), "model.bin", ())
    assert not outcome["passed"] and "posix.system" in outcome["summary"]
    assert not marker.exists()


def test_an_object_array_inside_joblib_is_read_by_the_same_restricted_reader(tmp_path):
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    joblib.dump({"classes": np.array([Exploit(f"touch {marker}")], dtype=object)}, buffer)
    with pytest.raises(Refused, match="posix.system"):
        restricted_load(buffer.getvalue())
    assert not marker.exists()


def test_setting_attributes_on_a_class_is_refused():
    # BUILD on the LogisticRegression class itself would patch every model's predict.
    hostile = b"csklearn.linear_model\nLogisticRegression\n(dVpredict\ncnumpy\npositive\nsb."
    with pytest.raises(Refused, match="a class"):
        restricted_load(hostile)
    assert LogisticRegression.predict.__name__ == "predict"


def test_bytes_no_reader_recognises_are_refused_not_waved_through():
    outcome, _ = scan_bytes(b"\x00\x01 these are weights in a format nobody reads", "model.bin", ())
    assert not outcome["passed"] and "not a pickle, joblib, skops or ONNX" in outcome["summary"]


def test_lz4_and_a_decompression_bomb_are_refused():
    with pytest.raises(Refused, match="lz4"):
        restricted_load(b"\x04\x22\x4d\x18" + b"\x00" * 32)
    with pytest.raises(Refused, match="could not be decompressed"):
        restricted_load(b"\x1f\x8b" + b"\x00" * 32)
    assert gzip.decompress(gzip.compress(b"x"))  # the stdlib reader the check uses works here


def test_the_scan_in_the_sandbox_refuses_the_memmap_write(tmp_path):
    marker = tmp_path / "written"
    data = memmap_writer(marker)
    source = tmp_path / "source"
    source.write_bytes(data)
    result = run_in_sandbox(
        "evidence.sandbox.tasks:pickle_scan",
        {"file_name": "model.pkl"},
        {"artifact": SandboxInput(source=source, sha256=hashlib.sha256(data).hexdigest())},
        limits=SCAN,
    )
    assert result.ok, result.error
    assert not result.output["passed"] and "numpy.memmap" in result.output["summary"]
    assert not marker.exists()
