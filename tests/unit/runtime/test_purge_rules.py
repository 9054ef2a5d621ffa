"""Purge's rules apart from WordPress (wp_lambda/runtime/purge.py): CloudFront's path syntax, the
batch that collapses to "/*", the private header taken out of every response, the distribution id
believed only from CloudFront, the CLI's 0600 file. WordPress's lists and the calls reaching moto
and a loopback stand-in for serve are in tests/integration/runtime/test_runtime_purge.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.lambda_events import v2
from wp_lambda.runtime import contract, direct, purge
from wp_lambda.runtime.events import HttpApiV2, Request, Response

SECRET = "origin-secret-value"
CACHED = {contract.PAGE_CACHE_ENV: "300,86400"}  # [cache] pages on, as the function gets it
MU_PLUGIN = Path(__file__).resolve().parents[3] / "wordpress" / "mu-plugins" / "wplambda-purge.php"


@pytest.mark.parametrize(("path", "problem"), [
    ("/hello-world/", None), ("/category/news/*", None), ("/*", None), ("/%E2%9C%93/", None),
    ("hello-world/", "begin with"), ("/a*b", "last character"), ("/with space/", "URL-encode"),
    ("/caf\u00e9/", "URL-encode"), ("/" + "a" * contract.PURGE_PATH_MAX_LENGTH, "longer than")])
def test_invalidation_path_syntax(path: str, problem: str | None) -> None:
    found = purge.path_problem(path)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_batch_keeps_valid_paths_once_and_collapses_a_long_list() -> None:
    assert purge.batch(["/a/*", "/", "/a/*", "bad", "/b/"]) == ["/a/*", "/", "/b/"]
    assert purge.batch([f"/p{i}/" for i in range(contract.PURGE_MAX_PATHS)]) == \
        [f"/p{i}/" for i in range(contract.PURGE_MAX_PATHS)]
    assert purge.batch([f"/p{i}/" for i in range(contract.PURGE_MAX_PATHS + 1)]) == [contract.PURGE_ALL]
    assert purge.batch(["/a/", "/*"]) == [contract.PURGE_ALL]
    assert purge.batch([]) == []


def test_every_copy_of_the_header_is_taken_out() -> None:
    response = Response(200, [("X-Wplambda-Purge", "/a/* /"), ("Content-Type", "text/html"),
                              ("x-wplambda-purge", "/b/")], b"")
    assert purge.take_header(response) == ["/a/*", "/", "/b/"]
    assert response.headers == [("Content-Type", "text/html")]


def _request(headers: dict[str, str]) -> Request:
    return HttpApiV2().to_request(v2("GET", "/", headers=headers))


def test_the_distribution_header_is_believed_only_from_cloudfront() -> None:
    environ = {contract.ORIGIN_SECRET_ENV: SECRET}
    real = {contract.ORIGIN_SECRET_HEADER: SECRET, contract.DISTRIBUTION_HEADER: "E2QWRUHAPOMQZL"}
    assert purge.distribution_id(_request(real), environ) == "E2QWRUHAPOMQZL"
    # A viewer reaching the function some other way cannot name a distribution.
    forged = {contract.ORIGIN_SECRET_HEADER: "guess", contract.DISTRIBUTION_HEADER: "E2QWRUHAPOMQZL"}
    assert purge.distribution_id(_request(forged), environ) is None
    # Nor can anything that is not a distribution id's shape get through, from CloudFront or not.
    odd = {contract.ORIGIN_SECRET_HEADER: SECRET, contract.DISTRIBUTION_HEADER: "E2QW/../x"}
    assert purge.distribution_id(_request(odd), environ) is None
    # The console function's variable, when the request names none.
    assert purge.distribution_id(None, {contract.DISTRIBUTION_ID_ENV: "EABCDEFGH123"}) == "EABCDEFGH123"
    assert purge.distribution_id(None, {contract.DISTRIBUTION_ID_ENV: "e; rm"}) is None


def test_without_a_distribution_or_serve_nothing_is_sent() -> None:
    def no_client() -> object:
        raise AssertionError("no CloudFront client may be made")
    assert purge.Purger(CACHED, client=no_client).send(["/a/"], None) is None
    # Pages not cached: nothing to take out, whatever PHP named.
    assert purge.Purger({}, client=no_client).send(["/a/"], "E2QWRUHAPOMQZL") is None


def test_a_failed_invalidation_never_raises() -> None:
    class Refusing:
        def create_invalidation(self, **kwargs: object) -> dict[str, object]:
            raise RuntimeError("TooManyInvalidationsInProgress")
    assert purge.Purger(CACHED, client=Refusing).send(["/a/"], "E2QWRUHAPOMQZL") is None


def test_too_many_wildcards_in_progress_sends_the_exact_pages() -> None:
    """CloudFront's limit on wildcard paths in progress (15) is apart from the exact ones' (3,000).
    moto does not enforce either, so a stand-in client answers as CloudFront does past the first."""
    calls: list[list[str]] = []

    class Busy:
        def create_invalidation(self, DistributionId: str, InvalidationBatch: dict[str, Any]) -> dict[str, Any]:
            items = InvalidationBatch["Paths"]["Items"]
            calls.append(items)
            if any(path.endswith("*") for path in items):
                raise ClientError({"Error": {"Code": "TooManyInvalidationsInProgress", "Message": "busy"}},
                                  "CreateInvalidation")
            return {"Invalidation": {"Id": "I2J0I21PCUYOIK"}}

    listed = ["/hello/*", "/", "/page/*", "/wp-sitemap*", "/tag/a/*"]
    assert purge.Purger(CACHED, client=Busy).send(listed, "E2QWRUHAPOMQZL") == "I2J0I21PCUYOIK"
    assert calls == [listed, ["/hello/", "/", "/page/", "/tag/a/"]]
    assert purge.exact(["/*"]) == [] and purge.exact(["/a/", "/a/*"]) == ["/a/"]


def test_the_cli_file_is_the_owners_alone_and_removed() -> None:
    with purge.CommandFile() as channel:
        mode = stat.S_IMODE(os.stat(channel.path).st_mode)
        assert mode == 0o600
        assert channel.environ({"A": "1"}) == {"A": "1", contract.PURGE_FILE_ENV: channel.path}
        Path(channel.path).write_text("/a/*\n/\n")
        assert channel.paths() == ["/a/*", "/"]
    assert not os.path.exists(channel.path)


def test_the_mu_plugin_uses_the_contracts_names() -> None:
    code = MU_PLUGIN.read_text()
    for name in (contract.PURGE_HEADER, contract.PURGE_FILE_ENV, contract.PAGE_CACHE_ENV):
        assert name in code, name


def test_an_import_or_revert_that_succeeded_purges_everything() -> None:
    """The swap of every table is invisible to the mu-plugin; a failed one changed nothing."""
    sent: list[tuple[list[str], str | None]] = []

    class Recording(purge.Purger):
        def send(self, paths: Iterable[str], distribution: str | None) -> str | None:
            sent.append((list(paths), distribution))
            return None

    class Instance:
        def __init__(self) -> None:
            self.environ = {**CACHED, contract.DISTRIBUTION_ID_ENV: "E2QWRUHAPOMQZL"}
            self.purger = Recording(self.environ)

        def time_left(self, context: object) -> float:
            return 60.0

    for kind in (contract.DB_IMPORT, contract.DB_REVERT):
        assert direct.INVOCATIONS[kind].__qualname__.startswith("_replaces_content."), kind
    replaced = direct._replaces_content(lambda runtime, event, timeout: {"tables": 12})
    failed = direct._replaces_content(lambda runtime, event, timeout: {"error": "no backup"})
    assert replaced(Instance(), {}, None) == {"tables": 12}  # type: ignore[arg-type]
    assert failed(Instance(), {}, None) == {"error": "no backup"}  # type: ignore[arg-type]
    assert sent == [([contract.PURGE_ALL], "E2QWRUHAPOMQZL")]
