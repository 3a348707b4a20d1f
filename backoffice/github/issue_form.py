"""The upload issue form (`.github/ISSUE_TEMPLATE/upload.yaml`) as GitHub renders it
into the issue body:

    ### Package URL

    https://example.org/model.zip

    ### Concept id

    _No response_

Each field is a `### <label>` heading followed by its value; an empty optional field
reads `_No response_`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from ..errors import InvalidArgumentError

PACKAGE_URL_LABEL = "Package URL"
CONCEPT_ID_LABEL = "Concept id"
NO_RESPONSE = "_No response_"
CONCEPT_ID = re.compile(r"^[a-z][a-z-]*[a-z]$")

_HEADING = re.compile(r"^###\s+(?P<label>.+?)\s*$")
_MARKDOWN_LINK = re.compile(r"^\[[^\]]*\]\((?P<url>[^)\s]+)\)$")


class FormProblem(InvalidArgumentError):
    """The issue form cannot be used as it is; the message tells the author what to fix."""


@dataclass(frozen=True)
class UploadRequest:
    package_url: str
    concept_id: str | None


def parse_issue_form(body: str) -> dict[str, str]:
    """Field label (lower case) -> value; `_No response_` becomes the empty string."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        heading = _HEADING.match(line)
        if heading:
            current = fields.setdefault(heading.group("label").strip().lower(), [])
        elif current is not None:
            current.append(line)
    out: dict[str, str] = {}
    for label, lines in fields.items():
        value = "\n".join(lines).strip()
        out[label] = "" if value == NO_RESPONSE else value
    return out


def _clean_url(value: str) -> str:
    """The URL as typed: `<url>` and `[text](url)` are unwrapped."""
    value = value.strip()
    link = _MARKDOWN_LINK.match(value)
    if link:
        value = link.group("url")
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


def check_package_url(url: str) -> str:
    """`url` if it is an http(s) URL of a zip file, else a FormProblem saying why not."""
    label = f"**{PACKAGE_URL_LABEL}**"
    if not url:
        raise FormProblem(f"the {label} field is empty: give the http(s) URL of the resource package (a .zip file)")
    if any(c.isspace() for c in url):
        raise FormProblem(f"the {label} field must hold one URL without spaces, not `{url}`")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise FormProblem(f"the {label} `{url}` is not an http(s) URL: give the http(s) URL of the package zip")
    segments = [unquote(s) for s in parsed.path.split("/") if s]
    if not any(s.lower().endswith(".zip") for s in segments):
        raise FormProblem(
            f"the {label} `{url}` does not point to a .zip file: a resource package is a zip holding "
            "`rdf.yaml` and the files it references"
        )
    return url


def parse_upload_request(body: str) -> UploadRequest:
    """The upload request in an issue body; FormProblem says what is wrong with it."""
    fields = parse_issue_form(body)
    url_key, id_key = PACKAGE_URL_LABEL.lower(), CONCEPT_ID_LABEL.lower()
    if url_key not in fields:
        raise FormProblem(f"this issue was not made with the upload form: it has no `### {PACKAGE_URL_LABEL}` field")
    url = check_package_url(_clean_url(fields[url_key]))
    concept_id = fields.get(id_key, "").strip().strip("`") or None
    if concept_id is not None and not CONCEPT_ID.fullmatch(concept_id):
        raise FormProblem(
            f"the **{CONCEPT_ID_LABEL}** `{concept_id}` is not a concept id (like `affable-shark`); "
            "leave it empty for a new resource"
        )
    return UploadRequest(url, concept_id)
