"""Static validation with bioimageio.spec."""
