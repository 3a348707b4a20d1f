"""moto's S3 service alone, served in its own process: `python moto_s3.py PORT [SERVER]`.

`python -m moto.server` dispatches every request among all of moto's services: it looks
the service up under one global lock (listing moto's modules each time) and logs every
request, which on 2 cores costs about a third of each S3 request of the benchmarks. This
serves moto's S3 app directly (the same moto S3 backend and request handler), quiet.

SERVER is `waitress` (the default, the `bench` extra) or `werkzeug`. Werkzeug's
development server, which `moto.server` uses, closes the connection after every answer,
so each request pays a TCP connection and a new server thread; S3 keeps connections
alive, and so does waitress (a WSGI server with a pool of threads). With it, 2,000 GETs
of 3 KB cost moto about 1.0 ms of CPU each instead of 1.25 ms (2026-11-30). What is
measured is then our code and moto's S3, not moto's choice of development server.
"""

from __future__ import annotations

import logging
import sys

from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app  # pyright: ignore[reportMissingTypeStubs]  # moto ships no stubs


def main() -> None:
    port = int(sys.argv[1])
    server = sys.argv[2] if len(sys.argv) > 2 else "waitress"
    app = create_backend_app("s3")
    if server == "waitress":
        import waitress  # pyright: ignore[reportMissingTypeStubs]

        logging.getLogger("waitress").setLevel(logging.ERROR)
        waitress.serve(app, host="127.0.0.1", port=port, threads=8, _quiet=True)  # pyright: ignore[reportUnknownMemberType]
    else:
        from werkzeug.serving import run_simple

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        run_simple("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
