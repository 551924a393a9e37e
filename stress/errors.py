"""The one exception users see for bad input."""


class ConfigError(ValueError):
    """Bad input: the message is one line naming the source, the field path and the problem."""
