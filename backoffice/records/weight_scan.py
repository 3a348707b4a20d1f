"""The weight safety scan's result, and how a found global is judged: pure.

Pickle files run code when they are loaded: a pickle names globals (module + name) that
the loader imports and may call. The scanner (picklescan, see `validate/pickle_scan.py`)
lists them without loading anything. The scan fails closed: a global is harmless only if
it is on `HARMLESS_GLOBALS` (what PyTorch, TorchScript and numpy write into ordinary
weights); every other one fails the validation and is named, so that a reviewer can judge
it. `DANGEROUS_GLOBALS` (and the scanner's own list) only sharpen the message: such a
global is known to run code, not merely unknown.
"""

from __future__ import annotations

import _compat_pickle
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["dangerous", "unusual", "harmless"]
"""`unusual`: not known to be harmless (it fails the scan as a dangerous one does)."""
ScanStatus = Literal["passed", "warning", "failed"]

_BUILTINS_DANGEROUS = frozenset({"__import__", "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals",
                                 "locals", "vars", "input", "breakpoint", "help", "apply", "execfile", "reload"})
DANGEROUS_GLOBALS: dict[str, frozenset[str] | Literal["*"]] = {
    "builtins": _BUILTINS_DANGEROUS,
    "__builtin__": _BUILTINS_DANGEROUS,
    "os": "*", "posix": "*", "nt": "*", "subprocess": "*", "_posixsubprocess": "*", "sys": "*", "shutil": "*", "socket": "*",
    "pty": "*", "runpy": "*", "ctypes": "*", "_ctypes": "*", "importlib": "*", "code": "*", "codeop": "*", "webbrowser": "*",
    "marshal": "*", "pickle": "*", "_pickle": "*", "dill": "*", "cloudpickle": "*", "joblib": "*", "pydoc": "*", "timeit": "*",
    "multiprocessing": "*", "asyncio": "*", "urllib": "*", "http": "*", "requests": "*", "tempfile": "*", "site": "*",
    "logging.config": "*",  # dictConfig/fileConfig build handlers from factories the config names
    "types": frozenset({"CodeType", "FunctionType", "ModuleType"}),
    "operator": frozenset({"attrgetter", "methodcaller", "itemgetter"}),
    "_operator": frozenset({"attrgetter", "methodcaller", "itemgetter"}),
    "functools": frozenset({"partial", "reduce"}),
    "torch.serialization": "*",
    "torch.hub": "*",
    "torch.utils.cpp_extension": "*",  # compiles and loads C++ source
    "torch": frozenset({"load", "hub"}),
    "torch.storage": frozenset({"_load_from_bytes"}),  # torch.load(BytesIO(b), weights_only=False): a nested, unscanned pickle
    "numpy": frozenset({"load", "fromfile", "loadtxt", "genfromtxt"}),
    "numpy.ctypeslib": "*",  # loads shared libraries
    "numpy.testing": "*", "numpy.f2py": "*", "numpy.distutils": "*",
}
"""Globals known to run code (import, run, compile, load a library, read or write files):
named as dangerous in the report. A global on neither this list nor `HARMLESS_GLOBALS`
fails the scan all the same; the scanner's own list of dangerous globals counts too."""

_TORCH_SCALARS = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
_TORCH_DTYPES = frozenset({
    "float16", "float32", "float64", "bfloat16", "complex32", "complex64", "complex128", "bool", "uint8", "int8", "int16",
    "int32", "int64", "uint16", "uint32", "uint64", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
    *(f"uint{n}" for n in range(1, 8)), *(f"int{n}" for n in range(1, 8)),
})
_TORCH_STORAGES = frozenset({*(f"{s}Storage" for s in _TORCH_SCALARS), "ComplexFloatStorage", "ComplexDoubleStorage"})
_TORCH_QUANTIZED_STORAGES = frozenset({"QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage"})
_TORCH_TENSORS = frozenset(f"{s}Tensor" for s in _TORCH_SCALARS)
_NUMPY_ARRAYS = frozenset({"_reconstruct", "scalar"})

