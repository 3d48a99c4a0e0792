"""Errors that the CLI turns into a one-line message and a non-zero exit."""


class DataError(ValueError):
    """A dataset, file or option that cannot be used as given."""
