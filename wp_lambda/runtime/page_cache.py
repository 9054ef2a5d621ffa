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

from wp_lambda.runtime import contract
from wp_lambda.runtime.events import Request, Response

_BYPASS_HEADER = contract.CACHE_BYPASS_HEADER.lower()


def bypass_reason(request: Request) -> str | None:
    """Why ``request`` must not share a cached page (contract.request_cache_bypass, serve's gateway
    decides with the same function), or None."""
    if request.header(_BYPASS_HEADER) is not None:
        return "edge"
    headers = ((name, value) for name, values in request.headers.items() for value in values)
    return contract.request_cache_bypass(request.method, request.path, request.query, headers)


def enforce(request: Request, response: Response) -> Response:
    """``response`` with Cache-Control NOT_SHARED when it sets a cookie or ``request`` bypasses the
    cache; otherwise as PHP sent it (the mu-plugin's word stands)."""
    sets_cookie = any(name.lower() == "set-cookie" for name, _ in response.headers)
    if sets_cookie or bypass_reason(request) is not None:
        response.headers = [(n, v) for n, v in response.headers if n.lower() != "cache-control"]
        response.headers.append(("Cache-Control", contract.NOT_SHARED))
    return response
