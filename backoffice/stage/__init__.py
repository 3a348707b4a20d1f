"""Staging: fetch a package, check it, unpack it into a concept's draft."""
