"""Pinned build tools (wp-cli.phar, composer.phar): downloaded once, verified, cached.

A tool the build downloads runs with the user's privileges over their site's code, so it is
pinned to one release and to the checksum its project publishes for it, written into the kit
(``digest``): a download that does not match stops the build. The checksum file the download
server publishes beside the phar is not trusted, only cross-checked, so a mirror cannot swap the
tool by publishing a checksum of its own. Each URL can be pointed elsewhere with an environment
variable: a mirror URL, a local server in tests, or a copy of the release on disk (an offline
machine), all checked against the same pin.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.common.report import Reporter


@dataclass(frozen=True)
class PinnedPhar:
    """One release of a PHP tool, where its project publishes it, and its published checksum."""

    name: str
    version: str
    url: str  # of the phar; the project's checksum file is at url + checksum_suffix
    algorithm: str
    checksum_suffix: str
    url_env: str  # overrides ``url``
    fallback_hint: str  # how to do without the download
    digest: str  # the release's published checksum (hex), pinned in the kit

    @property
    def source(self) -> str:
        """Where the phar is fetched from: ``url_env``'s URL or file when set, else the project's URL."""
        return os.environ.get(self.url_env) or self.url

    def _unreachable(self, exc: UserError) -> UserError:
        """An offline build's error: what is missing (this release, not in the cache) and every way
        to provide it, instead of the generic download hint."""
        return UserError(f"{self.name} {self.version} is not in the cache ({fetch.cache_dir() / self.name}) and "
                         f"cannot be fetched: {exc.message}",
                         f"set {self.url_env} to a mirror of {self.url.rsplit('/', 1)[-1]} (an http(s) URL, or "
                         f"a copy of the file on this machine; checked against the pinned {self.algorithm}), "
                         f"or {self.fallback_hint}")

    def command(self, reporter: Reporter) -> tuple[str, ...]:
        """``(php, <cached phar>)``, downloading and verifying the phar on first use."""
        return (shutil.which("php") or "php", str(self.path(reporter)))

    def path(self, reporter: Reporter) -> Path:
        """The verified phar: from the cache when this release is there (no network, so offline
        builds keep working), else downloaded and checked against the pinned checksum."""
        cached = self._cached()
        if cached is not None:
            return cached
        url = self.source
        self._cross_check(url)

        def produce() -> bytes:
            with reporter.transfer(f"downloading {self.name} {self.version}") as progress:
                try:
                    data = fetch.fetch(url, progress=progress, what=self.name)
                except fetch.NotFound:
                    raise UserError(f"{url} is not there", self.fallback_hint) from None
                except UserError as exc:
                    raise self._unreachable(exc) from None
            actual = hashlib.new(self.algorithm, data).hexdigest()
            if actual != self.digest:
                raise UserError(f"{self.name} checksum mismatch for {url}: expected {self.algorithm} {self.digest} "
                                f"(pinned in wplambda), got {actual}", f"retry; if it persists, {self.fallback_hint}")
            return data

        key = f"{self.name}/{self.version}-{self.digest[:16]}/{url.rstrip('/').rsplit('/', 1)[-1]}"
        (fetch.cache_dir() / key).unlink(missing_ok=True)  # a damaged copy: ``_cached`` found none intact
        return fetch.cached(key, produce)

    def _cross_check(self, url: str) -> None:
        """Refuse, before downloading, a server whose checksum file names another build.

        The file is optional (a mirror need not carry it; the download is checked against the pin
        either way), but one that disagrees means the server offers something else than the release.
        """
        checksum_url = url + self.checksum_suffix
        try:
            published = fetch.fetch(checksum_url, what=f"{self.name} checksum").decode().split()
        except fetch.NotFound:
            return
        except UserError as exc:
            raise self._unreachable(exc) from None
        if published and published[0].lower() != self.digest:
            raise UserError(f"{checksum_url} publishes {self.algorithm} {published[0].lower()}, but "
                            f"{self.name} {self.version} is pinned in wplambda to {self.digest}",
                            f"point {self.url_env} at a mirror of the official release, or {self.fallback_hint}")

    def _cached(self) -> Path | None:
        """The cached copy of this release (``<version>-<first 16 hex digits of the pin>/``) if its
        content still matches the pin: a truncated or edited file, or one cached before the release
        was pinned, is not used."""
        for candidate in sorted((fetch.cache_dir() / self.name).glob(f"{self.version}-{self.digest[:16]}/*")):
            if candidate.is_file() and fetch.file_digest(candidate, self.algorithm) == self.digest:
                return candidate
        return None
