<?php
/**
 * Plugin Name: wplambda hardening
 * Description: The walls of [security] in wplambda.toml that need WordPress: the login throttle, no user enumeration, no install.php once installed.
 *
 * The walls that are up arrive in WPLAMBDA_HARDENING (set by the template and by `wplambda serve`
 * from [security]; wp_lambda/runtime/contract.py names them). The runtime already refuses
 * xmlrpc.php, wp-cron.php and readme.html before PHP and adds SameSite to the cookies
 * (wp_lambda/runtime/hardening.py); what is here needs WordPress's hooks.
 *
 * The login throttle counts failed logins per client IP (REMOTE_ADDR, which the runtime sets from
 * the viewer's address; X-Forwarded-For plays no part) and per username, in a table of the site's
 * database so every Lambda instance sees the same counts. After N free failures each further
 * failure doubles the wait before the next attempt, up to a cap; a locked attempt is refused
 * before any password is checked and is not counted, so it costs one indexed SELECT. A login that
 * succeeds pays that SELECT only (and a DELETE of the account's row when it follows failures).
 * Only real accounts get a username row; rows expire a day after their last failure and each
 * failure deletes a batch of expired ones, so the table holds at most the addresses and accounts
 * that failed in the last day. The username's wait is capped far lower than the address's: anyone
 * can fail logins for "admin", and the owner must still get in.
 */

if (!defined('ABSPATH')) {
    exit;
}

/** The walls that are up: name => value ("login-throttle:5" => 5; others => true). */
function wplambda_walls(): array
{
    static $walls = null;
    if ($walls === null) {
        $walls = [];
        foreach (explode(',', (string) getenv('WPLAMBDA_HARDENING')) as $token) {
            $parts = explode(':', trim($token), 2);
            if ($parts[0] !== '') {
                $walls[$parts[0]] = isset($parts[1]) ? $parts[1] : true;
            }
        }
    }
    return $walls;
}

$wplambda_walls = wplambda_walls();

// -- install.php on an installed site ------------------------------------------------------------
// Only a scanner asks for it once the site is installed (the kit installs before the first visit).
if (isset($wplambda_walls['core-files'], $_SERVER['SCRIPT_FILENAME']) && defined('WP_INSTALLING')
    && realpath((string) $_SERVER['SCRIPT_FILENAME']) === realpath(ABSPATH . 'wp-admin/install.php')
    && is_blog_installed()) {
    status_header(404);
    nocache_headers();
    header('Content-Type: text/plain; charset=utf-8');
    echo "Not found.\n";
    exit;
}

// -- XML-RPC ---------------------------------------------------------------------------------------
// The runtime refuses xmlrpc.php itself; this turns its logins off in WordPress too and drops the RSD
// link from pages. X-Pingback stays: WordPress's installer looks for it on a loopback request to
// decide whether pretty permalinks work, and without it every new site would get plain ones.
if (isset($wplambda_walls['xmlrpc'])) {
    add_filter('xmlrpc_enabled', '__return_false');
    remove_action('wp_head', 'rsd_link');
}

// -- user enumeration ------------------------------------------------------------------------------
if (isset($wplambda_walls['user-enumeration'])) {
    // REST: the users routes exist only for a logged-in user (the block editor's author list).
    // The filter runs at dispatch, after REST's cookie and application-password checks.
    add_filter('rest_endpoints', static function (array $endpoints): array {
        if (!is_user_logged_in()) {
            foreach (array_keys($endpoints) as $route) {
                if (strpos($route, '/wp/v2/users') === 0) {
                    unset($endpoints[$route]);
                }
            }
        }
        return $endpoints;
    });
    // ?author=N would redirect to /author/LOGIN/: a 404 instead, with no canonical redirect.
    add_filter('request', static function (array $vars): array {
        if (isset($_GET['author']) && !is_admin() && !is_user_logged_in()) {
            unset($vars['author']);
            $vars['error'] = '404';
        }
        return $vars;
    });
    add_filter('redirect_canonical', static function ($url) {
        return isset($_GET['author']) && !is_user_logged_in() ? false : $url;
    });
    add_filter('wp_sitemaps_add_provider', static function ($provider, string $name) {
        return $name === 'users' ? false : $provider;
    }, 10, 2);
    // "Unknown username" and "the password for admin is incorrect" tell which logins exist.
    add_filter('authenticate', static function ($user) {
        if (is_wp_error($user) && array_intersect($user->get_error_codes(),
                ['invalid_username', 'invalid_email', 'incorrect_password'])) {
            return new WP_Error('wplambda_login_failed',
                __('<strong>Error:</strong> The username or password is incorrect.'));
        }
        return $user;
    }, 9999);
}

// -- the login throttle ----------------------------------------------------------------------------
if (isset($wplambda_walls['login-throttle'])) {
    WPLambda_Login_Throttle::hook(max(1, (int) $wplambda_walls['login-throttle']));
}

