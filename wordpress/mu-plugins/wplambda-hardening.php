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
 * the viewer's address; X-Forwarded-For plays no part) and per name typed, in a table of the site's
 * database so every Lambda instance sees the same counts. A name that is an account counts as the
 * account (user:ID, whatever spelling the database's collation matched); a name that is none counts
 * under its collation weight, so it locks exactly as an account would and the throttle does not tell
 * which names exist. After N free failures each further failure doubles the wait before the next
 * attempt, up to a cap; a locked attempt is refused before any password is checked and is not
 * counted. Attempts on the same address or name take the database's named locks (GET_LOCK) from the
 * lock check to the recorded failure, so attempts sent at once are checked one after another. A
 * browser that logged into an account before carries a signed device cookie and skips that
 * account's lock (not its address's): an attacker failing on "admin" does not lock its owner out.
 * A login that succeeds pays two GET_LOCKs, one indexed SELECT and the releases (and a DELETE of
 * the account's row when it follows failures). Rows expire a day after their last failure and each
 * failure deletes a batch of expired ones.
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
    // ?author=N would redirect to /author/LOGIN/: a 404 instead, with no canonical redirect. The
    // parsed query var is tested, not $_GET: WP::parse_request takes `author` from a POST body too.
    add_filter('request', static function (array $vars): array {
        if (!empty($vars['author']) && !is_admin() && !is_user_logged_in()) {
            unset($vars['author']);
            $vars['error'] = '404';
            add_filter('redirect_canonical', '__return_false');
        }
        return $vars;
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
    // Lost password: "There is no account with that username" tells which logins exist. An unknown
    // name gets wp-login.php's own answer to a request whose mail went out (no mail is sent), but
    // only when that is its one error: a name refused for another reason (empty, throttled, a
    // plugin's check) keeps WordPress's answer, as a known name would.
    $mail_sent = static function (): void {
        wp_safe_redirect(!empty($_REQUEST['redirect_to']) ? $_REQUEST['redirect_to']
            : 'wp-login.php?checkemail=confirm');
        exit;
    };
    add_filter('lostpassword_errors', static function (WP_Error $errors, $user_data) use ($mail_sent) {
        if (!$user_data && did_action('login_init')
                && array_diff($errors->get_error_codes(), ['invalid_email']) === []) {
            $mail_sent();
        }
        return $errors;
    }, 10, 2);
    // A known name whose mail could not be sent (no mail set up) would show WordPress's "The email
    // could not be sent", which an unknown name never gets: the same page instead, and a log line.
    add_action('lost_password', static function (WP_Error $errors) use ($mail_sent): void {
        if ($errors->get_error_message('retrieve_password_email_failure')
                && ($_SERVER['REQUEST_METHOD'] ?? '') === 'POST') {
            error_log('wplambda: a lost-password e-mail could not be sent (wp_mail failed): set up mail for the site');
            $mail_sent();
        }
    });
    // oEmbed's author_url is /author/NICENAME/, and the nicename is the login unless changed.
    add_filter('oembed_response_data', static function (array $data): array {
        if (!is_user_logged_in()) {
            unset($data['author_url']);
        }
        return $data;
    });
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
    /** A name's (or device's) longest wait: anyone can fail logins for "admin", so it stays short. */
    const USERNAME_CAP = 900;
    /** Counts are forgotten this long after their last failure. */
    const FORGET_AFTER = 86400;
    /** Expired rows deleted per recorded failure (far more than the two a failure can add). */
    const PURGE_BATCH = 50;
    /** How long an attempt waits for another one on the same address or account to finish. */
    const MUTEX_WAIT = 10;
    /** The device cookie's name (before COOKIEHASH) and lifetime. */
    const DEVICE_COOKIE = 'wplambda_device_';
    const DEVICE_LIFETIME = 31536000;
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
    /** @var string[] the database's named locks this request holds */
    private static $held = [];

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
        add_action('application_password_did_authenticate', [self::class, 'release']);
        // A lost-password request sends mail: it counts as a failure of its address.
        add_action('lostpassword_post', [self::class, 'lost_password'], 10, 2);
    }

    public static function table(): string
    {
        global $wpdb;
        return $wpdb->base_prefix . 'wplambda_login_throttle';
    }

    /**
     * The key of the name typed. A real account is `user:ID`, found as WordPress finds it (by login,
     * then by e-mail), so every spelling the database's collation takes for that login ("ad\u{200B}min",
     * fullwidth "ａｄｍｉｎ") shares its one counter. A name no account has is keyed by its collation
     * weight, so its spellings share a counter too and it locks exactly as a real account would:
     * the throttle does not tell which names exist.
     */
    private static function name_key(string $username): string
    {
        global $wpdb;
        $name = trim($username);
        $user = get_user_by('login', $name);
        if (!$user && is_email($name)) {
            $user = get_user_by('email', $name);
        }
        if ($user) {
            return 'user:' . $user->ID;
        }
        // The users table's collation is the site's ($wpdb->collate, made at install).
        $collate = preg_match('/^utf8mb4_[a-z0-9_]+$/', (string) $wpdb->collate)
            ? $wpdb->collate : 'utf8mb4_unicode_520_ci';
        $weight = $wpdb->get_var($wpdb->prepare(
            "SELECT HEX(WEIGHT_STRING(CONVERT(%s USING utf8mb4) COLLATE $collate))", $name));
        return 'name:' . hash('sha256', (string) $weight);
    }

    /**
     * The account key, or the device's when this browser holds a valid device cookie for the same
     * account: then an attacker's failures on the account do not lock the owner out (OWASP's device
     * cookies). The device's own failures count, so a stolen cookie is throttled like an account.
     */
    private static function account_key(string $username): string
    {
        $key = self::name_key($username);
        $device = self::device();
        return $device !== null && $key === 'user:' . $device[0] ? 'device:' . $device[1] : $key;
    }

    /** [user id, id of the device] from a valid device cookie, or null. */
    private static function device(): ?array
    {
        $name = self::DEVICE_COOKIE . COOKIEHASH;
        $value = isset($_COOKIE[$name]) ? (string) $_COOKIE[$name] : '';
        $parts = explode('.', $value);
        if (count($parts) !== 4 || !ctype_digit($parts[0]) || !ctype_digit($parts[1]) || !ctype_xdigit($parts[2])
            || (int) $parts[1] + self::DEVICE_LIFETIME < time()) {
            return null;
        }
        list($id, $issued, $nonce, $mac) = $parts;
        return hash_equals(self::device_mac((int) $id, (int) $issued, $nonce), $mac) ? [(int) $id, $nonce] : null;
    }

    private static function device_mac(int $id, int $issued, string $nonce): string
    {
        return hash_hmac('sha256', "wplambda-device|$id|$issued|$nonce", wp_salt('auth'));
    }

    /** Binds this browser to the account that just logged in: see account_key(). */
    private static function set_device_cookie(int $id): void
    {
        $issued = time();
        $nonce = bin2hex(random_bytes(16));
        if (!headers_sent()) {
            $value = "$id.$issued.$nonce." . self::device_mac($id, $issued, $nonce);
            setcookie(self::DEVICE_COOKIE . COOKIEHASH, $value, [
                'expires' => $issued + self::DEVICE_LIFETIME, 'path' => SITECOOKIEPATH, 'domain' => COOKIE_DOMAIN ?: '',
                'secure' => is_ssl(), 'httponly' => true, 'samesite' => 'Lax']);
        }
    }

    /** REMOTE_ADDR, which the runtime sets; a whole IPv6 /64 is one client (one host owns them all). */
    private static function address(): string
    {
        $address = isset($_SERVER['REMOTE_ADDR']) ? (string) $_SERVER['REMOTE_ADDR'] : '';
        $packed = @inet_pton($address);
        if ($packed === false) {
            return 'ip:unknown';
        }
        if (strlen($packed) === 16 && strncmp($packed, str_repeat("\0", 10) . "\xff\xff", 12) === 0) {
            $packed = substr($packed, 12);  // ::ffff:a.b.c.d is the IPv4 client a.b.c.d, not a /64
        }
        if (strlen($packed) === 16) {
            return 'ip:' . inet_ntop(substr($packed, 0, 8) . str_repeat("\0", 8)) . '/64';
        }
        return 'ip:' . inet_ntop($packed);
    }

    /**
     * Takes the database's named lock of each key, in order, so attempts on the same address or
     * account run one after another from the lock check to the recorded failure: C requests sent at
     * once get the budget's checks, not C. False when another attempt held one too long.
     */
    private static function acquire(array $keys): bool
    {
        global $wpdb;
        foreach ($keys as $key) {
            $name = 'wplambda_' . hash('sha256', DB_NAME . '|' . self::table() . '|' . $key);
            $name = substr($name, 0, 64);
            if ((string) $wpdb->get_var($wpdb->prepare('SELECT GET_LOCK(%s, %d)', $name, self::MUTEX_WAIT)) !== '1') {
                self::release();
                return false;
            }
            self::$held[] = $name;
        }
        return true;
    }

    /** Gives back the named locks (the connection's end would too; a multicall logs in again). */
    public static function release(): void
    {
        global $wpdb;
        foreach (self::$held as $name) {
            $wpdb->query($wpdb->prepare('SELECT RELEASE_LOCK(%s)', $name));
        }
        self::$held = [];
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

    /** Serialises the attempt on its keys and reads their lock; a mutex that never came is a wait. */
    private static function enter(array $keys): array
    {
        if (!self::acquire($keys)) {
            return [time() + self::MUTEX_WAIT, false];
        }
        $lock = self::lock($keys);
        if ($lock[0]) {
            self::release();  // refused without a check: nothing to record
        }
        return $lock;
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
        self::$attempt = null;
        if ($user instanceof WP_User || !is_string($username) || $username === '') {
            return $user;  // a cookie login, or WordPress's own "empty username" error
        }
        $keys = [self::address(), self::account_key($username)];
        list($until, $seen) = self::enter($keys);
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
        if ($user instanceof WP_User) {
            self::release();  // nothing left to record; a failure releases in failed()
        }
        return $user;
    }

    public static function failed($username, $error = null): void
    {
        if ($error instanceof WP_Error && in_array(self::ERROR_CODE, $error->get_error_codes(), true)) {
            return;  // refused while locked: not counted, or the wait would never end
        }
        // The keys before() took; without them (an empty username), the address's only.
        self::record(self::$attempt !== null ? self::$attempt['keys'] : [self::address()]);
        self::release();
        self::$attempt = null;
    }

    /**
     * The count that gated the attempt (the account's, or the device's) starts again, and this browser
     * gets a device cookie. The address's count does not: otherwise a guesser with an account of their
     * own (a subscriber) could log into it between guesses at "admin" and never be slowed.
     */
    public static function succeeded($login, $user = null): void
    {
        if (self::$attempt !== null && self::$attempt['seen']) {
            global $wpdb;
            $wpdb->delete(self::table(), ['k' => self::$attempt['keys'][1]]);
        }
        if ($user instanceof WP_User) {
            self::set_device_cookie((int) $user->ID);
        }
        self::$attempt = null;
    }

    /**
     * Basic auth with an application password: refuse a locked address before any hash is checked.
     * Only the address counts: an application password is 24 random characters nobody guesses, and an
     * account lock here would let anyone cut the owner's integrations off.
     */
    public static function before_application_password($user_id)
    {
        if (!empty($user_id) || !isset($_SERVER['PHP_AUTH_USER'], $_SERVER['PHP_AUTH_PW'])) {
            return $user_id;
        }
        list($until) = self::enter([self::address()]);
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
            self::record([self::address()]);
            self::release();
        }
    }

    /** A lost-password request, known name or not: refused while the address is locked, else counted. */
    public static function lost_password(WP_Error $errors, $user_data): void
    {
        if ($errors->has_errors()) {
            return;  // an empty name: WordPress answers it, and no mail goes out
        }
        list($until) = self::enter([self::address()]);
        if ($until) {
            $refusal = self::refusal($until);
            $errors->add(self::ERROR_CODE, $refusal->get_error_message());
            return;
        }
        self::record([self::address()]);
        self::release();
    }

    /** One more failure for each key, and the wait it earns: BASE_WAIT * 2^(failures - free), capped. */
    private static function record(array $keys): void
    {
        global $wpdb;
        $now = time();
        $suppress = $wpdb->suppress_errors(true);
        foreach ($keys as $key) {
            $cap = strpos($key, 'ip:') === 0 ? self::ADDRESS_CAP : self::USERNAME_CAP;
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
