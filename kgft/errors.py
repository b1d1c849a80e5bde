"""User-facing errors: one line that says what is wrong and what to do, never a traceback."""


class KgftError(Exception):
    """Base for every error the CLI and API report to a user as a one-line message."""


class BackendSpecError(KgftError):
    """The backend spec names no known backend or is malformed."""


class ModelNotFoundError(KgftError):
    """A model file, folder or id could not be found or loaded."""


class BackendUnavailableError(KgftError):
    """A backend's server could not be reached or answered with an error."""


class ContextLengthError(KgftError):
    """The prompt does not fit the model's context: the asker's input is too long, not a server fault."""

    def __init__(self, message: str, *, tokens: int | None = None, limit: int | None = None):
        super().__init__(message)
        self.tokens = tokens  # what the model was asked to hold, when the backend counted it
        self.limit = limit


class UnsupportedError(KgftError):
    """The backend cannot do what was asked (for example, scoring over a chat-only API)."""


class PricingError(KgftError):
    """The pricing file is malformed."""


def first_line(exc: BaseException) -> str:
    """Engines and libraries answer with multi-line errors (Java traces, driver notes); a user needs
    the first line, or the error's type when it says nothing."""
    return next(iter(str(exc).strip().splitlines()), type(exc).__name__)
