<?php
/**
 * Plugin Name: wplambda direct uploads
 * Description: Files too big for a Lambda request go from the browser straight to the uploads bucket.
 *
 * A Lambda invocation carries at most 6 MB, and API Gateway hands the function a multipart body
 * base64-encoded (4/3 of its size), so php.ini caps uploads at 4 MB. Files over that cap (the
 * media library, "Add New Media File", the block editor) are POSTed by the browser to the bucket
 * with a presigned POST policy issued here, then registered here as attachments exactly as
 * WordPress registers a file it received itself (metadata, image sizes). Files under the cap keep
 * WordPress's own path, so nothing changes for them.
 *
 * The policy binds one key (under the uploads prefix, this month's folder, a name WordPress made
 * unique), one Content-Type and the declared size, and expires after 15 minutes. Only a user who
 * may upload_files gets one (REST routes: logged-in cookie plus the wp_rest nonce). The key is
 * remembered for that user for a day (an upload started in time may take long), and "complete"
 * accepts only a key it issued to them, once.
 *
 * Active only with S3 Uploads (its SDK client signs the policy); without a bucket nothing here runs.
 */

namespace WPLambda\DirectUploads;

use WP_Error;
use WP_REST_Request;
use WP_REST_Response;

const ROUTE_NAMESPACE = 'wplambda/v1';
const POLICY_LIFETIME = 900; // seconds a presigned POST may start an upload
const ISSUED_LIFETIME = DAY_IN_SECONDS; // how long "complete" accepts its key: a big upload may outlast the policy
const ISSUED_PREFIX = 'wplambda_upload_'; // transient per issued key: who may complete it
const MULTIPART_SLACK = 65536; // the form fields around a file in WordPress's own upload request
const SNIFF_BYTES = 262144; // enough of a file for WordPress to check that its content matches its name

function active(): bool {
	return defined( 'S3_UPLOADS_BUCKET' ) && class_exists( 'S3_Uploads\\Plugin' );
}

/** The largest file WordPress's own upload request can carry (php.ini), less the form around it. */
function threshold(): int {
	$limit = min( wp_convert_hr_to_bytes( ini_get( 'upload_max_filesize' ) ), wp_convert_hr_to_bytes( ini_get( 'post_max_size' ) ) );
	return max( 0, $limit - MULTIPART_SLACK );
}

/** uploads.max_size from wplambda.toml (wp-config.php defines it in bytes). */
function max_size(): int {
	return defined( 'WPLAMBDA_UPLOADS_MAX_SIZE' ) ? (int) WPLAMBDA_UPLOADS_MAX_SIZE : 512 * MB_IN_BYTES;
}

/** The bucket name and the key prefix of the uploads folder ("wp-content/uploads"). */
function bucket_and_prefix(): array {
	$plugin = \S3_Uploads\Plugin::get_instance();
	$bucket = $plugin->get_s3_bucket();
	$basedir = wp_upload_dir( null, false )['basedir'];
	$prefix = ltrim( substr( $basedir, strlen( 's3://' . $bucket ) ), '/' );
	return [ $bucket, $prefix ];
}

function issued_transient( string $key ): string {
	return ISSUED_PREFIX . md5( $key );
}

function refuse( string $code, string $message, int $status ): WP_Error {
	return new WP_Error( $code, $message, [ 'status' => $status ] );
}

function can_upload(): bool {
	return current_user_can( 'upload_files' );
}

add_filter( 'upload_size_limit', static function ( $limit ) {
	return active() ? max( (int) $limit, max_size() ) : $limit;
} );

add_action( 'rest_api_init', static function (): void {
	if ( ! active() ) {
		return;
	}
	register_rest_route( ROUTE_NAMESPACE, '/uploads', [
		'methods' => 'POST',
		'callback' => __NAMESPACE__ . '\\presign',
		'permission_callback' => __NAMESPACE__ . '\\can_upload',
		'args' => [
			'filename' => [ 'type' => 'string', 'required' => true ],
			'type' => [ 'type' => 'string', 'required' => true ],
			'size' => [ 'type' => 'integer', 'required' => true, 'minimum' => 1 ],
		],
	] );
	register_rest_route( ROUTE_NAMESPACE, '/uploads/complete', [
		'methods' => 'POST',
		'callback' => __NAMESPACE__ . '\\complete',
		'permission_callback' => __NAMESPACE__ . '\\can_upload',
		'args' => [
			'key' => [ 'type' => 'string', 'required' => true ],
			'post' => [ 'type' => 'integer', 'default' => 0, 'minimum' => 0 ],
		],
	] );
} );

/**
 * A presigned POST for one new file: the key is chosen here, never by the browser.
 *
 * @return WP_REST_Response|WP_Error
 */
