"""`backoffice import-collection`: bring an existing collection (the running bioimage.io
collection and its GitOps-era predecessor) into this backoffice.

`sources` reads what is published, `plan` decides what to write (pure), `execute`
writes it, `files` mirrors the files an rdf names, `reports` puts every report through
the checks of `ingest-reports`.
"""
