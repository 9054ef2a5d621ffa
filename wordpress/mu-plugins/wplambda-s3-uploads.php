<?php
/**
 * Plugin Name: wplambda S3 Uploads loader
 * Description: Loads S3 Uploads (installed by `wplambda build` into vendor/) when wp-config.php configured its bucket.
 *
 * Lambda's code tree is read-only, so uploads must go to S3. S3 Uploads is a Composer package
 * kept in vendor/ rather than wp-content/plugins/, so nobody can deactivate it from wp-admin;
 * without a bucket (under `wplambda serve`) WordPress keeps uploads on the local disk.
 */

$wplambda_s3_uploads = ABSPATH . 'vendor/humanmade/s3-uploads/s3-uploads.php';
if ( defined( 'S3_UPLOADS_BUCKET' ) && file_exists( $wplambda_s3_uploads ) ) {
	require_once $wplambda_s3_uploads;
}
unset( $wplambda_s3_uploads );
