"""Pinned build tools (wp-cli.phar, composer.phar): downloaded once, verified, cached.

A tool the build downloads runs with the user's privileges over their site's code, so it is
pinned to one release and checked against the checksum its project publishes beside it; a
mismatch stops the build. Each URL can be pointed elsewhere (a mirror; a local server in tests)
with an environment variable.
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

    @property
    def source(self) -> str:
        return os.environ.get(self.url_env) or self.url

    def command(self, reporter: Reporter) -> tuple[str, ...]:
        """``(php, <cached phar>)``, downloading and verifying the phar on first use."""
        return (shutil.which("php") or "php", str(self.path(reporter)))

    def path(self, reporter: Reporter) -> Path:
        """The verified phar: from the cache when this release is there (no network, so offline
        builds keep working), else downloaded and checked against the published checksum."""
        cached = self._cached()
        if cached is not None:
            return cached
        url = self.source
        try:
            published = fetch.fetch_bytes(url + self.checksum_suffix, what=f"{self.name} checksum").decode().split()
        except fetch.NotFound:
            raise UserError(f"no published {self.algorithm} at {url}{self.checksum_suffix}",
                            self.fallback_hint) from None
        except UserError as exc:
            raise UserError(exc.message, f"{self.fallback_hint}, or set {self.url_env} to a mirror") from None
        if not published:
            raise UserError(f"the {self.algorithm} file at {url}{self.checksum_suffix} is empty", self.fallback_hint)
        expected = published[0].lower()

        def produce() -> bytes:
            with reporter.transfer(f"downloading {self.name} {self.version}") as progress:
                try:
                    data = fetch.fetch_bytes(url, progress=progress, what=self.name)
                except fetch.NotFound:
                    raise UserError(f"{url} is not there", self.fallback_hint) from None
            actual = hashlib.new(self.algorithm, data).hexdigest()
            if actual != expected:
                raise UserError(f"{self.name} checksum mismatch for {url}: expected {self.algorithm} {expected}, "
                                f"got {actual}", f"retry; if it persists, {self.fallback_hint}")
            return data

        filename = url.rstrip("/").rsplit("/", 1)[-1]
        return fetch.cached(f"{self.name}/{self.version}-{expected[:16]}/{filename}", produce)

    def _cached(self) -> Path | None:
        """A cached copy of this release whose content still matches the checksum in its directory
        name (``<version>-<first 16 hex digits>``): a truncated or edited file is not used."""
        for candidate in sorted((fetch.cache_dir() / self.name).glob(f"{self.version}-*/*")):
            prefix = candidate.parent.name.rsplit("-", 1)[-1]
            if candidate.is_file() and fetch.file_digest(candidate, self.algorithm).startswith(prefix):
                return candidate
        return None
