"""Tasks run inside the sandbox: plain functions of a JSON payload and the sandbox directory.

They never import Django. Each returns ``{"passed": bool, "summary": str, "details": {...}}``.
"""

import importlib
import io
import pickle
import zipfile
from pathlib import Path

# What a scikit-learn model pickled with pickle or joblib (or saved with skops) may name: classes
# (and NumPy ufuncs) defined in these packages, or in a package the workflow allows, never in
# their test helpers; the few functions that rebuild arrays and random states; safe builtins.
# Anything else (os.system, builtins.eval, getattr, a function of scikit-learn that runs a
# script, a class another module re-exports, …) fails the scan and is never called.
SAFE_PACKAGES = ("sklearn.", "numpy.", "scipy.")
SAFE_FUNCTIONS = {
    "numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar",
    "numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer",
    "numpy.random._pickle.__bit_generator_ctor", "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__generator_ctor", "copyreg._reconstructor", "_codecs.encode",
    "collections.OrderedDict", "collections.defaultdict", "joblib.numpy_pickle.NumpyArrayWrapper",
}  # fmt: skip
SAFE_BUILTINS = {
    "object", "set", "frozenset", "slice", "range", "complex", "bytearray", "dict", "list", "tuple",
    "int", "float", "str", "bytes", "bool",
}  # fmt: skip
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".p")


def _allowed(module: str, name: str, extra: tuple[str, ...]) -> bool:
    if module == "builtins":
        return name in SAFE_BUILTINS
    if f"{module}.{name}" in SAFE_FUNCTIONS:
        return True
    packages = SAFE_PACKAGES + extra
    inside = f"{module}.".startswith(packages)
    if not inside or any("test" in part for part in module.split(".")) or "__" in name:
        return False
    try:  # importing a module of an allowed package runs only that package's own code
        target = importlib.import_module(module)
        for part in name.split("."):
            target = getattr(target, part)
    except Exception:  # noqa: BLE001 - a name that does not resolve is refused
        return False
    import numpy

    defined_inside = f"{getattr(target, '__module__', None) or ''}.".startswith(packages)
    return defined_inside and (isinstance(target, type) or isinstance(target, numpy.ufunc))


def _looks_pickled(data: bytes, file_name: str) -> bool:
    return data[:1] == b"\x80" or file_name.lower().endswith(PICKLE_SUFFIXES)


class _Refused(Exception):
    pass


def _walk_globals(data: bytes, extra: tuple[str, ...], joblib_arrays: bool) -> tuple[list[str], list[str]]:
    """Every global the pickle names, in order, by unpickling it with a ``find_class`` that resolves
    only allow-listed names (joblib's unpickler when the file holds joblib's inline numpy arrays,
    which it alone can read past). The first name outside the list stops the walk: it is never
    imported, so nothing it names runs."""
    seen, refused = [], []

    def guarded(base):
        class Guarded(base):
            def find_class(self, module, name):
                seen.append(f"{module}.{name}")
                if not _allowed(module, name, extra):
                    refused.append(f"{module}.{name}")
                    raise _Refused(f"{module}.{name}")
                return super().find_class(module, name)

        return Guarded

    if joblib_arrays:
        from joblib.numpy_pickle import NumpyUnpickler

        walker = guarded(NumpyUnpickler)("artifact", io.BytesIO(data), ensure_native_byte_order=True)
    else:
        walker = guarded(pickle._Unpickler)(io.BytesIO(data))
    try:
        walker.load()
    except _Refused:
        pass
    return seen, refused


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


def pickle_scan(payload: dict, directory: Path) -> dict:
    """Scan a pickle-based artifact (the input file ``input``, "artifact" by default) for
    globals that could run code when it is loaded; a skops file for types outside the trusted
    list; an ONNX file for custom operators and external data."""
    file_name = payload.get("file_name", "")
    data = (directory / payload.get("input", "artifact")).read_bytes()
    extra = tuple(payload.get("allow", ()))
    if _is_skops(data, file_name):
        return skops_scan(data, extra)
    if file_name.lower().endswith(".onnx"):
        return onnx_scan(data)
    if not _looks_pickled(data, file_name):
        return {
            "passed": True,
            "summary": f"'{file_name}' is not pickle-based; there is nothing to scan.",
            "details": {"pickle": False},
        }
    from picklescan.scanner import SafetyLevel, scan_pickle_bytes

    static = scan_pickle_bytes(io.BytesIO(data), file_name)
    dangerous = sorted({f"{g.module}.{g.name}" for g in static.globals if g.safety == SafetyLevel.Dangerous})
    if dangerous:
        return {
            "passed": False,
            "summary": f"The pickle calls unsafe code when loaded: {', '.join(dangerous)}. It was not loaded.",
            "details": {"pickle": True, "dangerous": dangerous, "scanner": "picklescan"},
        }
    try:
        joblib_arrays = any(g.module == "joblib.numpy_pickle" for g in static.globals)
        seen, refused = _walk_globals(data, extra, joblib_arrays)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        return {
            "passed": False,
            "summary": f"The artifact could not be read as a pickle ({type(error).__name__}); it is refused.",
            "details": {"pickle": True, "error": str(error)[:300]},
        }
    if refused:
        return {
            "passed": False,
            "summary": f"The pickle names globals outside the allowed list: {', '.join(refused)}. It was not loaded.",
            "details": {"pickle": True, "refused": refused, "globals": sorted(set(seen))},
        }
    names = len(set(seen))
    return {
        "passed": True,
        "summary": f"No unsafe globals among the {names} the pickle names."
        if names
        else "The pickle names no globals.",
        "details": {"pickle": True, "format": "pickle", "globals": sorted(set(seen))},
    }
