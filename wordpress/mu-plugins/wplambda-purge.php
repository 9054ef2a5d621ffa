<?php
/**
 * Plugin Name: wplambda purge
 * Description: When content changes, names the cached pages it affected, for the runtime to take out of CloudFront's cache in one invalidation.
 *
 * Inert unless [cache] pages is on (WPLAMBDA_PAGE_CACHE set, as for wplambda-page-cache.php). A
 * change is: a post or page published, updated while published, unpublished, trashed or deleted
 * while published (any viewable post type; revisions and autosaves are not changes); a comment
 * approved, unapproved, or edited while approved, or posted by a moderator (a visitor's comment,
 * even one approved at once, waits for cache.ttl: see comment_post below). Its paths, in CloudFront's invalidation syntax
 * (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html:
 * a leading "/", case-sensitive, "*" only at the end and matching zero or more characters, the
 * query string included):
 *
 * - the permalink, before and after the change, as PATH* (its ?query variants, its pages and its
 *   comment feed: a cached page's key holds its query string, so only a wildcard reaches them);
 * - the home page (exact) and its pagination, or the posts page of a static front page;
 * - for posts: the feeds, the author's archive, the year's archive (months and days under it);
 * - the archives of the post's public terms, before and after the change (a category it left too);
 * - the sitemaps (wp-sitemap*) and the REST API (every public answer under rest_url()).
 *
 * A wildcard path costs what an exact one does, so a group of URLs is one wildcard; the runtime
 * turns a list longer than its limit into "/*" (wp_lambda/runtime/contract.py PURGE_MAX_PATHS).
 * Plain permalinks ("?p=1") put every page under "/?", so any change there is "/*".
 * The filter wplambda_purge_paths($paths, $post) adds a site's own (a custom archive).
 *
 * Handoff (wp_lambda/runtime/purge.py): on a web request, the private response header
 * X-Wplambda-Purge (space-separated, replaced as the list grows; the runtime removes it from the
 * response and sends one invalidation); under the PHP CLI, one path per line appended to the file
 * named in WPLAMBDA_PURGE_FILE, which the runtime made for this command and reads after it.
 */

if (!defined('ABSPATH')) {
    exit;
}

/** Whether purging applies: pages are cached ([cache] pages, as the page cache mu-plugin reads it). */
function wplambda_purge_enabled(): bool
{
    return (string) getenv('WPLAMBDA_PAGE_CACHE') !== '';
}

/** The path of a URL WordPress made, as CloudFront matches it: bytes outside visible ASCII encoded. */
function wplambda_purge_path(string $url): ?string
{
    $path = wp_parse_url($url, PHP_URL_PATH);
    if (!is_string($path) || $path === '') {
        $path = '/';
    }
    $path = preg_replace_callback('/[^\x21-\x7e]/', static fn(array $m): string => rawurlencode($m[0]), $path);
    return str_starts_with($path, '/') ? $path : null;
}

/** A term's archive (with its pages and feed) when its taxonomy has public archives, else null. */
function wplambda_purge_term_path(WP_Term $term): ?string
{
    $taxonomy = get_taxonomy($term->taxonomy);
    if (!$taxonomy || !$taxonomy->public || !$taxonomy->publicly_queryable) {
        return null;
    }
    $link = get_term_link($term);
    $path = is_string($link) ? wplambda_purge_path($link) : null;
    return $path === null ? null : $path . '*';
}

/** The archives of $post's public terms (categories, tags, a public custom taxonomy). */
function wplambda_purge_term_paths(WP_Post $post): array
{
    $paths = [];
    foreach (get_object_taxonomies($post) as $taxonomy) {
        $terms = get_the_terms($post, $taxonomy);
        foreach (is_array($terms) ? $terms : [] as $term) {
            $paths[] = wplambda_purge_term_path($term);
        }
    }
    return array_values(array_filter($paths));
}

/** What a change to $post affects, while it is (or was) public. */
function wplambda_purge_post_paths(WP_Post $post): array
{
    if (get_option('permalink_structure') === '') {
        return ['/*'];
    }
    $home = wplambda_purge_path(home_url('/')) ?? '/';
    $paths = [];
    $permalink = wplambda_purge_path((string) get_permalink($post));
    if ($permalink !== null && $permalink !== $home) {
        $paths[] = $permalink . '*';
    }
    $paths[] = $home;
    if ($post->post_type === 'post') {
        $posts_page = (int) get_option('page_for_posts');
        if (get_option('show_on_front') === 'page' && $posts_page) {
            $paths[] = wplambda_purge_path((string) get_permalink($posts_page)) . '*';
        } else {
            $paths[] = $home . 'page/*';
        }
        $paths[] = wplambda_purge_path(get_feed_link()) . '*';
        if (get_userdata((int) $post->post_author)) {  // wp-cli's posts may have no author (0)
            $paths[] = wplambda_purge_path(get_author_posts_url((int) $post->post_author)) . '*';
        }
        $paths[] = wplambda_purge_path(get_year_link((int) get_post_time('Y', false, $post))) . '*';
    }
    $paths = array_merge($paths, wplambda_purge_term_paths($post));
    $paths[] = $home . 'wp-sitemap*';
    $paths[] = wplambda_purge_path(rest_url()) . '*';
    return (array) apply_filters('wplambda_purge_paths', $paths, $post);
}

