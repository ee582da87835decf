"""Configuration: one frozen :class:`Settings` read from the environment."""

from config.settings import ENV_VARS, PROJECT_ROOT, Settings, SettingsError

__all__ = ["ENV_VARS", "PROJECT_ROOT", "Settings", "SettingsError"]
