"""Download counts from the storage's S3 server access logs (see docs/downloads.md)."""
