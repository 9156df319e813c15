"""The one reader of pickle and joblib artifacts: it scans and loads in the same pass.

A pickle is a program. Reading it with an unrestricted unpickler runs whatever it names, and
scanning it with one parser and loading it with another lets the two disagree about what the
bytes say. So Signoff never calls ``pickle.load`` or ``joblib.load`` on uploaded bytes: the
artifact is read into memory once (from the copy verified against its SHA-256), and this module's
unpickler both decides and builds, under three rules:

- **Names.** ``find_class`` resolves only classes it can vouch for (scikit-learn estimators and
  their internal state classes, NumPy arrays, dtypes, scalars and random generators, SciPy sparse
  matrices, plain builtins, or classes of a package the workflow allows with ``allow:``), NumPy
  ufuncs as plain values, and a short list of reconstructor functions by exact name. Never a
  memmap, a file, a function of a library, or anything from a test module.
- **Opcodes.** ``REDUCE`` calls only the reconstructors and a few classes known to rebuild state
  from plain arguments (a dtype, a tree, a Cython loss), ``copyreg._reconstructor`` only on an
  allowed class; ``NEWOBJ`` only creates instances of allowed classes; ``INST``, ``OBJ``,
  extension codes and persistent ids are refused. So a ufunc is never called, and no class is
  constructed with arguments the file chose, except those listed.
- **Framing.** joblib's inline arrays are read here, by their declared shape and dtype (object
  arrays by this same unpickler, recursively); the stream must end exactly at its last ``STOP``.
  Compressed joblib files are recognised by their magic bytes and decompressed in memory, with a
  cap; anything no rule recognises is refused, never waved through as "not a pickle".
"""

import _compat_pickle
import bz2
import copyreg
import gzip
import io
import lzma
import pickle
import zlib

MAX_DECOMPRESSED = 1024**3  # bytes a compressed artifact may expand to

SAFE_BUILTINS = {
    "object", "set", "frozenset", "slice", "range", "complex", "bytearray", "dict", "list", "tuple",
    "int", "float", "str", "bytes", "bool",
}  # fmt: skip
# Functions a pickle may call (REDUCE), by exact name: each rebuilds a value from plain data.
SAFE_REDUCERS = {
    "numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar",
    "numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer",
    "numpy.random._pickle.__bit_generator_ctor", "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    "copyreg._reconstructor", "_codecs.encode",
}  # fmt: skip
# Classes a pickle may call with arguments of its choosing (REDUCE), by exact name or module.
REDUCIBLE_CLASSES = {"numpy.dtype", "sklearn.tree._tree.Tree", "collections.OrderedDict"}
REDUCIBLE_MODULES = ("sklearn._loss._loss",)
SAFE_COLLECTIONS = {"collections.OrderedDict"}
NUMPY_CLASSES = {
    "numpy.ndarray", "numpy.dtype", "numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64",
    "numpy.random._pcg64.PCG64DXSM", "numpy.random._philox.Philox", "numpy.random._sfc64.SFC64",
    "numpy.random.bit_generator.SeedSequence", "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
}  # fmt: skip
JOBLIB_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
# scikit-learn classes that are not estimators but are the state of one.
SKLEARN_STATE_MODULES = (
    "sklearn._loss.", "sklearn.tree._tree", "sklearn.ensemble._hist_gradient_boosting.", "sklearn.neighbors._",
    "sklearn.utils._bunch",
)  # fmt: skip
COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", lambda source: gzip.GzipFile(fileobj=source)),
    (b"BZh", "bz2", bz2.BZ2File),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMAFile),
    (b"\x5d\x00\x00", "lzma", lzma.LZMAFile),
)


class Refused(Exception):
    """The bytes are not a model this reader will build; ``names`` are the globals refused."""

    def __init__(self, message: str, names: list[str] | None = None):
        super().__init__(message)
        self.names = names or []


def _qualified(value) -> str:
    return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"


def _in_tests(module: str) -> bool:
    return any("test" in part for part in module.split("."))


