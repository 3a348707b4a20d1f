"""Does an imported rdf still validate? (pure: bioimageio.spec's models on the content, no io)

An rdf written from `rdf_content` must validate wherever upstream's test passed; where it
does not, the import names the version and the first error (spec drift is a reason, our
own loss would be a bug: `tests/test_import_exact.py` holds the sample to it)."""

from __future__ import annotations

from typing import Any


def format_problem(content: dict[str, Any]) -> str | None:
    """The first error bioimageio.spec finds in `content` (without io checks), or None."""
    from bioimageio.spec import ValidationContext, build_description

    try:
        with ValidationContext(perform_io_checks=False):
            summary = build_description(content).validation_summary
    except Exception as e:  # noqa: BLE001 - any failure of the validator is the answer
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if summary.status != "failed":
        return None
    errors = [e for d in summary.details for e in d.errors]
    first = errors[0] if errors else None
    return f"{'.'.join(map(str, first.loc))}: {first.msg}"[:240] if first else "invalid"
