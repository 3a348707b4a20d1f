"""Environment variables that keep bioimageio.spec / bioimageio.core offline.

bioimageio.spec reads its settings once, at import time, from `BIOIMAGEIO_*`
environment variables (`bioimageio.spec._internal._settings.Settings`, extended by
`bioimageio.core._settings.Settings`). Set the variables returned by
`offline_bioimageio_environ` *before* importing bioimageio.spec/core, e.g. in the `env`
of a subprocess that validates or tests a resource, or via `os.environ.update(...)`
at the very top of a script.

This module deliberately does not import bioimageio.spec.

What each variable does:

- `BIOIMAGEIO_CACHE_PATH`: the disk cache of downloaded files (default: the user
  cache dir); points into the given folder so nothing leaks into `~/.cache`.
- `BIOIMAGEIO_COLLECTION_HTTP_PATTERN=""`: an id-like source string that is not an
  existing file (e.g. `load_description("affable-shark")`) is first looked up at
  `https://hypha.aicell.io/...`; an empty pattern skips that lookup.
- `BIOIMAGEIO_ID_MAP=""`: the next fallback for such sources downloads
  `id_map.json` from EBI S3; an empty value makes spec raise
  `ValueError("BIOIMAGEIO_ID_MAP: Invalid id map url ...")` without a request.
- `BIOIMAGEIO_ID_MAP_DRAFT=""` and `BIOIMAGEIO_RESOLVE_DRAFT=false`: the same for
  `<id>/draft` sources (the draft id map would be fetched first otherwise).
- `BIOIMAGEIO_HUGGINGFACE_HTTP_PATTERN`: sources `huggingface/<user>/<repo>[/<v>]`
  map to this URL pattern; pointed at a closed local port so it fails at once.
- `BIOIMAGEIO_HTTP_TIMEOUT`: seconds per request (default 10); short, so a request
  that slips through fails fast.
- `BIOIMAGEIO_PERFORM_IO_CHECKS`: default for `ValidationContext.perform_io_checks`.
  Kept `true` by default: with it, local files are opened and their sha256 checked.
  Note that `bioimageio.core.test_description`/`test_model` force io checks on anyway.
  With io checks on, every `http(s)` URL in a description (cite url, git_repo, remote
  files, ...) is probed with a HEAD request (failure: a warning only) and every
  `authors[].github_user` is looked up at api.github.com; that lookup only catches
  timeouts, so offline it raises `httpx.ConnectError` (or `ProxyError`) *out of*
  `load_description` - descriptions validated offline must not name GitHub users.
- `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` (only with `block_network=True`): a proxy on
  a closed local port; httpx (used by bioimageio.spec for all downloads) honours
  them, so any outbound request fails immediately instead of reaching the internet.
  `NO_PROXY` keeps localhost reachable (e.g. a local S3/moto server).
"""

from __future__ import annotations

from pathlib import Path

_DEAD_ENDPOINT = "http://127.0.0.1:9"
"""A local port nothing listens on (discard service): connections are refused."""


def offline_bioimageio_environ(
    folder: Path,
    *,
    perform_io_checks: bool = True,
    block_network: bool = True,
    http_timeout: float = 3.0,
) -> dict[str, str]:
    """Environment variables under which bioimageio.spec/core never reach the internet.

    Args:
        folder: a writable folder; the bioimageio cache goes to `<folder>/bioimageio_cache`
            (created by bioimageio.spec on first use, not here).
        perform_io_checks: value of `BIOIMAGEIO_PERFORM_IO_CHECKS` (see module docstring).
        block_network: also set `HTTP(S)_PROXY`/`ALL_PROXY` to a dead local proxy so that
            every outbound httpx request fails at once (`NO_PROXY` exempts localhost).
        http_timeout: `BIOIMAGEIO_HTTP_TIMEOUT` in seconds.

    Returns:
        A mapping of variable name to value, to merge into `os.environ` or a subprocess
        `env` before bioimageio.spec is imported.
    """
    env: dict[str, str] = {
        "BIOIMAGEIO_CACHE_PATH": str(Path(folder).absolute() / "bioimageio_cache"),
        "BIOIMAGEIO_COLLECTION_HTTP_PATTERN": "",
        "BIOIMAGEIO_ID_MAP": "",
        "BIOIMAGEIO_ID_MAP_DRAFT": "",
        "BIOIMAGEIO_RESOLVE_DRAFT": "false",
        "BIOIMAGEIO_HUGGINGFACE_HTTP_PATTERN": (
            _DEAD_ENDPOINT + "/huggingface/{repo_id}/{branch}/bioimageio.yaml"
        ),
        "BIOIMAGEIO_HTTP_TIMEOUT": str(http_timeout),
        "BIOIMAGEIO_PERFORM_IO_CHECKS": "true" if perform_io_checks else "false",
    }
    if block_network:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[name] = _DEAD_ENDPOINT
            env[name.lower()] = _DEAD_ENDPOINT
        no_proxy = "localhost,127.0.0.1,::1"
        env["NO_PROXY"] = no_proxy
        env["no_proxy"] = no_proxy

    return env
