"""Redaction: registered secrets, credential query values, and log records from any logger/handler."""

from __future__ import annotations

import io
import logging

import pytest

from sources.common.auth import BearerAuth, HeaderKeyAuth, QueryTokenAuth
from sources.common.errors import ConfigError
from sources.common.redaction import (
    install_log_redaction,
    redact,
    redact_url,
    register_secret,
    register_sensitive_param,
)


def test_registered_secret_masked_raw_and_url_encoded():
    register_secret("s3cr3t/with+chars")
    assert redact("token is s3cr3t/with+chars!") == "token is ***!"
    assert "s3cr3t" not in redact("https://x.test/?q=s3cr3t%2Fwith%2Bchars")


@pytest.mark.parametrize("name", ["access_token", "token", "key", "api_key", "apikey", "ACCESS_TOKEN"])
def test_credential_query_values_masked_even_unregistered(name):
    url = f"https://api.hubapi.com/leads/v1/list?max=1&{name}=unregistered-value-1&offset=0"
    assert redact_url(url) == f"https://api.hubapi.com/leads/v1/list?max=1&{name}=***&offset=0"
    assert redact(f"calling with {name}=unregistered-value-1 now") == f"calling with {name}=*** now"


def test_similar_names_untouched():
    assert redact("monkey=banana&api_key_id=7") == "monkey=banana&api_key_id=7"
    assert redact("sort=lastModifiedAt&max=100") == "sort=lastModifiedAt&max=100"


def test_bearer_header_values_masked():
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer ***"


def test_blank_secret_is_ignored():
    register_secret("")
    register_secret("   ")
    assert redact("nothing to see") == "nothing to see"


@pytest.mark.parametrize(
    "make",
    [
        lambda: BearerAuth(""),
        lambda: BearerAuth("   "),
        lambda: HeaderKeyAuth("Authentication", ""),
        lambda: QueryTokenAuth("access_token", None),  # type: ignore[arg-type]
    ],
)
def test_blank_credentials_are_config_errors(make):
    with pytest.raises(ConfigError, match="is empty"):
        make()


def test_auth_objects_register_their_secret_and_hide_it_in_repr():
    auth = HeaderKeyAuth("Authentication", "attributionhub-key-77")
    assert redact("key attributionhub-key-77") == "key ***"
    assert "attributionhub-key-77" not in repr(auth)


def test_log_records_masked_for_handlers_added_later_and_dlt_logger(caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    register_secret("log-secret-9")
    stream = io.StringIO()
    late_handler = logging.StreamHandler(stream)
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.addHandler(late_handler)
    try:
        with caplog.at_level(logging.INFO):
            dlt_logger.warning("GET %s failed", "https://x.test/?access_token=log-secret-9")
            logging.getLogger("httpx").info("HTTP Request: GET https://x.test/?apikey=zzz")
            try:
                raise ValueError("boom log-secret-9")
            except ValueError:
                logging.getLogger("anything").exception("failed with log-secret-9")
    finally:
        dlt_logger.removeHandler(late_handler)
    assert "log-secret-9" not in stream.getvalue()
    assert "access_token=***" in stream.getvalue()
    assert "log-secret-9" not in caplog.text
    assert "apikey=***" in caplog.text
    assert "boom ***" in caplog.text


def test_filter_installed_on_root_and_dlt_handlers():
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(handler)
    try:
        install_log_redaction()
        assert any(type(f).__name__ == "RedactingFilter" for f in handler.filters)
        record = logging.makeLogRecord({"msg": "x %s", "args": ("access_token=abc",)})  # bypasses the factory
        handler.filter(record)
        assert record.getMessage() == "x access_token=***"
    finally:
        logging.getLogger().removeHandler(handler)


def test_a_vendor_registers_its_own_credential_parameter():
    assert redact("https://x.test/?vendorkey9=abc&x=1") == "https://x.test/?vendorkey9=abc&x=1"
    register_sensitive_param("vendorkey9")
    assert redact("https://x.test/?vendorkey9=abc&x=1") == "https://x.test/?vendorkey9=***&x=1"