/** What a change to an approved comment affects: its post's page, the comment feeds, the REST API. */
function wplambda_purge_comment_paths(WP_Comment $comment): array
{
    $post = get_post((int) $comment->comment_post_ID);
    if (!$post instanceof WP_Post || $post->post_status !== 'publish') {
        return [];
    }
    if (get_option('permalink_structure') === '') {
        return ['/*'];
    }
    $home = wplambda_purge_path(home_url('/')) ?? '/';
    $paths = [];
    $permalink = wplambda_purge_path((string) get_permalink($post));
    if ($permalink !== null) {
        $paths[] = $permalink === $home ? $home : $permalink . '*';
    }
    $paths[] = wplambda_purge_path(get_feed_link('comments_' . get_default_feed())) . '*';
    $paths[] = wplambda_purge_path(rest_url()) . '*';
    return (array) apply_filters('wplambda_purge_paths', $paths, $post);
}

/** Add $paths to this request's purge, and hand the list over (see the file's comment). */
function wplambda_purge(array $paths): void
{
    static $all = [];
    $new = array_values(array_diff(array_unique(array_filter($paths, 'is_string')), $all));
    if (!$new) {
        return;
    }
    $all = array_merge($all, $new);
    if (PHP_SAPI === 'cli') {
        $file = (string) getenv('WPLAMBDA_PURGE_FILE');
        if ($file !== '') {
            file_put_contents($file, implode("\n", $new) . "\n", FILE_APPEND | LOCK_EX);
        }
        return;
    }
    if (headers_sent()) {
        error_log('wplambda purge: the headers were already sent; ' . count($new) . ' paths expire at cache.ttl');
        return;
    }
    header('X-Wplambda-Purge: ' . implode(' ', $all));
}

/** Whether a change to $post can show on a public page: a viewable type, not a revision or autosave. */
function wplambda_purge_concerns(WP_Post $post): bool
{
    return !wp_is_post_revision($post) && !wp_is_post_autosave($post) && is_post_type_viewable($post->post_type);
}

/**
 * The paths of posts as they were before this request changed them (their old slug, the terms they
 * left); collected just before WordPress writes, purged with the new ones when the status changes.
 */
function wplambda_purge_before(?int $post_id = null): array
{
    static $before = [];
    if ($post_id === null) {
        return $before;
    }
    // The first look wins: trashing renames the slug (__trashed) before WordPress's own pre_post_update.
    $post = isset($before[$post_id]) ? null : get_post($post_id);
    if ($post instanceof WP_Post && $post->post_status === 'publish' && wplambda_purge_concerns($post)) {
        $before[$post_id] = wplambda_purge_post_paths($post);
    }
    return $before;
}

if (wplambda_purge_enabled()) {
    add_action('pre_post_update', static function (int $post_id): void {
        wplambda_purge_before($post_id);
    });
    add_action('wp_trash_post', static function (int $post_id): void {
        wplambda_purge_before($post_id);
    });
    // Published, updated while published, unpublished or trashed: a change either side of "publish".
    add_action('transition_post_status', static function (string $new, string $old, WP_Post $post): void {
        if (($new !== 'publish' && $old !== 'publish') || !wplambda_purge_concerns($post)) {
            return;
        }
        // Leaving "publish" (a trashed post's slug now ends in __trashed): the URLs it had are what changed.
        $before = wplambda_purge_before()[$post->ID] ?? [];
        wplambda_purge($new === 'publish' || !$before ? array_merge($before, wplambda_purge_post_paths($post)) : $before);
    }, 10, 3);
    // Deleted while still published (wp post delete --force): no status transition says so.
    add_action('before_delete_post', static function (int $post_id, WP_Post $post): void {
        if ($post->post_status === 'publish' && wplambda_purge_concerns($post)) {
            wplambda_purge(wplambda_purge_post_paths($post));
        }
    }, 10, 2);
    // A published post's terms changed: the REST API and wp-cli set them after the status changed.
    add_action('set_object_terms', static function (int $object_id, array $terms, array $tt_ids, string $taxonomy,
                                                    bool $append, array $old_tt_ids): void {
        $post = get_post($object_id);
        $changed = array_merge(array_diff($tt_ids, $old_tt_ids), array_diff($old_tt_ids, $tt_ids));
        if (!$changed || !$post instanceof WP_Post || $post->post_status !== 'publish' || !wplambda_purge_concerns($post)) {
            return;
        }
        $paths = [];
        foreach ($changed as $tt_id) {
            $term = get_term_by('term_taxonomy_id', (int) $tt_id, $taxonomy);
            $paths[] = $term instanceof WP_Term ? wplambda_purge_term_path($term) : null;
        }
        wplambda_purge(array_filter($paths));
    }, 10, 6);
    add_action('transition_comment_status', static function (string $new, string $old, WP_Comment $comment): void {
        if ($new === 'approved' || $old === 'approved') {
            wplambda_purge(wplambda_purge_comment_paths($comment));
        }
    }, 10, 3);
    // A new comment purges only when a moderator wrote it. With WordPress's defaults a returning
    // commenter's comment is approved at once, so anyone (rotating addresses past the flood check)
    // could otherwise send a billed invalidation per comment; the post's page then shows it at
    // cache.ttl, and its author meanwhile bypasses the cache with the comment_author cookie.
    add_action('comment_post', static function (int $comment_id, $approved): void {
        $comment = get_comment($comment_id);
        if ((string) $approved === '1' && $comment instanceof WP_Comment && current_user_can('moderate_comments')) {
            wplambda_purge(wplambda_purge_comment_paths($comment));
        }
    }, 10, 2);
    add_action('edit_comment', static function (int $comment_id): void {
        $comment = get_comment($comment_id);
        if ($comment instanceof WP_Comment && $comment->comment_approved === '1') {
            wplambda_purge(wplambda_purge_comment_paths($comment));
        }
    });
}
