<?php
/**
 * Plugin Name: wplambda page cache
 * Description: WordPress says what CloudFront may share: public, s-maxage for a page that is the same for every anonymous visitor, private, no-store for everything else.
 *
 * [cache] in wplambda.toml arrives in WPLAMBDA_PAGE_CACHE as "TTL,STALE_TTL" (empty: pages are not
 * cached, and every response here says private, no-store). The decision is taken when PHP sends
 * the headers (header_register_callback), at the request's end since the page is buffered, so it
 * sees the final status and every Set-Cookie a plugin added after WordPress ran, not a guess made
 * early in the request. The cookies are judged as PHP names them ($_COOKIE), a plugin's PHP session,
 * a REST method override and a CORS or Vary answer keep a page private too.
 *
 * A response is shared (public, max-age=0, s-maxage=TTL, stale-while-revalidate=STALE, stale-if-error=STALE)
 * only when all of these hold:
 * - GET or HEAD, status 200 (errors and redirects are never shared);
 * - a front-end page, feed or sitemap (template_redirect ran) or a REST API answer;
 * - nobody is logged in, no commenter is remembered, and no Set-Cookie is being sent;
 * - not a preview, not a password-protected post (typed password or not), not a page a plugin
 *   marked with DONOTCACHEPAGE (the constant cache plugins honour; WooCommerce sets it on the cart);
 * - nothing earlier already said private, no-store or no-cache (nocache_headers()).
 * A page that prints a nonce made for anonymous visitors (api-fetch's wp_rest, a contact form), in
 * its body or a header, is still the same for all of them; it is shared without stale directives,
 * and cache.ttl is at most 12 h, half a nonce's life, so a cached nonce is still valid when served.
 * A nonce made but not printed does not count: WordPress makes a wp_rest nonce on every front-end
 * request. The page is searched for each one when it is complete; HEAD, with no page to search,
 * counts any nonce made (wplambda_page_prints_nonce).
 *
 * The runtime has the last word (wp_lambda/runtime/page_cache.py): a response with Set-Cookie, or to
 * a request carrying a login, post-password, commenter or cart cookie, a preview, wp-admin or the
 * login and cron scripts, becomes private, no-store whatever is decided here.
 */

if (!defined('ABSPATH')) {
    exit;
}

/** [cache] ttl and stale_ttl, or null when pages are not cached. */
function wplambda_page_cache_settings(): ?array
{
    if (!preg_match('/^(\d+),(\d+)$/', (string) getenv('WPLAMBDA_PAGE_CACHE'), $m)) {
        return null;
    }
    return ['ttl' => (int) $m[1], 'stale' => (int) $m[2]];
}

/** Whether a header of $name (case-insensitive) is about to be sent; its values. */
function wplambda_page_cache_sent(string $name): array
{
    $values = [];
    foreach (headers_list() as $line) {
        $parts = explode(':', $line, 2);
        if (count($parts) === 2 && strcasecmp(trim($parts[0]), $name) === 0) {
            $values[] = trim($parts[1]);
        }
    }
    return $values;
}