HARMLESS_GLOBALS: dict[str, frozenset[str] | Literal["*"]] = {
    "collections": frozenset({"OrderedDict", "Counter"}),
    "builtins": frozenset({"set", "complex", "bytearray"}),
    "_codecs": frozenset({"encode"}),  # bytes in a protocol 2 pickle
    "torch": _TORCH_STORAGES | _TORCH_QUANTIZED_STORAGES | _TORCH_TENSORS | _TORCH_DTYPES | frozenset({
        "Size", "Tensor", "device", "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
        "per_channel_symmetric", "per_channel_affine_float_qparams"}),
    "torch.cuda": _TORCH_STORAGES | _TORCH_TENSORS,
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch._utils": frozenset({
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter", "_rebuild_parameter_with_state",
        "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_nested_tensor",
        "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor"}),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
    "torch.jit._pickle": frozenset({"build_intlist", "build_tensorlist", "build_doublelist", "build_boollist",
                                    "build_tensor_from_id", "restore_type_tag"}),
    "__torch__": "*",
    "numpy": frozenset({"dtype", "ndarray"}),
    "numpy.core.multiarray": _NUMPY_ARRAYS,
    "numpy._core.multiarray": _NUMPY_ARRAYS,
}
"""The only globals that pass the scan: what `torch.save` (state dicts, checkpoints of
tensors, parameters, storages, dtypes, devices, sizes, quantized tensors), TorchScript
archives and numpy arrays write, and nothing of the file's choosing runs through them.
The facts come from torch's own `weights_only` unpickler (`torch/_weights_only_unpickler.py`,
torch 2.13: its allowed globals), less what only sparse tensors use (`torch.sparse.*`,
`torch.cuda.sparse.*`, `torch.serialization._get_layout`: that module is on the dangerous
list; a reviewer judges such a rare file by the names the report gives), plus TorchScript's
`torch.jit._pickle.*` helpers and its classes: `__torch__.*` names a class compiled from the
archive's own TorchScript code, which Python's pickle cannot import. Keras weights (HDF5,
`.keras`, SavedModel) hold no pickles. Each entry names globals exactly: only `__torch__`
covers its submodules, and a dotted name (`torch.load` looked up through a harmless module)
is never harmless. A protocol 2 pickle may write Python 2 names (`__builtin__.set`): they
are judged as the loaders read them (`builtins.set`)."""

FORMAT_NOTES: dict[str, str] = {
    "pytorch_state_dict": "pickles (torch.save zip): can run code when loaded; scanned."
                          " Its architecture is Python source that runs by design: read it.",
    "torchscript": "zip of pickles and TorchScript code: the pickles are scanned; TorchScript runs in"
                   " PyTorch's own interpreter, not as Python.",
    "onnx": "protobuf graph of ONNX operators: cannot carry Python code.",
    "tensorflow_saved_model_bundle": "protobuf graph and variables: cannot carry Python code"
                                     " (graph operators only); pickles inside the zip, if any, are scanned.",
    "keras_hdf5": "HDF5 (or .keras zip): no pickles; a Lambda layer may hold marshalled Python bytecode,"
                  " which this scan does not read.",
    "tensorflow_js": "JSON graph and binary weights: cannot carry Python code.",
}
"""Per weight format: whether it can carry code and what the scan does about it."""


def _in(table: dict[str, frozenset[str] | Literal["*"]], module: str, name: str) -> bool:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        allowed = table.get(".".join(parts[:i]))
        if allowed == "*" or (allowed is not None and i == len(parts) and name in allowed):
            return True
    return False


def _as_loaded(module: str, name: str) -> tuple[str, str]:
    """The global as Python 3 loaders read a Python 2 name (`__builtin__.set` -> `builtins.set`)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def judge(module: str, name: str, scanner_level: str) -> Level:
    """Our level of a global the scanner rated `dangerous`, `innocuous` or `suspicious`:
    harmless only if on `HARMLESS_GLOBALS` (the scanner's `innocuous` does not make it so)."""
    forms = {(module, name), _as_loaded(module, name)}
    if scanner_level == "dangerous" or any(_in(DANGEROUS_GLOBALS, m, n) for m, n in forms):
        return "dangerous"
    loaded_module, loaded_name = _as_loaded(module, name)
    if loaded_name.isidentifier() and _in(HARMLESS_GLOBALS, loaded_module, loaded_name):
        return "harmless"
    return "unusual"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)


class FoundGlobal(_Model):
    """A global a pickle imports."""

    module: str
    name: str
    level: Level
    where: str = ""
    """The pickle inside an archive (e.g. `weights/data.pkl`); empty for the file itself."""

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


class FileScan(_Model):
    """One scanned file."""

    file: str
    """Path relative to the files folder."""
    kind: str
    """What it was scanned as: `pickle`, `zip of pickles`, `numpy array with objects`."""
    weight_format: str | None = None
    """The weight format whose weights it is."""
    globals: list[FoundGlobal] = Field(default_factory=list[FoundGlobal])
    """The globals it imports (in a stored scan: those that fail it, dangerous or not known to be
    harmless (`unusual`); see `harmless`)."""
    harmless: int = 0
    """How many harmless globals a stored scan left out of `globals` (kept small in the concept document)."""
    problem: str | None = None
    """The scanner stopped early in a pickle (it judged the globals before that point): a warning."""
    error: str | None = None
    """The file could not be scanned at all: it fails the scan (what cannot be checked is not passed)."""


