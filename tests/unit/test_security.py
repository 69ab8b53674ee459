"""Passwords, roles and CSRF tokens."""

import pytest

from service.security import (
    Principal,
    check_password,
    csrf_token,
    csrf_valid,
    password_hasher,
    verify_password,
)


def test_a_password_verifies_only_against_its_own_hash():
    hasher = password_hasher("fast")
    hashed = hasher.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hasher, hashed, "correct horse battery")
    assert not verify_password(hasher, hashed, "Correct horse battery")
    assert not verify_password(hasher, "not a hash", "anything")


def test_the_standard_cost_is_argon2id_with_64_mib():
    assert password_hasher().memory_cost == 65536


@pytest.mark.parametrize(("password", "ok"), [
    ("short", False), ("ninechars", False), ("tenchars!!", True), ("x" * 256, True),
    ("x" * 257, False),
])
def test_new_passwords_need_ten_to_256_characters(password, ok):
    assert (check_password(password) is None) is ok


@pytest.mark.parametrize(("role", "allowed"), [
    ("viewer", {"viewer"}),
    ("auditor", {"viewer", "auditor"}),
    ("member", {"viewer", "auditor", "member"}),
    ("leader", {"viewer", "auditor", "member", "leader"}),
])
def test_roles_are_cumulative(role, allowed):
    principal = Principal("id", "login", "Name", role)
    assert {r for r in ("viewer", "auditor", "member", "leader") if principal.has(r)} == allowed


def test_a_csrf_token_is_bound_to_the_browser_cookie_and_the_session():
    token = csrf_token("key", "cookie-a", "session-1")
    assert csrf_valid("key", "cookie-a", "session-1", token)
    assert not csrf_valid("key", "cookie-b", "session-1", token)  # another browser
    assert not csrf_valid("key", "cookie-a", "session-2", token)  # another session
    assert not csrf_valid("other-key", "cookie-a", "session-1", token)
    assert not csrf_valid("key", "cookie-a", "session-1", None)
    assert not csrf_valid("key", None, "session-1", token)


def test_a_signed_in_token_differs_from_the_anonymous_one():
    assert csrf_token("key", "cookie", None) != csrf_token("key", "cookie", "session")