final class WPLambda_Login_Throttle
{
    /** The first wait after the free failures, in seconds; each failure after it doubles it. */
    const BASE_WAIT = 30;
    /** An address's longest wait: one attempt an hour at most, once it has kept failing. */
    const ADDRESS_CAP = 3600;
    /** A username's longest wait: an attacker can lock "admin", but never for more than this. */
    const USERNAME_CAP = 900;
    /** Counts are forgotten this long after their last failure. */
    const FORGET_AFTER = 86400;
    /** Expired rows deleted per recorded failure (far more than the two a failure can add). */
    const PURGE_BATCH = 50;
    const ERROR_CODE = 'wplambda_login_throttled';
    /** WordPress's own password checks on `authenticate`, skipped while locked. */
    const PASSWORD_CHECKS = ['wp_authenticate_username_password', 'wp_authenticate_email_password',
        'wp_authenticate_application_password'];

    /** @var int */
    private static $free;
    /** @var array|null the keys and lock of the attempt in progress */
    private static $attempt = null;
    /** @var string[] the checks before() took off for a locked attempt */
    private static $parked = [];

    public static function hook(int $free): void
    {
        self::$free = $free;
        // First, before any password is checked; and last, so no later authenticator undoes it.
        add_filter('authenticate', [self::class, 'before'], 1, 3);
        add_filter('authenticate', [self::class, 'after'], PHP_INT_MAX, 3);
        add_action('wp_login_failed', [self::class, 'failed'], 10, 2);
        add_action('wp_login', [self::class, 'succeeded'], 10, 2);
        // REST's Basic auth checks application passwords without going through `authenticate`.
        add_filter('determine_current_user', [self::class, 'before_application_password'], 19);
        add_action('application_password_failed_authentication', [self::class, 'application_password_failed']);
    }

    public static function table(): string
    {
        global $wpdb;
        return $wpdb->base_prefix . 'wplambda_login_throttle';
    }

    /**
     * The row keys of an attempt: the client's address, and the account's login. An e-mail address
     * counts as the login it belongs to, or one account would have two counters (WordPress looks
     * the user up by e-mail next anyway, from the same request's cache). With $existing, a name no
     * account has gets no key: a bot inventing usernames then adds one row per address, not one
     * per guess, and there is no account to protect.
     */
    private static function keys(string $username, bool $existing = false): array
    {
        $keys = ['ip:' . self::address()];
        $name = trim($username);
        if ($name !== '' && strpos($name, '@') !== false) {
            $user = get_user_by('email', $name);
            $name = $user ? $user->user_login : $name;
        }
        if ($name !== '' && (!$existing || username_exists($name))) {
            $keys[] = 'user:' . hash('sha256', strtolower($name));
        }
        return $keys;
    }

    /** REMOTE_ADDR, which the runtime sets; a whole IPv6 /64 is one client (one host owns them all). */
    private static function address(): string
    {
        $address = isset($_SERVER['REMOTE_ADDR']) ? (string) $_SERVER['REMOTE_ADDR'] : '';
        $packed = @inet_pton($address);
        if ($packed === false) {
            return 'unknown';
        }
        if (strlen($packed) === 16 && strncmp($packed, str_repeat("\0", 10) . "\xff\xff", 12) === 0) {
            $packed = substr($packed, 12);  // ::ffff:a.b.c.d is the IPv4 client a.b.c.d, not a /64
        }
        if (strlen($packed) === 16) {
            return inet_ntop(substr($packed, 0, 8) . str_repeat("\0", 8)) . '/64';
        }
        return inet_ntop($packed);
    }

    /** Until when the attempt must wait (0: it may go on), and whether any key has failures. */
    private static function lock(array $keys): array
    {
        global $wpdb;
        $placeholders = implode(',', array_fill(0, count($keys), '%s'));
        $suppress = $wpdb->suppress_errors(true);  // no table yet: nobody has failed
        $rows = $wpdb->get_results($wpdb->prepare(
            'SELECT k, locked_until FROM ' . self::table() . " WHERE k IN ($placeholders) AND expires > %d",
            array_merge($keys, [time()])));
        $wpdb->suppress_errors($suppress);
        $until = 0;
        foreach ((array) $rows as $row) {
            $until = max($until, (int) $row->locked_until);
        }
        return [$until > time() ? $until : 0, !empty($rows)];
    }

    private static function refusal(int $until): WP_Error
    {
        $wait = max(1, $until - time());
        if (!headers_sent()) {
            status_header(429);
            header('Retry-After: ' . $wait);
        }
        $when = $wait < 60 ? sprintf(_n('%d second', '%d seconds', $wait), $wait)
            : sprintf(_n('%d minute', '%d minutes', (int) ceil($wait / 60)), (int) ceil($wait / 60));
        return new WP_Error(self::ERROR_CODE, sprintf(
            /* translators: 1: a wait such as "2 minutes", 2: a time of day */
            __('<strong>Too many failed login attempts.</strong> Try again in %1$s (at %2$s).'),
            $when, wp_date(get_option('time_format') ?: 'H:i', $until)));
    }

