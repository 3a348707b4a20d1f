"""Dynamic tests: each weight format tested in an environment rendered for it (formats whose rendered files are equal share one)."""
