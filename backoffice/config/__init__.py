"""The rules of the collection that live in git: the collection config and `collection/`."""
