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
import pickletools
import zipfile
from pathlib import Path
from typing import IO, Any

from ..records.weight_scan import FileScan, FoundGlobal, judge

PICKLE_EXTENSIONS = frozenset({".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib", ".dat", ".data", ".pt2"})
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
NUMPY_MAGIC = b"\x93NUMPY"
HEAD_BYTES = 8
LEGACY_TORCH_PICKLES = 5
"""Pickles a legacy `torch.load` reads one after another from the start of the file (magic
number, protocol, system info, the object, the storage keys); raw storage bytes follow."""
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
LOADED_ENTRY_EXTENSIONS = frozenset({".pkl", ".pickle"})
"""Zip entries a loader unpickles whatever their first bytes (`torch.load`: `data.pkl`; TorchScript: `constants.pkl`)."""
LOADED_EXTENSIONS = LOADED_ENTRY_EXTENSIONS | {".pt", ".pth", ".joblib"}
"""Files that are pickles (or torch zips) whatever their first bytes. Not a pickle header alone:
raw bytes (`.bin` shards, a tensor's storage in a torch zip) start with one now and then
(0x80 0x02-0x05) and would fail a sound model; picklescan still scans those as before."""


def scanner_name() -> str:
    from importlib.metadata import version

    return f"picklescan {version('picklescan')}"


