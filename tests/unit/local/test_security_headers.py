"""The response headers policy's rule as serve's gateway applies it (contract.add_security_headers):
an ``override`` header replaces the origin's whatever the case of its name, any other is added only
when the origin sent none."""

from __future__ import annotations

from wp_lambda.runtime import contract


def test_added_when_the_origin_sent_none() -> None:
    out = contract.add_security_headers([("Content-Type", "text/html")], contract.security_headers(own_domain=False))
    assert out == [("Content-Type", "text/html"), ("X-Content-Type-Options", "nosniff"),
                   ("X-Frame-Options", "SAMEORIGIN"), ("Referrer-Policy", "strict-origin-when-cross-origin")]


def test_override_replaces_and_the_others_keep_the_origins_value() -> None:
    origin = [("x-content-type-options", "sniff-away"), ("X-FRAME-OPTIONS", "DENY"), ("referrer-policy", "no-referrer"),
              ("Strict-Transport-Security", "max-age=0")]
    out = contract.add_security_headers(origin, contract.security_headers(own_domain=True))
    names = [name.lower() for name, _ in out]
    assert len(names) == len(set(names)) == 4
    assert ("X-FRAME-OPTIONS", "DENY") in out and ("referrer-policy", "no-referrer") in out
    assert ("X-Content-Type-Options", "nosniff") in out
    assert ("Strict-Transport-Security", contract.STRICT_TRANSPORT_SECURITY.value) in out


def test_hsts_only_for_a_site_on_its_own_domain() -> None:
    assert contract.STRICT_TRANSPORT_SECURITY in contract.security_headers(own_domain=True)
    assert contract.STRICT_TRANSPORT_SECURITY not in contract.security_headers(own_domain=False)
    assert contract.STRICT_TRANSPORT_SECURITY.value == f"max-age={contract.HSTS_MAX_AGE}"