def decompressed(data: bytes) -> tuple[bytes, str]:
    """The pickle inside a joblib file compressed with gzip, bz2, xz, lzma or zlib (by magic
    bytes, never by name), and the compression's name ("" when not compressed)."""
    for magic, name, opener in COMPRESSIONS:
        if data.startswith(magic):
            return _bounded(opener(io.BytesIO(data)), name), name
    if data[:1] == b"\x78" and data[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        return _bounded(_ZlibReader(data), "zlib"), "zlib"
    if data.startswith(b"\x04\x22\x4d\x18"):
        raise Refused("The artifact is compressed with lz4, which Signoff does not read; save it uncompressed.")
    if data.startswith(b"ZF"):
        raise Refused("The artifact is in joblib's pre-0.10 compressed format, which Signoff does not read.")
    return data, ""


class _ZlibReader:
    def __init__(self, data: bytes):
        self.source, self.inflater = io.BytesIO(data), zlib.decompressobj()

    def read(self, size: int) -> bytes:
        while True:
            chunk = self.source.read(65536)
            if not chunk:
                return self.inflater.flush()
            out = self.inflater.decompress(chunk, size)
            if out:
                return out

    def close(self):
        pass


def _bounded(reader, name: str) -> bytes:
    output = bytearray()
    try:
        while chunk := reader.read(1024 * 1024):
            output += chunk
            if len(output) > MAX_DECOMPRESSED:
                raise Refused(f"The {name}-compressed artifact expands past {MAX_DECOMPRESSED // 1024**2} MB.")
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        raise Refused(f"The {name}-compressed artifact could not be decompressed ({error}).") from None
    finally:
        reader.close()
    return bytes(output)


def looks_like_pickle(data: bytes) -> bool:
    """A pickle of protocol 2 to 5 starts with ``PROTO`` and its version; one of protocol 0 or 1
    with an opcode (the reader then parses the rest, or refuses it)."""
    import pickletools

    if data[:1] == b"\x80":
        return data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    return data[:1].decode("latin-1") in pickletools.code2op if data else False


class Policy:
    """Which names a pickle may resolve and which it may call."""

    def __init__(self, extra: tuple[str, ...] = ()):
        self.extra = tuple(package.rstrip(".") + "." for package in extra)

    def resolvable(self, module: str, name: str, value) -> bool:
        full = f"{module}.{name}"
        if module == "builtins":
            return name in SAFE_BUILTINS
        if full in SAFE_REDUCERS or full in SAFE_COLLECTIONS or full == JOBLIB_WRAPPER:
            return True
        if _in_tests(module) or _in_tests(_qualified(value)):
            return False
        import numpy

        if isinstance(value, numpy.ufunc):
            return module == "numpy"  # a value only: REDUCE never calls it
        if not isinstance(value, type):
            return False
        defined = _qualified(value)
        if defined.startswith("numpy."):
            return defined in NUMPY_CLASSES or full in NUMPY_CLASSES or _numpy_scalar(value)
        if defined.startswith("sklearn."):
            from sklearn.base import BaseEstimator

            return issubclass(value, BaseEstimator) or defined.startswith(SKLEARN_STATE_MODULES)
        if defined.startswith("scipy.sparse."):
            from scipy import sparse

            return issubclass(value, (sparse.spmatrix, sparse.sparray))
        return bool(self.extra) and f"{defined}".startswith(self.extra)

    def reducible(self, function) -> bool:
        full = _qualified(function)
        if full in SAFE_REDUCERS or full in REDUCIBLE_CLASSES:
            return True
        if isinstance(function, type) and function.__module__ == "builtins":
            return function.__name__ in SAFE_BUILTINS and function is not object
        return isinstance(function, type) and function.__module__.startswith(REDUCIBLE_MODULES)


def _numpy_scalar(value: type) -> bool:
    import numpy

    return issubclass(value, numpy.generic)


class RestrictedUnpickler(pickle._Unpickler):
    """joblib's and pickle's format, read under ``Policy``; every global it resolved is in
    ``seen``."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, stream: io.BytesIO, policy: Policy, seen: list[str]):
        super().__init__(stream)
        self.stream, self.policy, self.seen = stream, policy, seen

    def find_class(self, module, name):
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        self.seen.append(full)
        if not full.replace("_", "a").replace(".", "a").isalnum() or not self._importable(module):
            raise Refused(f"The pickle names {full}, which is not allowed.", [full])
        try:
            value = super().find_class(module, name)
        except Exception:  # noqa: BLE001 - a name that does not resolve is refused
            raise Refused(f"The pickle names {full}, which does not exist here.", [full]) from None
        if not self.policy.resolvable(module, name, value):
            raise Refused(f"The pickle names {full}, which is not allowed.", [full])
        return value

    def _importable(self, module: str) -> bool:
        """Only modules of the packages the policy could allow are ever imported (importing runs
        the module's code)."""
        roots = ("builtins", "copyreg", "_codecs", "collections", "numpy", "sklearn", "scipy", "joblib")
        return (
            module.split(".")[0] in roots
            or module.startswith(self.policy.extra)
            or f"{module}.".startswith(self.policy.extra)
        )

    def load_reduce(self):
        arguments = self.stack[-1]
        function = self.stack[-2]
        if not self.policy.reducible(function):
            name = _qualified(function)
            raise Refused(f"The pickle calls {name}, which only rebuilds of plain data may do.", [name])
        if function is copyreg._reconstructor:
            cls, base = arguments[0], arguments[1] if len(arguments) > 1 else None
            if (
                not isinstance(cls, type)
                or base is not object
                or not self.policy.resolvable(cls.__module__, cls.__qualname__, cls)
            ):
                raise Refused("The pickle rebuilds an object of a class that is not allowed.", [_qualified(cls)])
        if _qualified(function).endswith("multiarray._reconstruct"):
            import numpy

            if arguments[:1] != (numpy.ndarray,):
                raise Refused("The pickle rebuilds an array subclass, which is not allowed.")
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self):
        self._check_new(self.stack[-2])
        super().load_newobj()

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        self._check_new(self.stack[-3])
        super().load_newobj_ex()

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _check_new(self, cls):
        if not isinstance(cls, type) or not self.policy.resolvable(cls.__module__, cls.__qualname__, cls):
            raise Refused(f"The pickle creates {_qualified(cls)}, which is not allowed.", [_qualified(cls)])

    def _refuse_opcode(self):
        raise Refused("The pickle uses an opcode that builds objects by calling them (INST, OBJ or EXT).")

    for _opcode in (pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_opcode[0]] = _refuse_opcode

    def load_build(self):
        from joblib.numpy_pickle import NumpyArrayWrapper

        state, target = self.stack[-1], self.stack[-2]
        if isinstance(target, type) or callable(target) and not hasattr(target, "__dict__"):
            # Setting attributes on a class (or a ufunc) would rewrite code every model shares.
            raise Refused(f"The pickle sets the state of {_qualified(target) or type(target).__name__}, a class.")
        if type(target) is NumpyArrayWrapper:
            self.stack.pop()
            self.stack[-1] = self._array(target, state)
            return
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def _array(self, wrapper, state):
        """An array joblib wrote inline after its wrapper: its bytes read here by declared shape
        and dtype, never with a second parser."""
        import numpy

        if not isinstance(state, dict):
            raise Refused("A joblib array header is malformed.")
        shape, order, dtype = state.get("shape"), state.get("order"), state.get("dtype")
        alignment = state.get("numpy_array_alignment_bytes")
        if (
            state.get("subclass") is not numpy.ndarray
            or not isinstance(shape, tuple)
            or not all(type(n) is int and 0 <= n < 2**40 for n in shape)
            or order not in ("C", "F")
            or not isinstance(dtype, numpy.dtype)
            or not (alignment is None or (type(alignment) is int and 0 < alignment <= 256))
        ):
            raise Refused("A joblib array header is malformed or names an array subclass.")
        if dtype.hasobject:
            array = RestrictedUnpickler(self.stream, self.policy, self.seen).load()
            if not isinstance(array, numpy.ndarray):
                raise Refused("A joblib object array is not an array.")
            return array
        if alignment is not None:
            padding = self.stream.read(1)
            self.stream.read(int.from_bytes(padding, "little"))
        count = 1
        for n in shape:
            count *= n
        size = count * dtype.itemsize
        data = self.stream.read(size)
        if len(data) != size:
            raise Refused("A joblib array is shorter than its header says.")
        array = numpy.frombuffer(data, dtype=dtype, count=count).copy()
        return array.reshape(shape[::-1]).transpose() if order == "F" else array.reshape(shape)


def restricted_load(data: bytes, extra: tuple[str, ...] = ()) -> tuple[object, list[str], str]:
    """The object a pickle or joblib file holds, built under ``Policy``: (object, the globals it
    named, the compression). Raises ``Refused`` saying why when the bytes are anything else."""
    data, compression = decompressed(data)
    if not looks_like_pickle(data):
        raise Refused("The artifact is not a pickle, joblib, skops or ONNX file; it is refused.")
    stream, seen = io.BytesIO(data), []
    try:
        value = RestrictedUnpickler(stream, Policy(extra), seen).load()
    except Refused as refused:
        refused.names = refused.names or []
        refused.seen = seen
        raise
    except RecursionError:
        raise Refused("The pickle is nested too deeply to read.") from None
    except Exception as error:  # noqa: BLE001 - a foreign stream can fail in any way
        if data[:1] != b"\x80":  # no protocol header: most likely not a pickle at all
            raise Refused("The artifact is not a pickle, joblib, skops or ONNX file; it is refused.") from None
        raise Refused(f"The artifact could not be read as a pickle ({type(error).__name__}); it is refused.") from None
    if stream.tell() != len(data):
        raise Refused("The pickle has bytes after its end; it is refused (a second reader could see other code).")
    return value, seen, compression
