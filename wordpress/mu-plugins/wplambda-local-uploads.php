<?php
/**
 * Plugin Name: wplambda local uploads
 * Description: Under `wplambda serve`, keeps uploads outside the (rebuilt) code tree.
 *
 * The function tree is rebuilt from scratch, and on Lambda it is read-only, so uploads never
 * belong in it. When WPLAMBDA_UPLOADS_DIR is set (only `wplambda serve` sets it) and S3 Uploads
 * is not active, files go to that directory and keep their usual /wp-content/uploads/ URLs,
 * which the local gateway serves from there as the uploads bucket would.
 */

$wplambda_uploads_dir = getenv('WPLAMBDA_UPLOADS_DIR');
if ($wplambda_uploads_dir !== false && $wplambda_uploads_dir !== '' && !defined('S3_UPLOADS_BUCKET')) {
    add_filter('upload_dir', static function (array $dirs) use ($wplambda_uploads_dir): array {
        $base = rtrim($wplambda_uploads_dir, '/');
        $url = content_url('uploads');
        $dirs['path'] = $base . $dirs['subdir'];
        $dirs['basedir'] = $base;
        $dirs['url'] = $url . $dirs['subdir'];
        $dirs['baseurl'] = $url;
        return $dirs;
    });
}
