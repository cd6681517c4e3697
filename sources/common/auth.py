"""httpx auth for the three styles our vendors use; each registers its secret for redaction."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from .errors import ConfigError
from .redaction import register_secret


def _require(secret: str | None, what: str) -> str:
    if secret is None or not str(secret).strip():
        raise ConfigError(f"The {what} is empty: set it in .dlt/secrets.toml or the matching SOURCES__ variable.")
    value = str(secret)
    register_secret(value)
    return value


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>` (HubSpot analytics, Humblytics)."""

    def __init__(self, token: str) -> None:
        self._token = _require(token, "access token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class HeaderKeyAuth(httpx.Auth):
    """A key in a named header; AttributionHub wants literally `Authentication: <key>` (its API documents)."""

    def __init__(self, header_name: str, key: str) -> None:
        if not header_name or not header_name.strip():
            raise ConfigError("HeaderKeyAuth needs a header name.")
        self._header = header_name
        self._key = _require(key, f"{header_name} key")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._key
        yield request

    def __repr__(self) -> str:
        return f"HeaderKeyAuth({self._header!r}, ***)"


class QueryTokenAuth(httpx.Auth):
    """A token in the query string: Leads v1's `access_token` (hubspot-leads-api.txt). Redaction masks it."""

    def __init__(self, param_name: str, token: str) -> None:
        if not param_name or not param_name.strip():
            raise ConfigError("QueryTokenAuth needs a query parameter name.")
        self._param = param_name
        self._token = _require(token, f"{param_name} token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_set_param(self._param, self._token)
        yield request

    def __repr__(self) -> str:
        return f"QueryTokenAuth({self._param!r}, ***)"
