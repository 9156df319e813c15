"""Tasks run inside the sandbox: plain functions of a JSON payload and the sandbox directory.

They never import Django. Each returns ``{"passed": bool, "summary": str, "details": {...}}``.
"""

import io
import pickle
from pathlib import Path

# Globals a scikit-learn model pickled with pickle or joblib may name. Anything else (os.system,
# builtins.eval, subprocess, getattr, …) fails the scan, and is never resolved, let alone called.
SAFE_PREFIXES = (
    "sklearn.",
    "numpy.",
    "numpy:",
    "scipy.",
    "joblib.numpy_pickle:",
    "collections:OrderedDict",
    "collections:defaultdict",
    "copyreg:_reconstructor",
    "_codecs:encode",
)
SAFE_BUILTINS = {
    "object", "set", "frozenset", "slice", "range", "complex", "bytearray", "dict", "list", "tuple",
    "int", "float", "str", "bytes", "bool",
}  # fmt: skip
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".p")


def _allowed(module: str, name: str, extra: tuple[str, ...]) -> bool:
    if module == "builtins":
        return name in SAFE_BUILTINS
    qualified = f"{module}:{name}"
    return any(qualified.startswith(prefix) or f"{module}.".startswith(prefix) for prefix in SAFE_PREFIXES + extra)


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


def pickle_scan(payload: dict, directory: Path) -> dict:
    """Scan a pickle-based artifact (the input file ``input``, "artifact" by default) for
    globals that could run code when it is loaded."""
    file_name = payload.get("file_name", "")
    data = (directory / payload.get("input", "artifact")).read_bytes()
    if not _looks_pickled(data, file_name):
        return {
            "passed": True,
            "summary": f"'{file_name}' is not pickle-based; there is nothing to scan.",
            "details": {"pickle": False},
        }
    from picklescan.scanner import SafetyLevel, scan_pickle_bytes

    extra = tuple(payload.get("allow", ()))
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
        "details": {"pickle": True, "globals": sorted(set(seen))},
    }
