"""The GitHub side of the backoffice: REST calls through github3.py (dispatching a
workflow, commenting on an issue) and the upload issue form.

Step outputs, job summaries and annotations live in `backoffice.gh_actions` and
`backoffice.log`.
"""

from __future__ import annotations

from .api import GitHubClient
from .issue_form import FormProblem, UploadRequest, parse_issue_form, parse_upload_request

__all__ = ["FormProblem", "GitHubClient", "UploadRequest", "parse_issue_form", "parse_upload_request"]
