"""Named domain errors. Handlers translate them to HTTP; each carries a plain-language reason."""

from __future__ import annotations


class DomainError(Exception):
    """A command the domain refuses. `reason` is written for the person who sent it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ValidationError(DomainError):
    """One or more fields hold values the domain cannot accept."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class NotFoundError(DomainError):
    """The thing named by the command does not exist (an unknown cycle number, value id ...)."""


class PhaseOrderError(DomainError):
    """A PDSA phase recorded out of order: phases only move forward, one at a time."""


class CycleClosedError(DomainError):
    """The cycle has had its Act decision and takes no more changes."""


class CycleOpenError(DomainError):
    """A new cycle cannot start while the current one is still open."""


class InitiativeConcludedError(DomainError):
    """The initiative is sustained, closed or abandoned and takes no more cycles."""


class RevisitHeldError(DomainError):
    """The revisit has already been held."""


class AccountInactiveError(DomainError):
    """The account has been deactivated."""


class FieldErrors:
    """Collects field errors while a command is decided; raises them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def text(
        self, field: str, value: object, *, required: bool = True, max_length: int = 2000
    ) -> str:
        """Return the trimmed text, recording an error when it is missing or too long."""
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(field, "must be text")
            return ""
        value = value.strip()
        if required and not value:
            self.add(field, "is required")
        elif len(value) > max_length:
            self.add(field, f"must be at most {max_length} characters")
        elif "\x00" in value:  # PostgreSQL text cannot hold it: the views could not show it
            self.add(field, "must not contain the NUL character")
        return value

    def choice(self, field: str, value: object, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.add(field, "must be one of: " + ", ".join(allowed))
            return ""
        return str(value)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(dict(self.errors))
