"""Stand-in for a script partner's pinned environment, which needs a package index: runs the
partner's real check script (`bioimageio_core_check.py` next to it in the project copy) in
the job's own environment, with bioimageio.core naming itself as the release the partner pins
(the first argument), so that its reports are that release's and not the backoffice's own.

    python previous_release.py 0.10.4 --resources resources.json --out reports/
"""

import runpy
import sys
from pathlib import Path

import bioimageio.core

bioimageio.core.__version__ = sys.argv.pop(1)
runpy.run_path(str(Path(__file__).with_name("bioimageio_core_check.py")), run_name="__main__")