    public static function before($user, $username, $password)
    {
        if ($user instanceof WP_User || !is_string($username) || $username === '') {
            return $user;  // a cookie login, or WordPress's own "empty username" error
        }
        $keys = self::keys($username);
        list($until, $seen) = self::lock($keys);
        self::$attempt = ['keys' => $keys, 'seen' => $seen, 'until' => $until];
        if ($until) {
            // No password is checked while locked: the guess is not even tried. after() puts the
            // checks back for the next authentication in this process (an XML-RPC multicall).
            foreach (self::PASSWORD_CHECKS as $check) {
                if (remove_filter('authenticate', $check, 20)) {
                    self::$parked[] = $check;
                }
            }
            return self::refusal($until);
        }
        return $user;
    }

    public static function after($user, $username, $password)
    {
        foreach (self::$parked as $check) {
            add_filter('authenticate', $check, 20, 3);
        }
        self::$parked = [];
        if (self::$attempt !== null && self::$attempt['until']) {
            $user = self::refusal(self::$attempt['until']);
        }
        return $user;
    }

    public static function failed($username, $error = null): void
    {
        if ($error instanceof WP_Error && in_array(self::ERROR_CODE, $error->get_error_codes(), true)) {
            return;  // refused while locked: not counted, or the wait would never end
        }
        self::record(self::keys((string) $username, true));
    }

    /**
     * The account's count starts again; the address's does not: otherwise a guesser with an account
     * of their own (a subscriber) could log into it between guesses at "admin" and never be slowed.
     */
    public static function succeeded($login, $user = null): void
    {
        if (self::$attempt !== null && self::$attempt['seen'] && count(self::$attempt['keys']) > 1) {
            global $wpdb;
            $wpdb->delete(self::table(), ['k' => self::$attempt['keys'][1]]);
        }
    }

    /** Basic auth with an application password: refuse a locked client before any hash is checked. */
    public static function before_application_password($user_id)
    {
        if (!empty($user_id) || !isset($_SERVER['PHP_AUTH_USER'], $_SERVER['PHP_AUTH_PW'])) {
            return $user_id;
        }
        list($until) = self::lock(self::keys((string) $_SERVER['PHP_AUTH_USER']));
        if ($until) {
            remove_filter('determine_current_user', 'wp_validate_application_password', 20);
            $error = self::refusal($until);
            add_filter('rest_authentication_errors', static function () use ($error) {
                $error->add_data(['status' => 429]);
                return $error;
            });
        }
        return $user_id;
    }

    public static function application_password_failed($error): void
    {
        // Through `authenticate` (XML-RPC) the failure is also wp_login_failed's: count it once.
        if (!doing_filter('authenticate') && isset($_SERVER['PHP_AUTH_USER'])) {
            self::record(self::keys((string) $_SERVER['PHP_AUTH_USER'], true));
        }
    }

    /** One more failure for each key, and the wait it earns: BASE_WAIT * 2^(failures - free), capped. */
    private static function record(array $keys): void
    {
        global $wpdb;
        $now = time();
        $suppress = $wpdb->suppress_errors(true);
        foreach ($keys as $key) {
            $cap = strpos($key, 'user:') === 0 ? self::USERNAME_CAP : self::ADDRESS_CAP;
            // MariaDB assigns left to right: locked_until reads the failures just updated.
            $sql = $wpdb->prepare(
                'INSERT INTO ' . self::table() . ' (k, failures, locked_until, expires) VALUES (%s, 1, %d, %d)'
                . ' ON DUPLICATE KEY UPDATE failures = IF(expires <= %d, 1, failures + 1),'
                . ' locked_until = IF(failures >= %d, %d + LEAST(%d, %d * POW(2, LEAST(failures - %d, 30))), 0),'
                . ' expires = %d',
                $key, self::$free <= 1 ? $now + min($cap, self::BASE_WAIT) : 0, $now + self::FORGET_AFTER,
                $now, self::$free, $now, $cap, self::BASE_WAIT, self::$free, $now + self::FORGET_AFTER);
            if ($wpdb->query($sql) === false && self::create()) {
                $wpdb->query($sql);
            }
        }
        $wpdb->query($wpdb->prepare('DELETE FROM ' . self::table() . ' WHERE expires <= %d LIMIT %d',
            $now, self::PURGE_BATCH));
        $wpdb->suppress_errors($suppress);
    }

    /** The table, made on the first failure ever: a site nobody fails to log in to never has one. */
    private static function create(): bool
    {
        global $wpdb;
        return (bool) $wpdb->query('CREATE TABLE IF NOT EXISTS ' . self::table() . ' ('
            . ' k VARCHAR(80) NOT NULL PRIMARY KEY,'
            . ' failures INT UNSIGNED NOT NULL,'
            . ' locked_until INT UNSIGNED NOT NULL,'
            . ' expires INT UNSIGNED NOT NULL,'
            . ' KEY expires (expires)'
            . ') ' . $wpdb->get_charset_collate());
    }
}
