"""Settings from environment variables (prefix `BACKOFFICE_`) and a `.env` file.

Secrets are `SecretStr`: they never appear in `repr`, in `describe()` or in logs
(see `backoffice.log.SecretFilter`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All settings of the backoffice. Each field is read from `BACKOFFICE_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="BACKOFFICE_",
        env_file=".env",
        env_ignore_empty=True,  # an unset repository variable arrives as ""
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    storage: Literal["local", "s3", "public"] = "local"
    """Storage backend: `local` (a folder; the embedded default), `s3`, or `public` (read-only through
    the public URLs under `public_base_url`, no credentials: for the jobs that run uploaded code)."""

    local_root: Path = Path("store")
    """Root folder of the local storage backend."""

    s3_endpoint_url: str | None = None
    """S3 endpoint, e.g. `https://uk1s3.embassy.ebi.ac.uk`; empty for AWS."""

    s3_bucket: str = "bioimageio-collection"
    """S3 bucket holding the collection."""

    s3_prefix: str = ""
    """Key prefix inside the bucket (a sandbox instance uses its own prefix)."""

    s3_region: str = "us-east-1"
    """S3 region name."""

    s3_access_key_id: SecretStr | None = None
    """S3 access key id."""

    s3_secret_access_key: SecretStr | None = None
    """S3 secret access key."""

    public_base_url: str | None = None
    """Base URL under which stored keys are public. Defaults to the S3 bucket URL, or
    to `http://127.0.0.1:<serve_port>` for local storage (see `backoffice serve`)."""

    serve_port: int = Field(default=8765, ge=1, le=65535)
    """Port of `backoffice serve`."""

    config_path: Path = Path("bioimageio_collection_config.json")
    """The collection config (reviewers, partners, id parts, collection template)."""

    collection_dir: Path = Path("collection")
    """Folder of the declared curation files `<concept-id>.yaml`."""

    env_templates_dir: Path = Path("env_templates")
    """Folder of the jinja2 conda environment templates: `default.yaml.j2` for every weight format, `<weight_format>.yaml.j2` where one differs."""

    max_package_bytes: int = Field(default=4 * 1024**3, gt=0)
    """Largest package (zip file) accepted for staging."""

    max_unpacked_bytes: int = Field(default=8 * 1024**3, gt=0)
    """Largest total uncompressed size of a package's entries."""

    max_package_entries: int = Field(default=10_000, gt=0)
    """Most entries a package may have."""

    max_compression_ratio: float = Field(default=200.0, gt=1, allow_inf_nan=False)
    """Largest uncompressed/compressed ratio of an entry (zip bomb guard)."""

    max_description_bytes: int = Field(default=1024 * 1024, gt=0)
    """Largest resource description (`rdf.yaml`) accepted for staging; real ones are a few KB."""

    download_allowed_hosts: tuple[str, ...] = ()
    """Hosts (`host` or `host:port`) on a loopback, link-local or private address that a package or
    report URL, or an imported collection's source, rdf or file URL, may name (e.g. a test server
    on 127.0.0.1), as a JSON list. Every other URL, and
    every redirect (also one from an allowed host), must lead to a public address (IPv4 inside IPv6 included: mapped, 6to4, NAT64),
    checked again on each connection's socket (a name rebound after the check is refused); no
    proxy from the environment is used."""

    download_timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Seconds to wait for a package server to answer."""

    pending_repair_after: float = Field(default=900.0, ge=0, allow_inf_nan=False)
    """Seconds after which an ingest's pending object (`pending/conflation/`) counts as left by an
    ingest that died: the next ingest conflates its versions in full and removes it."""

    zenodo_url: str | None = None
    """Zenodo instance to back up to: `https://zenodo.org` in production, `https://sandbox.zenodo.org`
    for test instances. Without a URL or without a token the backup is skipped."""

    zenodo_token: SecretStr | None = None
    """Zenodo personal access token."""

    mail_host: str | None = None
    """SMTP server host; no host, no mail."""

    mail_port: int = Field(default=587, ge=1, le=65535)
    """SMTP server port."""

    mail_user: str | None = None
    """SMTP login user."""

    mail_password: SecretStr | None = None
    """SMTP login password."""

    mail_from: str = "bioimageiobot@gmail.com"
    """Sender address of notifications."""

    mail_starttls: bool = True
    """Use STARTTLS after connecting (switch off only for a mail server on this machine)."""

    github_token: SecretStr | None = None
    """GitHub token for API calls (dispatching workflows, commenting on issues)."""

    github_api_url: str = "https://api.github.com"
    """GitHub API URL (a GitHub Enterprise or test server URL is accepted)."""

    github_repository: str = "bioimage-io/collection"
    """`owner/name` of the repository that runs the workflows."""

    run_url: str | None = Field(default=None)
    """URL of the CI run calling the backoffice; derived from `GITHUB_*` variables on GitHub Actions."""

    env_cache_dir: Path = Path(".backoffice-envs")
    """Folder of the test environments built by the `venv` and `micromamba` managers, one per rendered env file (by its hash)."""

    thumbnail_max_width: int = 600
    """Width of the thumbnail box: covers wider than this get a thumbnail (aspect kept)."""

    thumbnail_max_height: int = 340
    """Height of the thumbnail box: covers taller than this get a thumbnail (aspect kept)."""

    thumbnail_max_bytes: int = 500_000
    """Covers larger than this many bytes get a thumbnail; thumbnails stay under it."""

    thumbnail_max_pixels: int = 50_000_000
    """Covers with more pixels than this are not decoded (decompression bomb guard): a warning on the draft instead."""

    thumbnail_max_source_bytes: int = 64 * 1024 * 1024
    """Cover files larger than this are not read to make a thumbnail (a warning instead)."""

    sandbox_user: str | None = None
    """Unprivileged throwaway Unix user that decodes uploaded cover images (thumbnails), so that a
    decoder flaw cannot read this process's environment or files; the workflows create it with
    `scripts/sandbox.sh setup`. All its processes are killed after each use. Unset: the decoder
    runs as the backoffice's own user (a warning; fine for a maintainer's own run)."""

    dashboard_log_entries: int = 200
    """Most recent log entries per concept in the dashboard's detail files."""
    zenodo_give_up_seconds: float = Field(default=600.0, ge=0, allow_inf_nan=False)
    """How long to keep retrying Zenodo (429, 5xx, no answer) before giving up on a version."""
    partner_dispatch_token: SecretStr | None = None
    """GitHub token allowed to dispatch the partners' check workflows in their repositories (else `github_token`)."""
    imap_host: str | None = None
    """IMAP server of the bot's mailbox (replies to notification mails); no host, no reading."""

    imap_port: int = Field(default=993, ge=1, le=65535)
    """IMAP server port (993 for IMAP over TLS)."""

    imap_user: str | None = None
    """IMAP login user."""

    imap_password: SecretStr | None = None
    """IMAP login password."""

    imap_tls: bool = True
    """Connect with TLS (IMAPS); switch off only for an IMAP server on this machine."""

    imap_mailbox: str = "INBOX"
    """Mailbox (folder) read for replies."""

    imap_authserv_id: str | None = None
    """authserv-id of the `Authentication-Results` header the bot's mail server adds to incoming
    mail (e.g. `mx.google.com`). A reply counts only when that server's header says `dmarc=pass`
    (or `dkim=pass` for the From domain): anyone can write a reviewer's address into From.
    Unset: no reply is trusted; each is left in the mailbox and reported."""

    downloads_hash_key: SecretStr | None = None
    """Secret key of the keyed hash (HMAC-SHA256) that pseudonymises requesters when counting
    downloads (at least 16 characters; keep it stable: a new key counts a requester again that day)."""

    downloads_log_source: str | None = None
    """Where `count-downloads` reads access logs when given none: `s3://<log bucket>/<prefix>` or a folder."""

    downloads_state: str | None = None
    """Where `count-downloads` keeps its state (ledger, counts, the open days' hashed clients): a private
    `s3://<bucket>/<prefix>` or folder, never inside the collection's storage (refused). Unset: with local
    storage, the store's internal folder (never served); with S3 it must be set."""

    downloads_commit_seconds: float = 30.0
    """`count-downloads` commits its counts and ledger at least this often (and at the end)."""

    def ci_run_url(self) -> str | None:
        """The run URL, given or derived from the GitHub Actions environment."""
        if self.run_url:
            return self.run_url
        server = os.environ.get("GITHUB_SERVER_URL")
        repo = os.environ.get("GITHUB_REPOSITORY")
        run_id = os.environ.get("GITHUB_RUN_ID")
        if server and repo and run_id:
            return f"{server}/{repo}/actions/runs/{run_id}"
        return None

    def secret_values(self) -> list[str]:
        """Values of all secrets that are set (for redaction)."""
        values: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values

    def describe(self) -> dict[str, str]:
        """Every setting as text, secrets masked."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "***" if value.get_secret_value() else "(not set)"
            else:
                out[name] = "(not set)" if value is None else str(value)
        return out
