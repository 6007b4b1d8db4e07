"""User-facing errors.

Every problem caused by user input (a bad path, a foreign file, a wrong config value)
is raised as a :class:`LaomError` subclass with a message that names the problem. The
CLI prints ``error: <message>`` and exits with code 2; pages show it with ``st.error``.
Anything else is a bug and may surface as a traceback.
"""


class LaomError(Exception):
    """An error the user can fix; its message is shown as is."""


class WorkspaceError(LaomError):
    """The workspace folder is missing, read-only or full, or a path escapes it."""


class DatasetError(LaomError):
    """A dataset file is missing, not HDF5, or not in the released layout."""


class ConfigError(LaomError):
    """A config key is unknown or a value is out of range."""


class EnvError(LaomError):
    """An environment cannot be built (unknown task, no GL backend, bad video folder)."""


class RunError(LaomError):
    """A run id is unknown or an operation does not fit the run's state."""


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError on a user's path: the reason and the path(s), no errno noise."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{reason}: {' -> '.join(names)}" if names else reason
