"""The partner workflows: the check job holds no credentials, publish and retest dispatch
the partners, report_compatibility verifies the identity before it downloads anything."""

from __future__ import annotations

import json

from test_workflows import NO_SECRETS_JOBS, workflow


def test_partner_checks_run_without_credentials_and_follow_publish_and_retest() -> None:
    for file, job_id in NO_SECRETS_JOBS:
        job = workflow(file)["jobs"][job_id]
        assert "secrets." not in json.dumps(job)
        # the concept jobs read public documents and run no uploaded code: they name their
        # environment for its public variables only; the partner check runs uploaded code, and names none
        assert "environment" not in job or job.get("env", {}).get("BACKOFFICE_STORAGE") == "public", (file, job_id)
    assert "environment" not in workflow("partner_checks.yaml")["jobs"]["check"]
    wf = workflow("partner_checks.yaml")["jobs"]
    assert wf["check"]["needs"] == "plan" and wf["ingest"]["needs"] == "check"
    for name in ("publish.yaml", "retest_all.yaml"):
        job = workflow(name)["jobs"]["partners"]
        assert job["uses"] == "./.github/workflows/dispatch_partners.yaml" and job["secrets"] == "inherit"
    report = workflow("report_compatibility.yaml")["jobs"]["ingest"]
    # the identity comes from GitHub (the runner's GITHUB_ACTOR_ID), not from an input
    assert "ACTOR_ID" not in report["env"] and "inputs.actor" not in json.dumps(report)
    names = [s.get("name", "") for s in report["steps"]]
    verify = next(i for i, n in enumerate(names) if n.startswith("Verify the partner's identity"))
    fetch = names.index("Download the reports artifact from the partner's repository")
    assert verify < fetch
    download = report["steps"][fetch]
    assert download["with"]["repository"] == "${{ steps.verify.outputs.repository }}"