def is_pickle_head(head: bytes) -> bool:
    """A pickle of protocol 2 or later starts with PROTO (0x80) and its number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def sniff(name: str, head: bytes, weights: bool = False) -> str | None:
    """What to scan the file as (`zip`, `numpy`, `pickle`), or None: it holds no pickle.
    `weights`: the file is the weights of a pickle-based format, a pickle whatever its name
    (a protocol 0 or 1 pickle has no header to know it by)."""
    ext = Path(name).suffix.lower()
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(NUMPY_MAGIC):
        return "numpy"
    if weights or is_pickle_head(head) or ext in PICKLE_EXTENSIONS:
        return "pickle"
    return None


def unparsed(f: IO[bytes]) -> str | None:
    """Why the pickles a loader reads from the start of `f` cannot be read to their end by the
    parser the scanner uses (`pickletools.genops`), or None. picklescan reports no global and
    no error for a pickle its parser gives up on before the first global, but Python's
    unpickler reads more than that parser (`I0x10`: an int in base 0), so such a pickle would
    pass unscanned: the first pickle, and for a legacy `torch.save` file the four after it,
    must be read to their STOP."""
    for i in range(LEGACY_TORCH_PICKLES):
        legacy = False
        try:
            for _, arg, _ in pickletools.genops(f):
                legacy = legacy or arg == _LEGACY_TORCH_MAGIC
        except Exception as e:
            return f"pickle {i + 1} could not be read to its end by the scanner ({type(e).__name__}: {e})"[:300]
        if i == 0 and not legacy:
            return None
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


def _npy_skip_header(f: IO[bytes]) -> None:
    """Read past an `.npy` header (its object array's pickle follows)."""
    import numpy as np

    version = np.lib.format.read_magic(f)
    (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(f)


def _npy_has_objects(f: IO[bytes]) -> bool:
    import numpy as np

    version = np.lib.format.read_magic(f)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    _, _, dtype = header(f)
    f.seek(0)
    return bool(dtype.hasobject)


def _scan_zip(path: Path, name: str) -> tuple[Found, bool, bool, str | None]:
    """(globals, whether any entry holds a pickle, whether a pickle was read only in part, why
    a pickle a loader reads could not be read to its end)."""
    scanner = _picklescan()
    found: Found = {}
    any_pickle = partial = False
    why: str | None = None
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
            if is_npy or ext in LOADED_ENTRY_EXTENSIONS:  # what a loader unpickles (a tensor's raw bytes may look like a pickle)
                with zf.open(info) as entry:
                    if is_npy:
                        _npy_skip_header(entry)
                    entry_why = unparsed(entry)
                why = why or (f"{info.filename}: {entry_why}" if entry_why else None)
            any_pickle = True
            partial = partial or bool(result.scan_err)
            found.update(_globals(result, info.filename))
    with path.open("rb") as f:  # as picklescan scans the whole file: what it finds beyond the above is named by the file
        whole = _globals(scanner.scan_bytes(f, name, path.suffix.lower()), "")
    named = {(m, n) for _, m, n in found}
    found.update({k: g for k, g in whole.items() if (k[1], k[2]) not in named})
    return found, any_pickle or bool(whole), partial, why


def _scan_pickle(path: Path, name: str, loaded: bool) -> tuple[Found, bool, str | None]:
    """(globals, whether picklescan read it only in part, why it could not be read to its end)
    of a file that starts as a pickle.
    picklescan's own choice (by extension, or a zip's end record anywhere in the file) is
    joined by a read of the pickles from the first byte, as a legacy loader reads them: a
    pickle with a zip appended is no zip to `torch.load`; and each of the first pickles is
    scanned on its own too (picklescan's read of several pickles keeps one memo for all, so a
    later pickle's `BINGET` of a memoized name was taken for an earlier pickle's entry, e.g.
    `torch.Size` for `os.system`). `loaded`: a loader unpickles it (weights,
    or a pickle by its extension): what the scanner's parser cannot read of it fails (`unparsed`)."""
    scanner = _picklescan()
    with path.open("rb") as f:
        result = scanner.scan_bytes(f, name, path.suffix.lower())
    with path.open("rb") as f:
        stream = scanner.scan_pickle_bytes(f, name)  # stops at the first bytes that are no pickle
    found = {**_globals(stream, ""), **_globals(result, "")}
    with path.open("rb") as f:  # each pickle with a memo of its own, as each `pickle.load` of a loader has
        for _ in range(LEGACY_TORCH_PICKLES):
            found.update(_globals(scanner.scan_pickle_bytes(f, name, multiple_pickles=False), ""))
            if not f.read(1):
                break
            f.seek(-1, 1)
    why = None
    if loaded:
        with path.open("rb") as f:
            why = unparsed(f)
    return found, bool(result.scan_err), why


def scan_file(path: Path, name: str, weights: bool = False) -> FileScan | None:
    """The pickles in the file at `path` (`name`: its path in the package), or None: it holds none.
    `weights`: the weights of a pickle-based format (scanned whatever they look like)."""
    scanner = _picklescan()
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)  # findings are reported by us, once
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    kind = sniff(name, head, weights)
    if kind is None:
        return None
    try:
        if kind == "zip":
            found, any_pickle, partial, why = _scan_zip(path, name)
            if not any_pickle:
                return None
            return FileScan(file=name, kind="zip of pickles", globals=_sorted(found), error=why,
                            problem="a pickle inside could be read only in part" if partial else None)
        if kind == "pickle":
            found, partial, why = _scan_pickle(path, name, weights or Path(name).suffix.lower() in LOADED_EXTENSIONS)
            return FileScan(file=name, kind="pickle", globals=_sorted(found), error=why,
                            problem="the pickle could be read only in part" if partial else None)
        with path.open("rb") as f:
            if not _npy_has_objects(f):
                return None
            result = scanner.scan_numpy(f, name)
            f.seek(0)
            _npy_skip_header(f)
            why = unparsed(f)
        return FileScan(file=name, kind="numpy array with objects", globals=_sorted(_globals(result, "")), error=why,
                        problem="the pickle could be read only in part" if result.scan_err else None)
    except Exception as e:  # a file the scanner cannot read is not passed
        return FileScan(file=name, kind=kind, error=f"{type(e).__name__}: {e}"[:500])


def _sorted(found: Found) -> list[FoundGlobal]:
    order = {"dangerous": 0, "unusual": 1, "harmless": 2}
    return sorted(found.values(), key=lambda g: (order[g.level], g.where, g.module, g.name))
