"""Pinned build tools (wp-cli.phar, composer.phar): downloaded once, verified, cached.

A tool the build downloads runs with the user's privileges over their site's code, so it is
pinned to one release and checked against a checksum; a mismatch stops the build. Where the kit
knows the release's published checksum (``digest``), that pin is the check, so a mirror cannot
swap the tool by publishing a checksum of its own; otherwise the build trusts the checksum file
the download server publishes beside the phar. Each URL can be pointed elsewhere (a mirror; a
local server in tests) with an environment variable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.build import fetch
from wp_lambda.build.report import Reporter
from wp_lambda.errors import UserError


@dataclass(frozen=True)
class PinnedPhar:
    """One release of a PHP tool and where its project publishes it."""

    name: str
    version: str
    url: str  # of the phar; the checksum is at url + checksum_suffix
    algorithm: str
    checksum_suffix: str
    url_env: str  # overrides ``url``
    fallback_hint: str  # how to do without the download
    digest: str = ""  # the release's published checksum, pinned in the kit; empty: trust ``url + checksum_suffix``

    @property
    def source(self) -> str:
        return os.environ.get(self.url_env) or self.url

    def command(self, reporter: Reporter) -> tuple[str, ...]:
        """``(php, <cached phar>)``, downloading and verifying the phar on first use."""
        return (shutil.which("php") or "php", str(self.path(reporter)))

    def path(self, reporter: Reporter) -> Path:
        """The verified phar: from the cache when this release is there (no network, so offline
        builds keep working), else downloaded and checked against the pinned or published checksum."""
        cached = self._cached()
        if cached is not None:
            return cached
        url = self.source
        expected = self._expected(url)

        def produce() -> bytes:
            with reporter.transfer(f"downloading {self.name} {self.version}") as progress:
                try:
                    data = fetch.fetch_bytes(url, progress=progress, what=self.name)
                except fetch.NotFound:
                    raise UserError(f"{url} is not there", self.fallback_hint) from None
            actual = hashlib.new(self.algorithm, data).hexdigest()
            if actual != expected:
                whose = "pinned in wplambda" if self.digest else "published"
                raise UserError(f"{self.name} checksum mismatch for {url}: expected {self.algorithm} {expected} "
                                f"({whose}), got {actual}", f"retry; if it persists, {self.fallback_hint}")
            return data

        filename = url.rstrip("/").rsplit("/", 1)[-1]
        return fetch.cached(f"{self.name}/{self.version}-{expected[:16]}/{filename}", produce)

    def _expected(self, url: str) -> str:
        """The checksum the download must have: the pin when there is one, else the published one.

        With a pin, the published file is optional (a mirror need not carry it), but one that
        names another checksum means the server offers some other build: refused before anything
        is downloaded.
        """
        checksum_url = url + self.checksum_suffix
        try:
            published = fetch.fetch_bytes(checksum_url, what=f"{self.name} checksum").decode().split()
        except fetch.NotFound:
            if self.digest:
                return self.digest
            raise UserError(f"no published {self.algorithm} at {checksum_url}", self.fallback_hint) from None
        except UserError as exc:
            raise UserError(exc.message, f"{self.fallback_hint}, or set {self.url_env} to a mirror") from None
        if self.digest:
            if published and published[0].lower() != self.digest:
                raise UserError(f"{checksum_url} publishes {self.algorithm} {published[0].lower()}, but "
                                f"{self.name} {self.version} is pinned in wplambda to {self.digest}",
                                f"point {self.url_env} at a mirror of the official release, or {self.fallback_hint}")
            return self.digest
        if not published:
            raise UserError(f"the {self.algorithm} file at {checksum_url} is empty", self.fallback_hint)
        return published[0].lower()

    def _cached(self) -> Path | None:
        """A cached copy of this release whose content still matches its checksum: the pin in full,
        else the one in its directory name (``<version>-<first 16 hex digits>``). A truncated or
        edited file, or one cached before the release was pinned, is not used."""
        pattern = f"{self.version}-{self.digest[:16] or '*'}/*"
        for candidate in sorted((fetch.cache_dir() / self.name).glob(pattern)):
            wanted = self.digest or candidate.parent.name.rsplit("-", 1)[-1]
            if candidate.is_file() and fetch.file_digest(candidate, self.algorithm).startswith(wanted):
                return candidate
        return None
