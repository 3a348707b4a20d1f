"""The weight safety scan's result, and how a found global is judged: pure.

Pickle files run code when they are loaded: a pickle names globals (module + name) that
the loader imports and may call. The scanner (picklescan, see `validate/pickle_scan.py`)
lists them without loading anything and sorts them into dangerous (code execution: `os`,
`subprocess`, `builtins.exec`/`eval`, ...), innocuous and unknown. Here an unknown global
that PyTorch and numpy write into ordinary weights is harmless too; any other unknown one
is *unusual*: a warning for the reviewer. A dangerous one fails the validation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["dangerous", "unusual", "harmless"]
ScanStatus = Literal["passed", "warning", "failed"]

_BUILTINS_DANGEROUS = frozenset({"__import__", "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals",
                                 "locals", "vars", "input", "breakpoint", "help", "apply", "execfile", "reload"})
DANGEROUS_GLOBALS: dict[str, frozenset[str] | Literal["*"]] = {
    "builtins": _BUILTINS_DANGEROUS,
    "__builtin__": _BUILTINS_DANGEROUS,
    "os": "*", "posix": "*", "nt": "*", "subprocess": "*", "sys": "*", "shutil": "*", "socket": "*", "pty": "*",
    "runpy": "*", "ctypes": "*", "importlib": "*", "code": "*", "codeop": "*", "webbrowser": "*", "marshal": "*",
    "pickle": "*", "_pickle": "*", "dill": "*", "cloudpickle": "*", "joblib": "*", "pydoc": "*", "timeit": "*",
    "multiprocessing": "*", "asyncio": "*", "urllib": "*", "http": "*", "requests": "*", "tempfile": "*",
    "types": frozenset({"CodeType", "FunctionType", "ModuleType"}),
    "operator": frozenset({"attrgetter", "methodcaller", "itemgetter"}),
    "_operator": frozenset({"attrgetter", "methodcaller", "itemgetter"}),
    "functools": frozenset({"partial", "reduce"}),
    "torch.serialization": "*",
    "torch.hub": "*",
    "numpy.testing": "*", "numpy.f2py": "*", "numpy.distutils": "*",
}
"""Globals that fail the scan whatever the scanner says: what can import, run, read or
write anything (`__import__`, `exec`, `eval`, `os`, `subprocess`, ...). The scanner's own
list is longer in places; a global on either list is dangerous."""

HARMLESS_GLOBALS: dict[str, frozenset[str] | Literal["*"]] = {
    "builtins": frozenset({"set", "frozenset", "dict", "list", "tuple", "slice", "bytearray", "bytes", "complex",
                           "range", "int", "float", "str", "bool"}),
    "collections": frozenset({"OrderedDict", "defaultdict"}),
    "torch": frozenset({"Size", "device", "dtype", "float32", "float16", "bfloat16", "float64", "int64", "int32",
                        "uint8", "int8", "bool", "UntypedStorage", "TypedStorage"}),
    "torch._utils": frozenset({"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                               "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_device_tensor_from_numpy"}),
    "torch._tensor": frozenset({"_rebuild_from_type", "_rebuild_from_type_v2"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage", "_load_from_bytes"}),
    "torch.jit._pickle": "*",
    "__torch__": "*",
    "numpy": frozenset({"dtype", "ndarray"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "_codecs": frozenset({"encode"}),
}
"""Globals PyTorch (`torch.save`, TorchScript archives) and numpy write into ordinary
weights and arrays and that run no code of the file's choosing. `__torch__.*` names
TorchScript classes, which the TorchScript loader resolves inside the archive (Python's
pickle cannot import them); `torch.jit._pickle.*` rebuilds lists and tensors."""

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


def judge(module: str, name: str, scanner_level: str) -> Level:
    """Our level of a global the scanner rated `dangerous`, `innocuous` or `suspicious`."""
    if scanner_level == "dangerous" or _in(DANGEROUS_GLOBALS, module, name):
        return "dangerous"
    if scanner_level == "innocuous" or _in(HARMLESS_GLOBALS, module, name):
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
    """The globals it imports (in a stored scan: the dangerous and unusual ones; see `harmless`)."""
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
    """The scan's verdict: failed on any dangerous global, warning on unusual ones or
    unreadable pickles, else passed."""
    files = [f.model_copy(update={"globals": [g for g in f.globals if g.level != "harmless"],
                                  "harmless": f.harmless + sum(g.level == "harmless" for g in f.globals)}) for f in files]
    levels = {g.level for f in files for g in f.globals}
    status: ScanStatus = ("failed" if "dangerous" in levels or any(f.error for f in files)
                          else "warning" if "unusual" in levels or any(f.problem for f in files) else "passed")
    notes = {wf: FORMAT_NOTES.get(wf, "unknown weight format: not judged") for wf in formats}
    return WeightScan(scanner=scanner, status=status, files=files, formats=notes, checked=checked)


def scan_lines(scan: WeightScan) -> list[str]:
    """The scan for a person: verdict, every dangerous and unusual global, the formats' notes."""
    pickles = len(scan.files)
    lines = [f"weight safety scan ({scan.scanner}): {scan.status}; {scan.checked} files checked, {pickles} with pickles"]
    lines += [f"  dangerous global {g.dotted} in {where}" for where, g in scan.found("dangerous")]
    lines += [f"  unusual global {g.dotted} in {where} (harmless? check)" for where, g in scan.found("unusual")]
    lines += [f"  {f.file}: could not be scanned: {f.error}" for f in scan.files if f.error]
    lines += [f"  {f.file}: {f.problem}" for f in scan.files if f.problem]
    lines += [f"  {wf}: {note}" for wf, note in scan.formats.items()]
    return lines


SCAN_LOC = "weight safety scan"
"""Where the scan's errors and warnings point in the validation summary (they name the file themselves)."""


def scan_detail(scan: WeightScan) -> dict[str, Any]:
    """The scan as one detail of a bioimageio.spec validation summary (errors fail it)."""
    errors = [{"loc": [SCAN_LOC], "type": "unsafe_pickle",
               "msg": f"{where} imports the dangerous global {g.dotted}: loading it can run arbitrary code"}
              for where, g in scan.found("dangerous")]
    errors += [{"loc": [SCAN_LOC], "type": "unscannable_pickle",
                "msg": f"{f.file} could not be scanned for unsafe pickle globals: {f.error}"} for f in scan.files if f.error]
    warnings = [{"loc": [SCAN_LOC], "type": "unusual_pickle_global",
                 "msg": f"{where} imports the unusual global {g.dotted} (not known to be harmless; check it)"}
                for where, g in scan.found("unusual")]
    warnings += [{"loc": [SCAN_LOC], "type": "unreadable_pickle", "msg": f"{f.file}: {f.problem}"}
                 for f in scan.files if f.problem]
    return {"name": f"weight safety scan ({scan.scanner})", "status": "failed" if errors else "passed",
            "errors": errors, "warnings": warnings, "loc": [SCAN_LOC]}
