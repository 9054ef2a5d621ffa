"""The direct invocations: one registry, keyed by the contract's names."""

from __future__ import annotations

from pathlib import Path

from wp_lambda.runtime import contract, direct
from wp_lambda.runtime.handler import Runtime


def test_the_registry_has_exactly_the_contracts_keys_in_order() -> None:
    assert tuple(direct.INVOCATIONS) == contract.DIRECT_INVOCATIONS


def test_an_unknown_key_is_answered_with_every_known_one(tmp_path: Path) -> None:
    answer = Runtime({"WPLAMBDA_DOCUMENT_ROOT": str(tmp_path)}).handle({"wplambda": "nope"}, None)
    assert answer["error"].startswith("wplambda: unknown direct invocation 'nope'; expected ")
    assert answer["error"].endswith(", ".join(contract.DIRECT_INVOCATIONS))


def test_the_warmer_answers(tmp_path: Path) -> None:
    assert Runtime({"WPLAMBDA_DOCUMENT_ROOT": str(tmp_path)}).handle({"wplambda": "warmer"}, None) == {"warmed": True}
