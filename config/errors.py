"""The configuration error shared by every settings object."""


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the variable."""
