"""A person who signs in, with one role."""

from __future__ import annotations

import re
import uuid

from eventsourcing.domain import Aggregate, event

from domain.errors import AccountInactiveError, FieldErrors, NotFoundError

ACCOUNT_NAMESPACE = uuid.UUID("0b6e7f0e-5c1d-4f5e-8a41-1f3a9b2c7d64")
LEADER, MEMBER, AUDITOR, VIEWER = "leader", "member", "auditor", "viewer"
ROLES = (LEADER, MEMBER, AUDITOR, VIEWER)
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")


def account_id(login: str) -> uuid.UUID:
    """Logins are unique because the account's id is derived from the login."""
    return uuid.uuid5(ACCOUNT_NAMESPACE, login.strip().lower())


def check_login(errors: FieldErrors, login: object) -> str:
    login = errors.text("login", login, max_length=40).lower()
    if login and not LOGIN_PATTERN.match(login):
        errors.add("login", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'")
    return login


class Account(Aggregate):
    @staticmethod
    def create_id(login: str, **_: object) -> uuid.UUID:
        return account_id(login)

    @classmethod
    def register(
        cls, *, actor: str, login: object, display_name: object, role: object, password_hash: str
    ) -> Account:
        errors = FieldErrors()
        login = check_login(errors, login)
        display_name = errors.text("display_name", display_name, required=False, max_length=120)
        role = errors.choice("role", role, ROLES)
        errors.raise_if_any()
        return cls(actor=actor, login=login, display_name=display_name or login, role=role,
                   password_hash=password_hash)

    @event("Registered")
    def __init__(
        self, *, actor: str, login: str, display_name: str, role: str, password_hash: str
    ) -> None:
        self.login = login
        self.display_name = display_name
        self.role = role
        self.password_hash = password_hash
        self.active = True
        self.tokens: dict[str, str] = {}  # token id -> SHA-256 of the token's secret

    def check_active(self) -> None:
        if not self.active:
            raise AccountInactiveError(f"The account {self.login} is deactivated.")

    def change_role(self, *, actor: str, role: object) -> None:
        self.check_active()
        errors = FieldErrors()
        role = errors.choice("role", role, ROLES)
        errors.raise_if_any()
        if role != self.role:
            self._role_changed(actor=actor, role=role)

    @event("RoleChanged")
    def _role_changed(self, *, actor: str, role: str) -> None:
        self.role = role

    def change_password(self, *, actor: str, password_hash: str) -> None:
        self.check_active()
        self._password_changed(actor=actor, password_hash=password_hash)

    @event("PasswordChanged")
    def _password_changed(self, *, actor: str, password_hash: str) -> None:
        self.password_hash = password_hash

    def issue_token(self, *, actor: str, token_id: str, secret_hash: str, label: str) -> None:
        self.check_active()
        self._token_issued(actor=actor, token_id=token_id, secret_hash=secret_hash, label=label)

    @event("TokenIssued")
    def _token_issued(self, *, actor: str, token_id: str, secret_hash: str, label: str) -> None:
        self.tokens[token_id] = secret_hash

    def revoke_token(self, *, actor: str, token_id: str) -> None:
        if token_id not in self.tokens:
            raise NotFoundError(f"The account {self.login} has no token {token_id}.")
        self._token_revoked(actor=actor, token_id=token_id)

    @event("TokenRevoked")
    def _token_revoked(self, *, actor: str, token_id: str) -> None:
        del self.tokens[token_id]

    def deactivate(self, *, actor: str) -> None:
        self.check_active()
        self._deactivated(actor=actor)

    @event("Deactivated")
    def _deactivated(self, *, actor: str) -> None:
        self.active = False
        self.tokens.clear()
