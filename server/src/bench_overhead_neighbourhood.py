"""A small HTTP client for a JSON API, built on requests.

The code around the cursor of `splice bench overhead`: every document of the benchmark ends
with this text, and the cursor (the marker below) stays in it.
"""

import json
import logging
import time
from urllib.parse import urljoin

from requests import Session
from requests.adapters import HTTPAdapter
from requests.exceptions import ConnectionError, HTTPError, Timeout

log = logging.getLogger(__name__)


class ApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ApiClient:
    """Calls one JSON API with retries, a timeout and a bearer token."""

    def __init__(self, base_url, token, timeout=10.0, retries=3):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.retries = retries
        self.session = Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def url(self, path):
        return urljoin(self.base_url, path.lstrip("/"))

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        last_error = None
        for attempt in range(self.retries):
            try:
                response = self.session.request(method, self.url(path), **kwargs)
                if response.status_code >= 500:
                    raise HTTPError(f"server error {response.status_code}", response=response)
                if response.status_code >= 400:
                    raise ApiError(response.status_code, response.text[:200])
                return response.json() if response.content else None
            except (ConnectionError, Timeout, HTTPError) as error:
                last_error = error
                delay = 0.5 * (2**attempt)
                log.warning("attempt %d of %s %s failed: %s", attempt + 1, method, path, error)
                time.sleep(delay)
        raise last_error

    def get(self, path, **params):
        return self.request("GET", path, params=params)

    def post(self, path, payload):
        return self.request("POST", path, data=json.dumps(payload),
                            headers={"Content-Type": "application/json"})

    def list_items(self, collection, page_size=100):
        items = []
        page = 1
        while True:
            batch = self.get(collection, page=page, per_page=page_size)
            ┃
            if len(batch) < page_size:
                return items
            page += 1

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
