"""Domain exceptions raised by the data layer; pages turn them into Chinese messages."""


class DataLayerError(RuntimeError):
    """The database could not answer (down, timeout, schema missing)."""


class ImportRejectedError(ValueError):
    """A file was rejected before anything was written (size, format, validation errors)."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class UndoRefusedError(ValueError):
    """A batch cannot be undone (unknown, failed, running or already undone); nothing changed.
    The message is Chinese and names the batch."""