function presign( WP_REST_Request $request ) {
	$filename = (string) $request['filename'];
	$type = (string) $request['type'];
	$size = (int) $request['size'];
	if ( $filename === '' || $filename !== wp_basename( $filename ) || strpos( $filename, '..' ) !== false
		|| strpbrk( $filename, "/\\\0" ) !== false ) {
		return refuse( 'wplambda_bad_filename', 'filename must be a plain file name, without folders or ".."', 400 );
	}
	if ( $size > max_size() ) {
		return refuse( 'wplambda_too_big', sprintf( 'the file is %d bytes; uploads.max_size allows %d', $size, max_size() ), 413 );
	}
	$name = sanitize_file_name( $filename );
	$check = wp_check_filetype( $name, get_allowed_mime_types() );
	if ( ! $check['type'] ) {
		return refuse( 'wplambda_bad_type', 'this file type is not allowed', 400 );
	}
	if ( $check['type'] !== $type ) {
		return refuse( 'wplambda_bad_type', sprintf( 'a %s file must be sent as %s, not %s', $check['ext'], $check['type'], $type ), 400 );
	}
	$dirs = wp_upload_dir();
	if ( ! empty( $dirs['error'] ) ) {
		return refuse( 'wplambda_upload_dir', $dirs['error'], 500 );
	}
	list( $bucket, $prefix ) = bucket_and_prefix();
	$unique = wp_unique_filename( $dirs['path'], $name );
	$key = $prefix . $dirs['subdir'] . '/' . $unique;
	if ( get_transient( issued_transient( $key ) ) !== false ) { // issued to someone a moment ago, not uploaded yet
		$unique = wp_unique_filename( $dirs['path'], wp_generate_password( 6, false ) . '-' . $name );
		$key = $prefix . $dirs['subdir'] . '/' . $unique;
	}
	$inputs = [ 'key' => $key, 'Content-Type' => $type ];
	$conditions = [
		[ 'bucket' => $bucket ],
		[ 'eq', '$key', $key ],
		[ 'eq', '$Content-Type', $type ],
		[ 'content-length-range', $size, $size ],
	];
	$post = new \Aws\S3\PostObjectV4( \S3_Uploads\Plugin::get_instance()->s3(), $bucket, $inputs, $conditions, '+' . POLICY_LIFETIME . ' seconds' );
	set_transient( issued_transient( $key ), [ 'user' => get_current_user_id(), 'type' => $type, 'name' => $unique ], ISSUED_LIFETIME );
	return new WP_REST_Response( [
		'url' => $post->getFormAttributes()['action'],
		'fields' => $post->getFormInputs(),
		'key' => $key,
		'expires_in' => POLICY_LIFETIME,
	], 201 );
}

/**
 * Register an object the browser uploaded with a policy from presign() as an attachment.
 *
 * @return WP_REST_Response|WP_Error
 */
function complete( WP_REST_Request $request ) {
	require_once ABSPATH . 'wp-admin/includes/file.php'; // what a REST request has not loaded: wp_tempnam()
	require_once ABSPATH . 'wp-admin/includes/image.php'; // wp_generate_attachment_metadata()
	require_once ABSPATH . 'wp-admin/includes/media.php';
	$key = (string) $request['key'];
	$issued = get_transient( issued_transient( $key ) );
	if ( ! is_array( $issued ) || (int) $issued['user'] !== get_current_user_id() ) {
		return refuse( 'wplambda_key_not_issued', 'this key was not issued to you for an upload, or was used already', 403 );
	}
	list( $bucket, ) = bucket_and_prefix();
	$s3 = \S3_Uploads\Plugin::get_instance()->s3();
	try {
		$head = $s3->headObject( [ 'Bucket' => $bucket, 'Key' => $key ] );
	} catch ( \Aws\S3\Exception\S3Exception $e ) {
		return refuse( 'wplambda_not_uploaded', 'nothing was uploaded under this key yet', 409 );
	}
	delete_transient( issued_transient( $key ) ); // one attachment per issued key
	$file = 's3://' . $bucket . '/' . $key;
	$problem = null;
	if ( (int) $head['ContentLength'] > max_size() ) {
		$problem = refuse( 'wplambda_too_big', 'the uploaded object is larger than uploads.max_size', 413 );
	} elseif ( (string) $head['ContentType'] !== $issued['type'] ) {
		$problem = refuse( 'wplambda_bad_type', 'the uploaded object does not have the Content-Type it was issued for', 400 );
	} else {
		$problem = check_content( $s3, $bucket, $key, $issued['name'], $issued['type'] );
	}
	if ( $problem ) {
		$s3->deleteObject( [ 'Bucket' => $bucket, 'Key' => $key ] );
		return $problem;
	}
	$id = insert_attachment( $file, $issued['name'], $issued['type'], (int) $request['post'] );
	if ( is_wp_error( $id ) ) {
		return $id;
	}
	$rest = rest_do_request( new WP_REST_Request( 'GET', '/wp/v2/media/' . $id ) );
	$rest_data = rest_get_server()->response_to_data( $rest, false );
	return new WP_REST_Response( [ 'id' => $id, 'attachment' => wp_prepare_attachment_for_js( $id ), 'media' => $rest_data ], 201 );
}

