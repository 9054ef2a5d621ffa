<?php
/**
 * Plugin Name: wplambda S3 Uploads loader
 * Description: Loads S3 Uploads (installed by `wplambda build` into vendor/) when wp-config.php configured its bucket.
 *
 * Lambda's code tree is read-only, so uploads must go to S3. S3 Uploads is a Composer package
 * kept in vendor/ rather than wp-content/plugins/, so nobody can deactivate it from wp-admin;
 * without a bucket (under `wplambda serve`) WordPress keeps uploads on the local disk.
 *
 * S3 Uploads has no setting for an S3-compatible endpoint (what `wplambda serve --s3-endpoint`
 * points it at); its client-parameters filter is the documented way in. Path-style addressing,
 * because a local endpoint has no per-bucket host names.
 */

$wplambda_s3_uploads = ABSPATH . 'vendor/humanmade/s3-uploads/s3-uploads.php';
if ( defined( 'S3_UPLOADS_BUCKET' ) && file_exists( $wplambda_s3_uploads ) ) {
	if ( defined( 'S3_UPLOADS_ENDPOINT' ) ) {
		add_filter( 's3_uploads_s3_client_params', static function ( array $params ): array {
			$params['endpoint'] = S3_UPLOADS_ENDPOINT;
			$params['use_path_style_endpoint'] = true;
			return $params;
		} );
	}
	require_once $wplambda_s3_uploads;
}
unset( $wplambda_s3_uploads );
