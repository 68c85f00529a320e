"""The one exception family the app turns into a friendly message."""


class PipelineError(Exception):
    """An error whose text is written for the person using the app."""

    @property
    def message(self) -> str:
        return str(self)


class ImageInputError(PipelineError):
    """The given file or array cannot be used as an image (corrupt, empty, too large, ...)."""


class ModelUnavailableError(PipelineError):
    """A model file cannot be had here (offline and not mirrored, or failed verification)."""
