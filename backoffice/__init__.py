"""bioimage.io collection backoffice: stage, validate, test, review, publish, back up and index."""

__version__ = "0.1.0"