/** Whether the response about to be sent is the same for every anonymous visitor. */
function wplambda_page_is_shared(): bool
{
    $method = $_SERVER['REQUEST_METHOD'] ?? '';
    if (($method !== 'GET' && $method !== 'HEAD') || http_response_code() !== 200) {
        return false;
    }
    $rest = defined('REST_REQUEST') && REST_REQUEST;
    if (!$rest && !did_action('template_redirect')) {
        return false;  // wp-admin, wp-login.php, admin-ajax.php, wp-cron.php, wp_die before the page
    }
    if (!function_exists('is_user_logged_in') || is_user_logged_in()) {
        return false;
    }
    if (wplambda_page_cache_sent('Set-Cookie')) {
        return false;
    }
    // The cookies that make a page this visitor's, as PHP read their names (the edge compares the
    // raw names; PHP turns "wordpress.logged_in_H" into a login cookie). Without the list from the
    // runtime, any cookie keeps the page private.
    $prefixes = array_filter(explode(',', (string) getenv('WPLAMBDA_PAGE_CACHE_COOKIES')));
    foreach (array_keys($_COOKIE) as $name) {
        if (!$prefixes) {
            return false;
        }
        foreach ($prefixes as $prefix) {
            if (strncmp((string) $name, $prefix, strlen($prefix)) === 0) {
                return false;
            }
        }
    }
    if (session_status() === PHP_SESSION_ACTIVE) {
        return false;  // a plugin's PHP session: the page may be built from it
    }
    // A REST method override (HEAD, OPTIONS on a GET) answers something else under the same key.
    if (isset($_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE']) || isset($_SERVER['HTTP_X_METHOD_OVERRIDE'])) {
        return false;
    }
    // CORS answers reflect the caller's Origin, and CloudFront keys on no Vary header but its own:
    // only an answer made without an Origin (no Access-Control-Allow-Origin; the REST API's
    // "Vary: Origin" is then sent anyway) is the same for everyone. Any other Vary is not.
    if (wplambda_page_cache_sent('Access-Control-Allow-Origin')) {
        return false;
    }
    foreach (wplambda_page_cache_sent('Vary') as $value) {
        foreach (array_map('trim', explode(',', strtolower($value))) as $varies) {
            if ($varies !== '' && $varies !== 'accept-encoding' && $varies !== 'origin') {
                return false;
            }
        }
    }
    if (function_exists('wp_get_current_commenter') && array_filter(wp_get_current_commenter())) {
        return false;  // the comment form is filled in with this commenter's name and address
    }
    if (defined('DONOTCACHEPAGE') && DONOTCACHEPAGE) {
        return false;
    }
    if (!$rest && (is_preview() || (is_singular() && post_password_required()))) {
        return false;
    }
    if (!$rest && is_singular() && ($post = get_queried_object()) instanceof WP_Post && $post->post_password !== '') {
        return false;  // the form today, the content for whoever typed the password: never shared
    }
    foreach (wplambda_page_cache_sent('Cache-Control') as $value) {
        if (preg_match('/\b(private|no-store|no-cache)\b/i', $value)) {
            return false;
        }
    }
    return true;
}

// Decide when the page is complete, not at its first byte: classic themes print before wp_head,
// so a DONOTCACHEPAGE a block defines, a nonce made while enqueueing, or a fatal error later in the
// page would come after headers went out. Lambda answers with the whole response anyway, so the
// buffer costs no time to first byte; PHP flushes it (and sends the headers) at the request's end.
// The buffer's callback runs before the headers go out, so it hands the complete page to the
// decision below. Not under the PHP CLI (wp-cli, cron): a command's output streams, and it sends no
// headers.
$wplambda_page_body = null;  // the complete response body, once the buffer's last flush has it
if (PHP_SAPI !== 'cli') {
    ob_start(static function (string $buffer, int $phase) use (&$wplambda_page_body): string {
        // Complete only at the buffer's end during shutdown (WordPress's wp_ob_end_flush_all or
        // PHP's own): a plugin's early flush or ob_end_flush sends the headers with part of the
        // page, and the decision then finds no body and keeps the stale directives off.
        if (($phase & PHP_OUTPUT_HANDLER_FINAL) && !($phase & PHP_OUTPUT_HANDLER_CLEAN)
            && function_exists('did_action') && did_action('shutdown')) {
            $wplambda_page_body = $buffer;
        }
        return $buffer;
    });
}

// action => nonce tick, of each nonce made (or checked) for a visitor who is not logged in:
// wp_create_nonce and wp_verify_nonce ask this filter only then.
$wplambda_page_nonces = [];
add_filter('nonce_user_logged_out', static function ($uid, $action = -1) use (&$wplambda_page_nonces) {
    $wplambda_page_nonces[(string) $action] = wp_nonce_tick($action);
    return $uid;
}, 10, 2);

/**
 * Whether a nonce made for this anonymous visitor reaches the response, in its body or a header.
 *
 * WordPress makes a wp_rest nonce on every front-end request (the api-fetch inline script is built
 * whether or not a page enqueues it), so a nonce made is not a nonce printed: only one found in the
 * response keeps the stale directives off. Each is made again here, with the same user, session
 * token and tick, and searched for (hex, so the same in HTML, JSON or a URL). Where that cannot be
 * known, the answer is yes: no complete body (HEAD, where WordPress exits before the template and
 * the GET's page is unknown; an early flush), a compressed body, or a tick that moved on meanwhile.
 */
function wplambda_page_prints_nonce(array $actions, ?string $body): bool
{
    if (!$actions) {
        return false;
    }
    if ($body === null || ($_SERVER['REQUEST_METHOD'] ?? '') !== 'GET') {
        return true;
    }
    foreach (wplambda_page_cache_sent('Content-Encoding') as $value) {
        if (strcasecmp($value, 'identity') !== 0) {
            return true;  // gzip from an inner buffer: a nonce would not be found in the bytes
        }
    }
    $headers = implode("\n", headers_list());
    foreach ($actions as $action => $tick) {
        $action = (string) $action;
        if (wp_nonce_tick($action) !== $tick) {
            return true;  // made under the last tick; the nonce made now would differ
        }
        $nonce = wp_create_nonce($action);
        if (str_contains($body, $nonce) || str_contains($headers, $nonce)) {
            return true;
        }
    }
    return false;
}

header_register_callback(static function () use (&$wplambda_page_nonces, &$wplambda_page_body): void {
    $settings = wplambda_page_cache_settings();
    if ($settings !== null && wplambda_page_is_shared()) {
        // max-age=0: browsers ask again each time; only CloudFront keeps the page (s-maxage wins there).
        $value = 'public, max-age=0, s-maxage=' . $settings['ttl'];
        if ($settings['stale'] > 0 && !wplambda_page_prints_nonce($wplambda_page_nonces, $wplambda_page_body)) {
            $value .= ', stale-while-revalidate=' . $settings['stale'] . ', stale-if-error=' . $settings['stale'];
        }
        header('Cache-Control: ' . $value);
        header_remove('Expires');
        header_remove('Pragma');
        return;
    }
    header('Cache-Control: private, no-store');
});
