"""backup.yaml: after publish, nightly and by hand, in the deployment environment, the
Zenodo token from the environment's secrets, nothing uploaded installed or run."""

from __future__ import annotations

from test_workflows import backoffice_calls, workflow


def test_backup_runs_after_publish_nightly_and_by_hand() -> None:
    wf = workflow("backup.yaml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch", "workflow_call"}
    assert wf["on"]["schedule"][0]["cron"]
    after_publish = workflow("publish.yaml")["jobs"]["backup"]
    assert after_publish["needs"] == "publish" and after_publish["uses"] == "./.github/workflows/backup.yaml"
    assert after_publish["secrets"] == "inherit"
    assert set(after_publish["with"]) == set(wf["on"]["workflow_call"]["inputs"])
    assert "inputs.environment" in wf["concurrency"]["group"]


def test_backup_job_uses_the_environment_and_its_secret() -> None:
    (job,) = workflow("backup.yaml")["jobs"].values()
    assert job["environment"] == "${{ inputs.environment || 'production' }}"
    env = job["env"]
    assert env["BACKOFFICE_ZENODO_TOKEN"] == "${{ secrets.ZENODO_TOKEN }}"
    url = env["BACKOFFICE_ZENODO_URL"]
    assert "vars.ZENODO_URL" in url and "https://zenodo.org" in url and "https://sandbox.zenodo.org" in url
    scripts = [s["run"] for s in job["steps"] if "run" in s]
    installs = [line.strip() for s in scripts for line in s.splitlines() if "pip install" in line]
    assert installs == ["python -m pip install ."]  # the backoffice only: no uploaded code
    calls = [c.args for s in scripts for c in backoffice_calls(s, "backup.yaml")]
    assert calls == [["backup", "$CONCEPT_ID"], ["backup"]]
