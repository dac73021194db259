"""An HTTP client for msal (its `http_client` contract) that can reroute URL prefixes.

msal insists on https authorities with Microsoft's host names; pointing it at the emulator means
rewriting `https://login.microsoftonline.com/...` to `http://127.0.0.1:PORT/microsoft/...` on the
way out. With no routes this is a plain client over one `requests.Session`.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

DEFAULT_TIMEOUT = 30.0


class RoutedHttpClient:
    """`get` / `post` / `close` as msal calls them, returning `requests.Response` objects
    (status_code, text, headers, raise_for_status)."""

    def __init__(
        self,
        routes: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        # Longest prefix first, so a specific route wins over a general one.
        self._routes = sorted((routes or {}).items(), key=lambda item: len(item[0]), reverse=True)
        self._session = session or requests.Session()
        self._session.trust_env = False  # no proxies or netrc: loopback traffic stays on loopback
        self._timeout = timeout

    def route(self, url: str) -> str:
        for prefix, target in self._routes:
            if url.startswith(prefix):
                return target + url[len(prefix) :]
        return url

    def get(self, url: str, params=None, headers=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(self.route(url), params=params, headers=headers, **kwargs)

    def post(self, url: str, params=None, data=None, headers=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(self.route(url), params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        self._session.close()