class WeightScan(_Model):
    """The weight safety scan of a draft or version."""

    scanner: str
    """Scanner and version, e.g. `picklescan 1.0.5`."""
    status: ScanStatus
    files: list[FileScan] = Field(default_factory=list[FileScan])
    """Every file that holds a pickle."""
    formats: dict[str, str] = Field(default_factory=dict)
    """Per weight format of the description: whether it can carry code (see `FORMAT_NOTES`)."""
    checked: int = 0
    """Files looked at (the others hold no pickle)."""

    def found(self, level: Level) -> list[tuple[str, FoundGlobal]]:
        return [(_where(f, g), g) for f in self.files for g in f.globals if g.level == level]


def _where(f: FileScan, g: FoundGlobal) -> str:
    return f"{f.file}:{g.where}" if g.where else f.file


def assess(scanner: str, files: Iterable[FileScan], formats: Iterable[str], checked: int) -> WeightScan:
    """The scan's verdict: failed on any global that is not harmless or a file that could not
    be scanned, warning on a pickle read only in part, else passed."""
    files = [f.model_copy(update={"globals": [g for g in f.globals if g.level != "harmless"],
                                  "harmless": f.harmless + sum(g.level == "harmless" for g in f.globals)}) for f in files]
    failing = any(f.globals or f.error for f in files)
    status: ScanStatus = "failed" if failing else "warning" if any(f.problem for f in files) else "passed"
    notes = {wf: FORMAT_NOTES.get(wf, "unknown weight format: not judged") for wf in formats}
    return WeightScan(scanner=scanner, status=status, files=files, formats=notes, checked=checked)


NOT_KNOWN = "not known to be harmless"
"""What the report says of a global on neither list."""


def finding(where: str, g: FoundGlobal) -> str:
    """One global that fails the scan, for a person: the file (and entry), the global, why."""
    if g.level == "dangerous":
        return f"{where} imports the dangerous global {g.dotted}: loading it can run arbitrary code"
    return f"{where} imports the global {g.dotted}, {NOT_KNOWN}: loading it may run code (a reviewer can judge it)"


def scan_reason(scan: WeightScan | None) -> str:
    """Why the scan failed, in one line ('' if it did not): the first finding, and how many more."""
    if scan is None or scan.status != "failed":
        return ""
    found = [f"{where} imports {g.dotted} ({'dangerous' if g.level == 'dangerous' else NOT_KNOWN})"
             for where, g in [*scan.found("dangerous"), *scan.found("unusual")]]
    found += [f"{f.file} could not be scanned" for f in scan.files if f.error]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"; weight safety scan: {found[0]}{more}" if found else ""


def scan_lines(scan: WeightScan) -> list[str]:
    """The scan for a person: verdict, every global that is not harmless, the formats' notes."""
    pickles = len(scan.files)
    lines = [f"weight safety scan ({scan.scanner}): {scan.status}; {scan.checked} files checked, {pickles} with pickles"]
    lines += [f"  dangerous global {g.dotted} in {where}" for where, g in scan.found("dangerous")]
    lines += [f"  global {g.dotted} in {where}: {NOT_KNOWN}" for where, g in scan.found("unusual")]
    lines += [f"  {f.file}: could not be scanned: {f.error}" for f in scan.files if f.error]
    lines += [f"  {f.file}: {f.problem}" for f in scan.files if f.problem]
    lines += [f"  {wf}: {note}" for wf, note in scan.formats.items()]
    return lines


SCAN_LOC = "weight safety scan"
"""Where the scan's errors and warnings point in the validation summary (they name the file themselves)."""


def scan_detail(scan: WeightScan) -> dict[str, Any]:
    """The scan as one detail of a bioimageio.spec validation summary (errors fail it)."""
    errors = [{"loc": [SCAN_LOC], "type": "unsafe_pickle" if g.level == "dangerous" else "unknown_pickle_global",
               "msg": finding(where, g)} for where, g in [*scan.found("dangerous"), *scan.found("unusual")]]
    errors += [{"loc": [SCAN_LOC], "type": "unscannable_pickle",
                "msg": f"{f.file} could not be scanned for unsafe pickle globals: {f.error}"} for f in scan.files if f.error]
    warnings = [{"loc": [SCAN_LOC], "type": "unreadable_pickle", "msg": f"{f.file}: {f.problem}"}
                for f in scan.files if f.problem]
    return {"name": f"weight safety scan ({scan.scanner})", "status": "failed" if errors else "passed",
            "errors": errors, "warnings": warnings, "loc": [SCAN_LOC]}
