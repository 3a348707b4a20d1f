"""moto's S3 service alone, served in its own process: `python moto_s3.py PORT`.

`python -m moto.server` dispatches every request among all of moto's services: it looks
the service up under one global lock (listing moto's modules each time) and logs every
request, which on 2 cores costs about a third of each S3 request of the benchmarks.
This serves moto's S3 app directly (the same moto S3 backend and request handler), quiet:
what is measured is then our code and moto's S3, not moto's dispatcher.
"""

from __future__ import annotations

import logging
import sys

from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app  # pyright: ignore[reportMissingTypeStubs]  # moto ships no stubs
from werkzeug.serving import run_simple


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run_simple("127.0.0.1", int(sys.argv[1]), create_backend_app("s3"), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
