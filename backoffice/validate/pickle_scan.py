"""Scan one file for pickles and the globals they import, with picklescan, never loading
or unpickling anything (picklescan walks the opcodes with `pickletools.genops`; numpy's
header is read as a literal). Which scanner and why: docs/weight_scan.md.

A file is looked at by its first bytes and its extension:
- a zip (`torch.save` and TorchScript archives, `.npz`, a zipped SavedModel): every
  entry that is a pickle (`.pkl` or pickle protocol 2+ header) or an `.npy` is scanned
  on its own, so a finding names the entry; the whole file is scanned as picklescan
  would as well, and what only that finds is named by the file;
- a pickle (protocol 2+ header, or a pickle/PyTorch extension such as `.pt`, `.pth`,
  `.pkl`, `.bin`, `.ckpt`): scanned (the legacy `torch.save` format included);
- an `.npy` array: only one with object dtype holds a pickle; it is scanned.
Everything else holds no pickle and is not scanned.
"""

from __future__ import annotations

import importlib
import logging
import zipfile
from pathlib import Path
from typing import IO, Any

from ..records.weight_scan import FileScan, FoundGlobal, judge

PICKLE_EXTENSIONS = frozenset({".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib", ".dat", ".data", ".pt2"})
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
NUMPY_MAGIC = b"\x93NUMPY"
HEAD_BYTES = 8


def scanner_name() -> str:
    from importlib.metadata import version

    return f"picklescan {version('picklescan')}"


def is_pickle_head(head: bytes) -> bool:
    """A pickle of protocol 2 or later starts with PROTO (0x80) and its number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def sniff(name: str, head: bytes) -> str | None:
    """What to scan the file as (`zip`, `numpy`, `pickle`), or None: it holds no pickle."""
    ext = Path(name).suffix.lower()
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(NUMPY_MAGIC):
        return "numpy"
    if is_pickle_head(head) or ext in PICKLE_EXTENSIONS:
        return "pickle"
    return None


Found = dict[tuple[str, str, str], FoundGlobal]
"""Globals by (where, module, name)."""


def _picklescan() -> Any:
    """picklescan's scanner module (it ships no type information)."""
    return importlib.import_module("picklescan.scanner")


def _globals(result: Any, where: str) -> Found:
    out: Found = {}
    for g in result.globals:
        module, name = str(g.module), str(g.name)
        out[(where, module, name)] = FoundGlobal(module=module, name=name, level=judge(module, name, str(g.safety.value)), where=where)
    return out


def _npy_has_objects(f: IO[bytes]) -> bool:
    import numpy as np

    version = np.lib.format.read_magic(f)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    _, _, dtype = header(f)
    f.seek(0)
    return bool(dtype.hasobject)


def _scan_zip(path: Path, name: str) -> tuple[Found, bool, bool]:
    """(globals, whether any entry holds a pickle, whether a pickle was read only in part)."""
    scanner = _picklescan()
    found: Found = {}
    any_pickle = partial = False
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            with zf.open(info) as entry:
                head = entry.read(HEAD_BYTES)
            ext = Path(info.filename).suffix.lower()
            is_npy = head.startswith(NUMPY_MAGIC)
            if not (is_npy or is_pickle_head(head) or ext in PICKLE_EXTENSIONS):
                continue
            with zf.open(info) as entry:
                if is_npy:
                    if not _npy_has_objects(entry):
                        continue
                    result = scanner.scan_numpy(entry, f"{name}:{info.filename}")
                else:
                    result = scanner.scan_pickle_bytes(entry, f"{name}:{info.filename}")
            any_pickle = True
            partial = partial or bool(result.scan_err)
            found.update(_globals(result, info.filename))
    with path.open("rb") as f:  # as picklescan scans the whole file: what it finds beyond the above is named by the file
        whole = _globals(scanner.scan_bytes(f, name, path.suffix.lower()), "")
    named = {(m, n) for _, m, n in found}
    found.update({k: g for k, g in whole.items() if (k[1], k[2]) not in named})
    return found, any_pickle or bool(whole), partial


def scan_file(path: Path, name: str) -> FileScan | None:
    """The pickles in the file at `path` (`name`: its path in the package), or None: it holds none."""
    scanner = _picklescan()
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)  # findings are reported by us, once
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    kind = sniff(name, head)
    if kind is None:
        return None
    try:
        if kind == "zip":
            found, any_pickle, partial = _scan_zip(path, name)
            if not any_pickle:
                return None
            return FileScan(file=name, kind="zip of pickles", globals=_sorted(found),
                            problem="a pickle inside could be read only in part" if partial else None)
        with path.open("rb") as f:
            if kind == "numpy":
                if not _npy_has_objects(f):
                    return None
                result = scanner.scan_numpy(f, name)
            else:
                result = scanner.scan_bytes(f, name, path.suffix.lower())
        return FileScan(file=name, kind="numpy array with objects" if kind == "numpy" else "pickle",
                        globals=_sorted(_globals(result, "")),
                        problem="the pickle could be read only in part" if result.scan_err else None)
    except Exception as e:  # a file the scanner cannot read is not passed
        return FileScan(file=name, kind=kind, error=f"{type(e).__name__}: {e}"[:500])


def _sorted(found: Found) -> list[FoundGlobal]:
    order = {"dangerous": 0, "unusual": 1, "harmless": 2}
    return sorted(found.values(), key=lambda g: (order[g.level], g.where, g.module, g.name))
