"""The config and curation the tests use. The product's config names no reviewer and its
`collection/` holds no declaration; the tests run with the demo's reviewers and website bot
added (`backoffice/demo/demo_config.json`, written once per session beside a link to the
repository's `partner_checks/`, which partner scripts find through `{config_dir}`) and with the
example curation of `examples/collection/`."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from backoffice.demo.config import write_demo_config

REPO = Path(__file__).resolve().parents[1]
PRODUCT_CONFIG = REPO / "bioimageio_collection_config.json"
EXAMPLE_COLLECTION = REPO / "examples" / "collection"

_FOLDER = Path(tempfile.mkdtemp(prefix="backoffice-test-config-"))
atexit.register(shutil.rmtree, _FOLDER, True)
(_FOLDER / "partner_checks").symlink_to(REPO / "partner_checks", target_is_directory=True)
TEST_CONFIG = write_demo_config(PRODUCT_CONFIG, _FOLDER)
