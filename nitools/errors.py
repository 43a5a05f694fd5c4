"""Exception types for failures a user can fix.

Every expected failure is one of these. The CLI prints its message as one line
and exits with its exit code; tracebacks are only for real bugs.
"""


class NitoolsError(Exception):
    """A failure with a message that says what to do about it."""

    exit_code = 1


class UsageError(NitoolsError):
    """The command line or a configuration file is wrong."""

    exit_code = 2


class ConfigError(UsageError):
    """The ini file is missing, unreadable or incomplete."""


class PluginError(NitoolsError):
    """A plugin could not be loaded, or it raised while choosing files."""


class SourceError(NitoolsError):
    """A firmware or config source could not be read or downloaded."""

    resumable = False  # a partial download worth keeping for the next try


class PackageError(NitoolsError):
    """A file is not a usable RouterOS package (.npk)."""


class LinkError(NitoolsError):
    """The network interface or socket could not be set up."""
