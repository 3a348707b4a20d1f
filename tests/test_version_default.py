"""Descriptions without `version`: a new concept gets `1`, an update the next version
after the newest published one, written into the staged rdf, said in the log, the job
summary and the e-mail."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from backoffice.cli.stage_cmds import stage_markdown
from backoffice.context import Context
from backoffice.errors import ConflictError
from backoffice.records import keys
from backoffice.review.publish import publish
from backoffice.stage.stage import stage
from backoffice.stage.versions import bump, default_version
from backoffice.dynamic.run import run_weight_format_test
from backoffice.dynamic.environments import current_env
from backoffice.validate.static import validate_format
from test_mail import MAIL_PASSWORD, MAIL_USER, Inbox, smtp_server  # noqa: F401 - the fixture
from test_stage import write_zip

REVIEWER = "github|10000001"
UPLOADER = "jane@example.org"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.mark.parametrize(("given", "expected"), [
    ("1", "2"), ("1.0", "1.1"), ("0.2.9", "0.2.10"), ("2.0rc1", "2.0rc2"), ("1.0-beta", "1.1-beta"), ("10", "11"),
])
def test_bump_increments_the_last_number(given: str, expected: str) -> None:
    assert bump(given) == expected


def test_default_version_plan() -> None:
    assert default_version([]) == "1"
    assert default_version(["1"]) == "2"
    assert default_version(["1.0", "0.9"]) == "0.10"  # the newest published is the last one
    assert default_version(["1.1", "1.0"]) == "1.2"  # never one that is published: 1.1 is taken
    assert default_version(["0.5", "1.1", "0.6"]) == "0.7"


@pytest.fixture(scope="module")
def unversioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backoffice.demo.packages import build_model_package

    return build_model_package(tmp_path_factory.mktemp("nov") / "model.zip", formats=("torchscript",), version=None)


def _stored_rdf(ctx: Context, cid: str, token: str) -> tuple[dict[str, Any], bytes]:
    data = ctx.storage.get_bytes(keys.draft_files(cid, token) + "rdf.yaml")
    return YAML(typ="safe").load(data), data  # type: ignore[no-any-return]


def _run_pipeline(ctx: Context, cid: str) -> str:
    static = validate_format(ctx, cid)
    assert static.status == "valid-format", static.markdown
    for wf in static.dynamic_formats:
        outcome = run_weight_format_test(ctx, cid, "draft", wf, current_env())
        assert outcome.status == "passed", outcome.first_error
    assert ctx.concepts.get(cid).require_draft().status.value == "awaiting review"
    return publish(ctx, cid, REVIEWER).version


@pytest.mark.slow
def test_unversioned_package_publishes_as_1_then_2(
    local_ctx: Context, settings_factory: Any, unversioned: Path, smtp_server: tuple[Inbox, int]  # noqa: F811
) -> None:
    inbox, port = smtp_server
    ctx = Context(settings_factory(mail_host="127.0.0.1", mail_port=port, mail_starttls=False, mail_user=MAIL_USER,
                                   mail_password=MAIL_PASSWORD), storage=local_ctx.storage)
    first = stage(ctx, str(unversioned), uploader=UPLOADER, progress=False)
    cid = first.concept_id
    assert first.version == "1" and first.version_assigned
    content, data = _stored_rdf(ctx, cid, first.token)
    assert str(content["version"]) == "1" and content["id"] == cid
    draft = ctx.concepts.get(cid).require_draft()
    assert draft.summary.version == "1" and draft.version_assigned
    assert draft.rdf_sha256 == hashlib.sha256(data).hexdigest()
    log = [e.message for e in ctx.log(cid).read()]
    assert "the description has no version: staged as version 1" in log
    assert "staged as version **1**" in stage_markdown(first)
    assert _run_pipeline(ctx, cid) == "1"

    second = stage(ctx, str(unversioned), concept_id=cid, uploader=UPLOADER, progress=False)
    assert second.version == "2" and second.version_assigned
    content, _ = _stored_rdf(ctx, cid, second.token)
    assert str(content["version"]) == "2"
    assert _run_pipeline(ctx, cid) == "2"
    record = ctx.concepts.get(cid)
    assert list(record.versions) == ["1", "2"] and all(v.version_assigned for v in record.versions.values())
    published = ctx.storage.get_bytes(keys.version_files(cid, "2") + "rdf.yaml")
    assert hashlib.sha256(published).hexdigest() == record.versions["2"].rdf_sha256

    # the awaiting-review mails say which version was given
    bodies = [m.message.get_content() for m in inbox.messages if "awaits review" in str(m.message["Subject"])]
    assert len(bodies) == 2
    assert "had no version, so it was given version 1" in bodies[0]
    assert "had no version, so it was given version 2" in bodies[1]


def test_a_given_published_version_is_still_refused(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.records.concept import VersionRecord

    pkg = tmp_path / "p.zip"
    write_zip(pkg, {"rdf.yaml": b"type: model\nname: minimal\n"})
    first = stage(local_ctx, str(pkg), uploader=UPLOADER, progress=False)
    assert first.version == "1"

    def publish_1(r: Any) -> None:
        r.versions["1"] = VersionRecord(version="1")
        r.draft = None

    local_ctx.concepts.update(first.concept_id, publish_1)
    again = stage(local_ctx, str(pkg), concept_id=first.concept_id, uploader=UPLOADER, progress=False)
    assert again.version == "2"
    given = tmp_path / "g.zip"
    write_zip(given, {"rdf.yaml": b'type: model\nname: minimal\nversion: "1"\n'})
    with pytest.raises(ConflictError, match="version 1 of .* is published already"):
        stage(local_ctx, str(given), concept_id=first.concept_id, uploader=UPLOADER, progress=False)


def test_a_doi_as_the_description_id_gets_a_new_id_and_stays_an_alias(local_ctx: Context, tmp_path: Path) -> None:
    pkg = tmp_path / "legacy.zip"
    write_zip(pkg, {"rdf.yaml": b"type: model\nname: legacy\nid: 10.5281/zenodo.5764892/5764893\n"})
    staged = stage(local_ctx, str(pkg), uploader=UPLOADER, progress=False)
    assert not staged.concept_id.startswith("10.")
    draft = local_ctx.concepts.get(staged.concept_id).require_draft()
    assert draft.summary.declared_id == "10.5281/zenodo.5764892/5764893" and draft.summary.version == "1"
