"""The mail-replies workflow: scheduled and dispatchable, calls the real command, gets
the IMAP password as a secret only (the generic checks of tests/test_workflows.py —
actionlint, every `backoffice` call, dispatch input checks — cover it as well)."""

from __future__ import annotations

from test_workflows import all_calls, backoffice_calls, check_call, cli, run_blocks, workflow


def test_mail_replies_workflow_is_scheduled_and_calls_the_command() -> None:
    wf = workflow("mail_replies.yaml")
    assert wf["on"]["schedule"] and "workflow_dispatch" in wf["on"]
    calls = [c for _, script, _ in run_blocks(wf) for c in backoffice_calls(script, "mail_replies.yaml")]
    assert [c.args[0] for c in calls] == ["read-mail-replies"]
    root = cli()
    assert all(check_call(root, c) == [] for c in calls)
    assert any(c.args[:1] == ["read-mail-replies"] and c.where.startswith("mail_replies.yaml") for c in all_calls())
    env = wf["jobs"]["read"]["env"]
    assert env["BACKOFFICE_IMAP_PASSWORD"] == "${{ secrets.IMAP_PASSWORD }}"
    secret_vars = {k for k, v in env.items() if "secrets." in str(v)}
    assert secret_vars == {"BACKOFFICE_IMAP_PASSWORD", "BACKOFFICE_S3_ACCESS_KEY_ID", "BACKOFFICE_S3_SECRET_ACCESS_KEY"}
