"""Engine errors as a user reads them: one line, like every other kgft error."""


def first_line(exc: BaseException) -> str:
    """Engines answer with multi-line errors (Java traces, driver notes); a user needs the first line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
