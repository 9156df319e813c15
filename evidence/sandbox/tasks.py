"""Tasks run inside the sandbox: plain functions of a JSON payload and the sandbox directory.

They never import Django. Each returns ``{"passed": bool, "summary": str, "details": {...}}``.
"""

import importlib
import io
import zipfile
from pathlib import Path


def _allowed(module: str, name: str, extra: tuple[str, ...]) -> bool:
    """Whether a skops file may name this type: the same rule the pickle reader applies."""
    from evidence.sandbox.unpickle import Policy

    if "__" in name or module.split(".")[0] not in ("builtins", "numpy", "sklearn", "scipy", *extra):
        return False
    try:  # importing a module of an allowed package runs only that package's own code
        target = importlib.import_module(module)
        for part in name.split("."):
            target = getattr(target, part)
    except Exception:  # noqa: BLE001 - a name that does not resolve is refused
        return False
    return Policy(extra).resolvable(module, name, target)


def _is_skops(data: bytes, file_name: str) -> bool:
    if data[:4] != b"PK\x03\x04":
        return False
    if file_name.lower().endswith(".skops"):
        return True
    try:
        return "schema.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False


def skops_scan(data: bytes, extra: tuple[str, ...]) -> dict:
    """The types a skops file names beyond the ones skops trusts by default (scikit-learn's,
    NumPy's…): each must be allow-listed, and those are the explicit trusted list it is loaded
    with. Reading the list runs nothing."""
    from skops.io import get_untrusted_types

    try:
        untrusted = get_untrusted_types(data=data)
    except Exception as error:  # a foreign archive can fail in any way
        return {
            "passed": False,
            "summary": f"The artifact could not be read as a skops file ({type(error).__name__}); it is refused.",
            "details": {"format": "skops", "error": str(error)[:300]},
        }
    refused = [name for name in untrusted if not _allowed(*name.rpartition(".")[::2], extra)]
    if refused:
        return {
            "passed": False,
            "summary": f"The skops file names types outside the trusted list: {', '.join(refused)}. It was not loaded.",
            "details": {"format": "skops", "refused": refused},
        }
    beyond = f"; allowed beyond skops's defaults: {', '.join(untrusted)}" if untrusted else ""
    return {
        "passed": True,
        "summary": f"skops file: every type it names is trusted{beyond}.",
        "details": {"format": "skops", "pickle": False, "trusted": untrusted},
    }


ONNX_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}  # the standard operator sets; anything else needs a native library


def _graphs(graph, onnx):
    """``graph`` and every subgraph nested in its nodes (the branches of If, the bodies of Loop
    and Scan), at any depth."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            nested = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else []
            nested += list(attribute.graphs) if attribute.type == onnx.AttributeProto.GRAPHS else []
            for subgraph in nested:
                yield from _graphs(subgraph, onnx)


def onnx_scan(data: bytes) -> dict:
    """An ONNX graph is data, not code, as long as it uses only the standard operator sets (a
    custom domain needs a native library) and keeps its weights inside the file (external data
    would make the runtime read other files)."""
    import onnx

    def refused(summary: str, **details) -> dict:
        return {"passed": False, "summary": summary, "details": {"format": "onnx", **details}}

    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as error:  # a foreign file can fail in any way
        return refused(f"The artifact could not be read as an ONNX model ({type(error).__name__}); it is refused.")
    graphs = list(_graphs(model.graph, onnx))
    domains = sorted({node.domain for graph in graphs for node in graph.node} - ONNX_DOMAINS)
    if domains or model.functions:
        custom = ", ".join(domains) or "functions"
        return refused(f"The ONNX model uses custom operators ({custom}); it was not loaded.", refused=domains)
    external = [tensor.name for graph in graphs for tensor in graph.initializer
                if tensor.data_location == onnx.TensorProto.EXTERNAL]  # fmt: skip
    if external:
        return refused("The ONNX model keeps weights in other files; it was not loaded.", refused=external)
    return {
        "passed": True,
        "summary": f"ONNX model: {len(model.graph.node)} standard operators, weights inside the file.",
        "details": {"format": "onnx", "pickle": False},
    }


def _is_onnx(data: bytes, file_name: str) -> bool:
    """An ONNX model is a protobuf whose first field is its IR version (tag byte 0x08)."""
    return file_name.lower().endswith(".onnx") or data[:1] == b"\x08"


def scan_bytes(data: bytes, file_name: str, extra: tuple[str, ...]) -> tuple[dict, object]:
    """(the scan's outcome, the model it built or None). A pickle or joblib file is scanned by
    building it with the restricted reader, so the object a loader uses is the one the scan
    passed, from the same bytes, in the same pass."""
    from evidence.sandbox.unpickle import Refused, restricted_load

    if _is_skops(data, file_name):
        return skops_scan(data, extra), None
    if _is_onnx(data, file_name):
        return onnx_scan(data), None
    try:
        model, seen, compression = restricted_load(data, extra)
    except Refused as refused:
        details = {"pickle": True, "refused": refused.names, "globals": sorted(set(getattr(refused, "seen", [])))}
        return {"passed": False, "summary": f"{refused} It was not loaded.", "details": details}, None
    from picklescan.scanner import SafetyLevel, scan_pickle_bytes

    # A second opinion from an independent static scanner: anything it calls dangerous is refused.
    static = scan_pickle_bytes(io.BytesIO(data if not compression else _inner(data)), file_name)
    dangerous = sorted({f"{g.module}.{g.name}" for g in static.globals if g.safety == SafetyLevel.Dangerous})
    if dangerous:
        outcome = {
            "passed": False,
            "summary": f"The pickle names unsafe code: {', '.join(dangerous)}. It was not loaded.",
            "details": {"pickle": True, "dangerous": dangerous, "scanner": "picklescan"},
        }
        return outcome, None
    names = sorted(set(seen))
    packed = f" ({compression}-compressed joblib)" if compression else ""
    summary = (
        f"Every one of the {len(names)} globals the pickle names is allowed{packed}."
        if names
        else ("The pickle names no globals.")
    )
    details = {"pickle": True, "format": "pickle", "globals": names, "compression": compression}
    return {"passed": True, "summary": summary, "details": details}, model


def _inner(data: bytes) -> bytes:
    from evidence.sandbox.unpickle import decompressed

    return decompressed(data)[0]


def pickle_scan(payload: dict, directory: Path) -> dict:
    """Scan an artifact (the input file ``input``, "artifact" by default), recognised by its
    content: a pickle or joblib file (compressed or not) is read by the restricted reader; a
    skops file for types outside the trusted list; an ONNX file for custom operators and
    external data. Anything else is refused."""
    data = (directory / payload.get("input", "artifact")).read_bytes()
    outcome, _model = scan_bytes(data, payload.get("file_name", ""), tuple(payload.get("allow", ())))
    return outcome
