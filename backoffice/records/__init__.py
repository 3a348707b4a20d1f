"""Records over storage: concepts, drafts, published versions, their statuses and logs."""
