"""Pickles and packages the weight scan and diff tests craft. Nothing here is ever
unpickled: the malicious bytes are written opcode by opcode and only ever scanned."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML


def _unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def reduce_pickle(module: str, name: str, arg: str = "echo pwned") -> bytes:
    """A protocol 2 pickle that, if it were loaded, would call `module.name(arg)`:
    PROTO 2, GLOBAL, BINUNICODE arg, TUPLE1, REDUCE, STOP."""
    return b"\x80\x02" + f"c{module}\n{name}\n".encode() + _unicode(arg) + b"\x85R."


def stack_global_pickle(module: str, name: str, arg: str = "echo pwned") -> bytes:
    """The same with protocol 4's STACK_GLOBAL (module and name pushed as strings, memoized)."""
    def short(text: str) -> bytes:
        data = text.encode()
        return b"\x8c" + bytes([len(data)]) + data + b"\x94"  # SHORT_BINUNICODE, MEMOIZE
    return b"\x80\x04" + short(module) + short(name) + b"\x93\x94" + short(arg) + b"\x85R\x94."


def npy_with_objects(pickle_bytes: bytes) -> bytes:
    """An .npy file of object dtype whose payload is `pickle_bytes` (as numpy writes object arrays)."""
    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    return buf.getvalue() + pickle_bytes


def replace_in_zip(src: Path, out: Path, replace: dict[str, bytes]) -> Path:
    """A copy of the zip `src` with the entries whose names end in a key of `replace` replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = next((v for k, v in replace.items() if info.filename.endswith(k)), None)
            zout.writestr(info, zin.read(info) if data is None else data)
    return out


def with_weights(package: Path, out: Path, files: dict[str, bytes]) -> Path:
    """The package with `files` (package paths) replaced and their sha256 in rdf.yaml updated,
    so that static validation passes and only the scan can object."""
    yaml = YAML(typ="safe")
    with zipfile.ZipFile(package) as zin:
        rdf: Any = yaml.load(zin.read("rdf.yaml").decode())
        for entry in rdf["weights"].values():
            if entry["source"] in files:
                entry["sha256"] = hashlib.sha256(files[entry["source"]]).hexdigest()
        text = io.StringIO()
        yaml.dump(rdf, text)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = text.getvalue().encode() if info.filename == "rdf.yaml" else files.get(info.filename, zin.read(info))
                zout.writestr(info.filename, data)
    return out


def edit_package(src: Path, out: Path, edit: Callable[[dict[str, Any]], None], extra: dict[str, bytes] | None = None) -> Path:
    """A copy of the package with its rdf.yaml changed by `edit` and the `extra` files added."""
    yaml = YAML(typ="safe")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "rdf.yaml":
                rdf: Any = yaml.load(data.decode())
                edit(rdf)
                text = io.StringIO()
                yaml.dump(rdf, text)
                data = text.getvalue().encode()
            zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return out


def second_version_package(src: Path, out: Path) -> Path:
    """Version 2.0 of a package: renamed, tags changed, a file more."""
    def edit(rdf: dict[str, Any]) -> None:
        rdf.update(version="2.0", name="Tiny Dataset Renamed", tags=["demo", "nuclei"])

    return edit_package(src, out, edit, {"extra.txt": b"new notes"})
