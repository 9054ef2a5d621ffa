"""The runtime's last word on what CloudFront may store: it is the last code before the edge.

The kit's mu-plugin (wordpress/mu-plugins/wplambda-page-cache.php) marks a page ``public`` only when
it is the same for every anonymous visitor, but a plugin can still send its own ``Cache-Control``
or set a cookie after the mu-plugin decided. So, whatever PHP said, a PHP response is made
``private, no-store`` (contract.NOT_SHARED) when:

- it carries ``Set-Cookie``: CloudFront caches a response's ``Set-Cookie`` with the object when
  cookies are forwarded to the origin, and would hand that cookie (a session) to every later
  visitor (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Cookies.html);
- the request goes around the page cache (contract.cache_bypass: a login, post-password,
  commenter or cart cookie, a preview, wp-admin and the login/cron scripts, a method other than
  GET/HEAD, an Authorization header), or the viewer-request function marked it so
  (contract.CACHE_BYPASS_HEADER). Such a response is made for one visitor.

CloudFront honours ``no-store``, ``no-cache`` and ``private`` only while the cache policy's MinTTL is
0 (a MinTTL above 0 caches "even if the Cache-Control: no-cache, no-store, or private directives are
present", https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html);
the page cache policy's MinTTL is 0 (template.yaml.j2).
"""

from __future__ import annotations

from collections.abc import Iterator

from wp_lambda.runtime import contract
from wp_lambda.runtime.events import Request, Response

_BYPASS_HEADER = contract.CACHE_BYPASS_HEADER.lower()
_OVERRIDE_HEADERS = ("x-http-method-override", "x-method-override")


def cookie_names(request: Request) -> Iterator[str]:
    """The names of the cookies ``request`` carries (every Cookie header, every pair), as PHP reads
    them (contract.php_cookie_name): "wordpress.logged_in_H" is WordPress's login cookie there."""
    for header in request.headers.get("cookie", []):
        for pair in header.split(";"):
            name = pair.split("=", 1)[0].strip()
            if name:
                yield contract.php_cookie_name(name)


def bypass_reason(request: Request) -> str | None:
    """Why ``request`` must not share a cached page (contract.cache_bypass), or None."""
    if request.header(_BYPASS_HEADER) is not None:
        return "edge"
    # A REST method override (X-HTTP-Method-Override: HEAD or OPTIONS on a GET) changes the answer
    # WordPress gives without changing the request the cache key is made of.
    overridden = any(request.header(name) is not None for name in _OVERRIDE_HEADERS)
    return contract.cache_bypass(request.method, request.path, request.query, cookie_names(request),
                                 request.header("authorization") is not None or overridden)


def enforce(request: Request, response: Response) -> Response:
    """``response`` with Cache-Control NOT_SHARED when it sets a cookie or ``request`` bypasses the
    cache; otherwise as PHP sent it (the mu-plugin's word stands)."""
    sets_cookie = any(name.lower() == "set-cookie" for name, _ in response.headers)
    if sets_cookie or bypass_reason(request) is not None:
        response.headers = [(n, v) for n, v in response.headers if n.lower() != "cache-control"]
        response.headers.append(("Cache-Control", contract.NOT_SHARED))
    return response