/**
 * WordPress's own check that a file's content matches its name (images by their header), run
 * on the object's first bytes: the same refusal the normal upload path gives.
 */
function check_content( $s3, string $bucket, string $key, string $name, string $type ): ?WP_Error {
	$temp = wp_tempnam( $name );
	$ext = pathinfo( $name, PATHINFO_EXTENSION );
	$sample = $temp . '.' . $ext;
	rename( $temp, $sample );
	try {
		$object = $s3->getObject( [ 'Bucket' => $bucket, 'Key' => $key, 'Range' => 'bytes=0-' . ( SNIFF_BYTES - 1 ) ] );
		file_put_contents( $sample, (string) $object['Body'] );
		$check = wp_check_filetype_and_ext( $sample, $name );
	} finally {
		@unlink( $sample );
	}
	if ( ! $check['type'] || $check['type'] !== $type || ! empty( $check['proper_filename'] ) ) {
		return refuse( 'wplambda_content_mismatch', 'the file\'s content does not match its name or type', 400 );
	}
	return null;
}

/** What media_handle_upload() does once the file is in place: the post, then metadata and sizes. */
function insert_attachment( string $file, string $name, string $type, int $parent ) {
	if ( $parent && ! current_user_can( 'edit_post', $parent ) ) {
		$parent = 0;
	}
	$url = wp_upload_dir()['url'] . '/' . $name;
	$title = sanitize_text_field( pathinfo( $name, PATHINFO_FILENAME ) );
	$excerpt = '';
	if ( 0 === strpos( $type, 'image/' ) ) {
		$meta = wp_read_image_metadata( $file );
		if ( $meta && trim( $meta['title'] ) !== '' && ! is_numeric( sanitize_title( $meta['title'] ) ) ) {
			$title = $meta['title'];
		}
		if ( $meta && trim( $meta['caption'] ) !== '' ) {
			$excerpt = $meta['caption'];
		}
	}
	$id = wp_insert_attachment( [
		'guid' => $url,
		'post_mime_type' => $type,
		'post_title' => $title,
		'post_content' => '',
		'post_excerpt' => $excerpt,
	], $file, $parent, true );
	if ( is_wp_error( $id ) ) {
		return $id;
	}
	wp_update_attachment_metadata( $id, wp_generate_attachment_metadata( $id, media_source( $file, $name, $type ) ) );
	return $id;
}

/**
 * Where WordPress reads the file's metadata from. Audio and video are read by getID3, which
 * reopens and seeks the file many times: through S3 Uploads' stream wrapper each open fetches the
 * whole object again (a 50 MB video took 15 GETs). So they are fetched once to a temp file, which
 * is removed when the request ends. Images stay on s3://, since their sizes are written next to
 * the file WordPress is given.
 */
function media_source( string $file, string $name, string $type ): string {
	if ( ! preg_match( '#^(audio|video)/#', $type ) || (float) @disk_free_space( get_temp_dir() ) < 1.1 * filesize( $file ) ) {
		return $file; // or too big for /tmp (function.ephemeral_storage): read in place, slowly
	}
	$local = wp_tempnam( $name );
	$location = \S3_Uploads\Plugin::get_instance()->get_s3_location_for_path( $file );
	\S3_Uploads\Plugin::get_instance()->s3()->getObject( [ 'Bucket' => $location['bucket'], 'Key' => $location['key'], 'SaveAs' => $local ] );
	register_shutdown_function( static function () use ( $local ): void {
		@unlink( $local );
	} );
	return $local;
}

add_action( 'admin_enqueue_scripts', static function (): void {
	if ( ! active() || ! current_user_can( 'upload_files' ) ) {
		return;
	}
	// Versioned by content: static files linked with ?ver= are cached for a year (assets.versioned_max_age).
	$script = __DIR__ . '/wplambda-direct-uploads/direct-uploads.js';
	wp_enqueue_script( 'wplambda-direct-uploads', content_url( 'mu-plugins/wplambda-direct-uploads/direct-uploads.js' ),
		[ 'plupload', 'wp-api-fetch' ], substr( (string) md5_file( $script ), 0, 12 ), false );
	wp_localize_script( 'wplambda-direct-uploads', 'wplambdaDirectUploads', [
		'threshold' => threshold(),
		'maxSize' => max_size(),
		'presignUrl' => esc_url_raw( rest_url( ROUTE_NAMESPACE . '/uploads' ) ),
		'completeUrl' => esc_url_raw( rest_url( ROUTE_NAMESPACE . '/uploads/complete' ) ),
		'nonce' => wp_create_nonce( 'wp_rest' ),
	] );
} );
