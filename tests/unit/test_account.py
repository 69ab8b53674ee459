"""Accounts: login names, roles, API tokens, deactivation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.account import ROLES, Account, account_id
from domain.errors import AccountInactiveError, NotFoundError, ValidationError
from tests.unit.builders import LEE, SAM, assert_versions_count_up_by_one, event_names, replay

ADMIN = "account-admin"


def an_account(**changes: object) -> Account:
    registration: dict[str, object] = {
        "actor": ADMIN,
        "login": "lee.smith",
        "display_name": "Lee Smith",
        "role": "member",
        "password_hash": "argon2$first",
    }
    registration.update(changes)
    return Account.register(**registration)  # type: ignore[arg-type]


# --- registering -----------------------------------------------------------------------------


def test_a_registered_account_is_active_with_its_role_and_no_tokens() -> None:
    account = an_account()
    assert (account.login, account.display_name, account.role) == (
        "lee.smith", "Lee Smith", "member",
    )
    assert account.password_hash == "argon2$first"
    assert account.active
    assert account.tokens == {}


@pytest.mark.parametrize("login", [" Lee.Smith ", "LEE.SMITH", "lee.smith"])
def test_a_login_is_stored_lower_cased_and_trimmed(login: str) -> None:
    assert an_account(login=login).login == "lee.smith"


@pytest.mark.parametrize("login", ["Lee.Smith", " LEE.SMITH ", "lee.smith"])
def test_the_account_id_is_derived_from_the_login_whatever_its_case(login: str) -> None:
    account = an_account(login=login)
    assert account.id == account_id("lee.smith")
    assert account_id(login) == account_id("lee.smith")
    assert account_id("lee.smith") != account_id("lee.smyth")


@pytest.mark.parametrize("login", ["ab", "9lives", "lee_smith-2", "l.s", "a" * 40])
def test_a_login_is_2_to_40_letters_digits_dots_underscores_or_dashes(login: str) -> None:
    assert an_account(login=login).login == login


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("", "is required"),
        ("   ", "is required"),
        (None, "is required"),
        (42, "must be text"),
        ("a" * 41, "must be at most 40 characters"),
        ("a", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'"),
        ("-lee", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'"),
        (".lee", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'"),
        ("lee smith", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'"),
        ("lee@agency", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'"),
        ("léa", "use 2 to 40 lower-case letters, digits, '.', '_' or '-'"),
    ],
)
def test_a_login_outside_the_pattern_is_refused(login: object, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        an_account(login=login)
    assert refused.value.errors == {"login": message}


def test_the_display_name_defaults_to_the_login() -> None:
    assert an_account(login="Lee.Smith", display_name=" ").display_name == "lee.smith"
    assert an_account(display_name=None).display_name == "lee.smith"


def test_a_display_name_is_at_most_120_characters() -> None:
    with pytest.raises(ValidationError) as refused:
        an_account(display_name="n" * 121)
    assert refused.value.errors == {"display_name": "must be at most 120 characters"}


@pytest.mark.parametrize("role", ROLES)
def test_leaders_members_auditors_and_viewers_can_be_registered(role: str) -> None:
    assert an_account(role=role).role == role


@pytest.mark.parametrize("role", ["admin", "Leader", "", None])
def test_any_other_role_is_refused(role: object) -> None:
    with pytest.raises(ValidationError) as refused:
        an_account(role=role)
    assert refused.value.errors == {"role": "must be one of: leader, member, auditor, viewer"}


# --- role and password -----------------------------------------------------------------------


def test_a_role_change_is_recorded_only_when_the_role_differs() -> None:
    account = an_account(role="member")
    account.change_role(actor=ADMIN, role="member")
    assert account.version == 1
    account.change_role(actor=ADMIN, role="leader")
    assert account.role == "leader"
    assert account.version == 2


def test_a_role_change_to_an_unknown_role_is_refused() -> None:
    account = an_account()
    with pytest.raises(ValidationError) as refused:
        account.change_role(actor=ADMIN, role="owner")
    assert refused.value.errors == {"role": "must be one of: leader, member, auditor, viewer"}
    assert account.role == "member"


def test_a_password_change_replaces_the_hash() -> None:
    account = an_account()
    account.change_password(actor=LEE, password_hash="argon2$second")
    assert account.password_hash == "argon2$second"


# --- tokens ----------------------------------------------------------------------------------


def test_an_issued_token_is_kept_by_the_hash_of_its_secret_until_revoked() -> None:
    account = an_account()
    account.issue_token(actor=LEE, token_id="t1", secret_hash="sha256-1", label="laptop")
    account.issue_token(actor=LEE, token_id="t2", secret_hash="sha256-2", label="script")
    assert account.tokens == {"t1": "sha256-1", "t2": "sha256-2"}

    account.revoke_token(actor=SAM, token_id="t1")
    assert account.tokens == {"t2": "sha256-2"}


def test_a_token_the_account_does_not_have_cannot_be_revoked() -> None:
    account = an_account()
    account.issue_token(actor=LEE, token_id="t1", secret_hash="sha256-1", label="laptop")
    account.revoke_token(actor=LEE, token_id="t1")
    with pytest.raises(NotFoundError) as refused:
        account.revoke_token(actor=LEE, token_id="t1")
    assert refused.value.reason == "The account lee.smith has no token t1."


# --- deactivating ----------------------------------------------------------------------------


def test_deactivating_an_account_revokes_all_its_tokens() -> None:
    account = an_account()
    account.issue_token(actor=LEE, token_id="t1", secret_hash="sha256-1", label="laptop")
    account.deactivate(actor=ADMIN)
    assert not account.active
    assert account.tokens == {}


AFTER_DEACTIVATION: dict[str, Callable[[Account], object]] = {
    "change role": lambda a: a.change_role(actor=ADMIN, role="leader"),
    "change password": lambda a: a.change_password(actor=ADMIN, password_hash="argon2$x"),
    "issue token": lambda a: a.issue_token(actor=ADMIN, token_id="t", secret_hash="h", label="l"),
    "deactivate again": lambda a: a.deactivate(actor=ADMIN),
}


@pytest.mark.parametrize("command", AFTER_DEACTIVATION.values(), ids=AFTER_DEACTIVATION.keys())
def test_a_deactivated_account_takes_no_more_changes(command: Callable[[Account], object]) -> None:
    account = an_account()
    account.deactivate(actor=ADMIN)
    with pytest.raises(AccountInactiveError) as refused:
        command(account)
    assert refused.value.reason == "The account lee.smith is deactivated."
    assert account.version == 2


def test_a_deactivated_account_has_no_token_left_to_revoke() -> None:
    account = an_account()
    account.issue_token(actor=LEE, token_id="t1", secret_hash="sha256-1", label="laptop")
    account.deactivate(actor=ADMIN)
    with pytest.raises(NotFoundError):
        account.revoke_token(actor=ADMIN, token_id="t1")


# --- events ----------------------------------------------------------------------------------


def a_full_history() -> Account:
    account = an_account()
    account.change_role(actor=ADMIN, role="leader")
    account.change_password(actor=LEE, password_hash="argon2$second")
    account.issue_token(actor=LEE, token_id="t1", secret_hash="sha256-1", label="laptop")
    account.issue_token(actor=LEE, token_id="t2", secret_hash="sha256-2", label="script")
    account.revoke_token(actor=LEE, token_id="t1")
    account.deactivate(actor=SAM)
    return account


def test_an_account_records_each_change_as_a_past_tense_fact_with_its_actor() -> None:
    events = a_full_history().collect_events()
    assert event_names(events) == [
        "Registered", "RoleChanged", "PasswordChanged", "TokenIssued", "TokenIssued",
        "TokenRevoked", "Deactivated",
    ]
    assert [event.actor for event in events] == [ADMIN, ADMIN, LEE, LEE, LEE, LEE, SAM]


def test_replaying_an_account_history_gives_the_same_account() -> None:
    account = a_full_history()
    events = account.collect_events()
    assert_versions_count_up_by_one(events)
    replayed = replay(events)
    assert replayed == account
    assert isinstance(replayed, Account)
    assert replayed.id == account_id("lee.smith")
    assert (replayed.role, replayed.active, replayed.tokens) == ("leader", False, {})
