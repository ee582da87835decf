"""The domain errors a page turns into a Chinese message, as the services raise them (pages do
not import the data layer)."""

from db.errors import DataLayerError, ImportRejectedError, UndoRefusedError

__all__ = ["DataLayerError", "ImportRejectedError", "UndoRefusedError"]
