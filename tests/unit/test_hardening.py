"""Hardening's pure parts: host matching, proxy trust, the event log's line format, the
settings, and templates that need no inline script or style under the Content-Security-Policy."""

import logging
import re
from pathlib import Path

import pytest

from service.hardening import (
    CONTENT_SECURITY_POLICY,
    client_address,
    host_allowed,
    host_of,
    security_event,
    served_over_tls,
    wait_in_words,
)
from service.security import cookie_name
from service.settings import Settings, SettingsError

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LOCAL = Settings.allowed_hosts


def test_a_host_header_is_matched_without_its_port():
    assert host_of("LocalHost:8000") == "localhost"
    assert host_of("[::1]:8000") == "::1"
    assert host_of("127.0.0.1") == "127.0.0.1"
    assert host_allowed("localhost:8000", LOCAL)
    assert host_allowed("[::1]:8000", LOCAL)
    assert not host_allowed("localhost.evil.example", LOCAL)
    assert not host_allowed("", LOCAL) and not host_allowed(None, LOCAL)


def test_a_wildcard_allows_subdomains_but_not_look_alikes():
    allowed = ("*.example.org",)
    assert host_allowed("cqi.example.org:443", allowed)
    assert not host_allowed("example.org.evil.net", allowed)
    assert not host_allowed("badexample.org", allowed)
    assert host_allowed("anything.at.all", ("*",))


def test_a_host_header_with_odd_characters_is_refused_even_when_any_host_is_allowed():
    assert not host_allowed("evil.example/path", ("*",))
    assert not host_allowed("evil example", ("*",))


def test_forwarded_headers_count_only_from_a_trusted_proxy():
    scope = {"scheme": "http", "client": ("10.0.0.5", 1234),
             "headers": [(b"x-forwarded-proto", b"https"),
                         (b"x-forwarded-for", b"6.6.6.6, 198.51.100.4")]}
    assert not served_over_tls(scope, trust_proxy=False)
    assert served_over_tls(scope, trust_proxy=True)
    assert client_address(scope, trust_proxy=False) == "10.0.0.5"
    # The client wrote the first entry itself; the proxy appended the last.
    assert client_address(scope, trust_proxy=True) == "198.51.100.4"


def test_the_policy_allows_no_inline_script_or_style_and_no_framing():
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:",
                    re.IGNORECASE)


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_holds_inline_script_style_or_event_handlers(template):
    assert not INLINE.findall((TEMPLATES / template).read_text()), template


def test_a_security_event_is_one_key_value_line_whatever_the_client_sent(caplog):
    with caplog.at_level(logging.INFO, logger="cqi.security"):
        security_event("sign_in_failed", login='ma"ria\nevent=signed_in', address="192.0.2.1")
    [record] = caplog.records
    assert record.name == "cqi.security" and record.levelno == logging.WARNING
    assert record.getMessage() == (
        'event=sign_in_failed login="ma\\"ria\\x0aevent=signed_in" address=192.0.2.1')


def test_the_session_cookie_drops_its_prefix_only_when_cookies_are_not_secure():
    assert cookie_name("cqi_session", secure=True) == "__Host-cqi_session"
    assert cookie_name("cqi_session", secure=False) == "cqi_session"


def test_allowed_hosts_and_proxy_trust_come_from_the_environment():
    assert Settings.from_env({}).allowed_hosts == ("localhost", "127.0.0.1", "::1")
    assert not Settings.from_env({}).trust_proxy_headers
    settings = Settings.from_env({"CQI_ALLOWED_HOSTS": " CQI.Example.org, *.agency.example ",
                                  "CQI_TRUST_PROXY_HEADERS": "true"})
    assert settings.allowed_hosts == ("cqi.example.org", "*.agency.example")
    assert settings.trust_proxy_headers


def test_an_allowed_host_with_a_scheme_is_a_clear_settings_error():
    with pytest.raises(SettingsError, match="CQI_ALLOWED_HOSTS"):
        Settings.from_env({"CQI_ALLOWED_HOSTS": "https://cqi.example.org"})


def test_the_wait_is_said_in_whole_minutes():
    assert wait_in_words(30) == "a minute"
    assert wait_in_words(900) == "15 minutes"
    assert wait_in_words(61) == "2 minutes"


def test_a_forwarded_address_is_the_proxys_last_entry_across_several_header_lines() -> None:
    """A proxy may append its own X-Forwarded-For line rather than extend the client's."""
    from service.hardening import client_address

    scope = {"client": ("10.0.0.2", 5000), "headers": [
        (b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.4")]}
    assert client_address(scope, True) == "198.51.100.4"
    assert client_address(scope, False) == "10.0.0.2"
