"""The project's exception hierarchy.

Every error a user can cause by their input derives from `SpftError`. Command-line entry points
catch `SpftError`, print its message as one line and exit with status 2; anything else is a bug
and keeps its traceback.
"""


class SpftError(Exception):
    """A problem with the user's input, configuration or data, explained in the message."""


class DataError(SpftError):
    """A data file (questions, tables.json, predictions) is missing or malformed."""


class DatabaseNotFoundError(DataError):
    """A database file that should exist does not."""


class UnknownDatabaseError(DataError):
    """A db_id is not described in tables.json."""


class PredictionFileError(DataError):
    """A prediction file does not line up with its question file."""


class ConfigError(SpftError):
    """A configuration value is invalid; the message names the field."""


class WeightsError(SpftError):
    """A weight file is missing, truncated, or does not fit the model; the message names the
    tensor or field."""


class WorkdirInUseError(SpftError):
    """Another run holds the workdir's lock; the message names it (host, pid, since when)."""
