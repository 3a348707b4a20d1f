"""A `script` partner check cannot let one resource write another's verdict (issue 17):
each planned resource runs in its own process with its own folder, and only that
resource's report is taken over. A hostile model's code that monkeypatches the check or
writes the other model's report (into its folder, or next to it) changes nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from backoffice.config.collection_config import Partner, PartnerScript
from backoffice.dynamic.environments import current_env
from backoffice.partners.script import run_script

CHECK = '''
import json, os, sys
from pathlib import Path

def verdict(item):
    """The partner's check: run the resource's code, then judge it."""
    namespace = {}
    exec(Path(item["rdf_url"]).read_text(), namespace)  # "importing the model"
    return "passed" if namespace.get("works") else "failed"

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
out = Path(args["--out"])
for item in json.loads(Path(args["--resources"]).read_text()):
    status = verdict(item)
    folder = out / item["id"] / item["version"]
    folder.mkdir(parents=True, exist_ok=True)
    report = {"status": status, "tool": "evilcheck", "tool_version": "1.0", "rdf_sha256": item["sha256"]}
    (folder / "evilcheck_1.0.json").write_text(json.dumps(report))
    print("pid", os.getpid(), item["id"], flush=True)
'''

HOSTILE = '''
import json, sys
from pathlib import Path
works = True
out = Path(dict(zip(sys.argv[1::2], sys.argv[2::2]))["--out"])
forged = {"status": "passed", "tool": "evilcheck", "tool_version": "1.0", "rdf_sha256": "b" * 64}
# 1. write the victim's report into the folder this process was given
(out / "victim-model" / "1.0").mkdir(parents=True, exist_ok=True)
(out / "victim-model" / "1.0" / "evilcheck_1.0.json").write_text(json.dumps(forged))
# 2. and next to it, where another run's folder might be
for sibling in out.parent.parent.glob("*/out"):
    (sibling / "victim-model" / "1.0").mkdir(parents=True, exist_ok=True)
    (sibling / "victim-model" / "1.0" / "evilcheck_1.0.json").write_text(json.dumps(forged))
# 3. monkeypatch the check for every later resource of this process
import builtins
real_exec = builtins.exec
def patched(code, ns=None, *a):
    real_exec(code, ns, *a)
    if ns is not None:
        ns["works"] = True
builtins.exec = patched
sys.modules["__main__"].verdict = lambda item: "passed"
'''

VICTIM = "works = False  # this model is broken: its verdict must stay `failed`\n"


def test_one_model_cannot_write_or_patch_another_models_report(tmp_path: Path) -> None:
    check = tmp_path / "check.py"
    check.write_text(CHECK)
    hostile, victim = tmp_path / "hostile.py", tmp_path / "victim.py"
    hostile.write_text(HOSTILE)
    victim.write_text(VICTIM)
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps([
        {"id": "hostile-model", "version": "1.0", "type": "model", "rdf_url": str(hostile), "sha256": "a" * 64},
        {"id": "victim-model", "version": "1.0", "type": "model", "rdf_url": str(victim), "sha256": "b" * 64},
    ]))
    partner = Partner(id="evilcheck", name="Evil check", script=PartnerScript(
        command=[sys.executable, str(check), "--resources", "{resources}", "--out", "{out}"], timeout=60))
    out = tmp_path / "reports"
    done = run_script(partner, current_env(), resources, out, tmp_path, secrets=[])
    assert done.result.ok, done.result.output
    reports = {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in done.reports}
    assert sorted(reports) == ["hostile-model/1.0/evilcheck_1.0.json", "victim-model/1.0/evilcheck_1.0.json"]
    assert reports["victim-model/1.0/evilcheck_1.0.json"]["status"] == "failed"  # its own verdict, unpatched
    assert reports["victim-model/1.0/evilcheck_1.0.json"]["rdf_sha256"] == "b" * 64
    assert reports["hostile-model/1.0/evilcheck_1.0.json"]["status"] == "passed"
    assert done.ignored == ["hostile-model 1.0: victim-model/1.0/evilcheck_1.0.json"]
    # one process per resource
    pids = dict(reversed(line.split()[1:]) for line in done.result.output.splitlines() if line.startswith("pid "))
    assert set(pids) == {"hostile-model", "victim-model"} and pids["hostile-model"] != pids["victim-model"]


def test_a_report_outside_its_own_folder_or_a_symlink_is_not_taken(tmp_path: Path) -> None:
    check = tmp_path / "check.py"
    secret = tmp_path / "runner-file.json"
    secret.write_text('{"status": "passed"}')
    check.write_text(
        "import json, os, sys\nfrom pathlib import Path\n"
        "args = dict(zip(sys.argv[1::2], sys.argv[2::2]))\nout = Path(args['--out'])\n"
        "item = json.loads(Path(args['--resources']).read_text())[0]\n"
        "folder = out / item['id'] / item['version']\nfolder.mkdir(parents=True)\n"
        f"os.symlink({str(secret)!r}, folder / 'x_1.0.json')\n"
        "(out / 'loose_1.0.json').write_text('{}')\n")
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps([{"id": "some-model", "version": "1.0", "rdf_url": "x", "sha256": "a" * 64}]))
    partner = Partner(id="x", name="x", script=PartnerScript(command=[sys.executable, str(check), "--resources", "{resources}",
                                                                      "--out", "{out}"], timeout=60))
    done = run_script(partner, current_env(), resources, tmp_path / "reports", tmp_path, secrets=[])
    assert done.reports == [] and sorted(done.ignored) == ["some-model 1.0: loose_1.0.json", "some-model 1.0: some-model/1.0/x_1.0.json"]
