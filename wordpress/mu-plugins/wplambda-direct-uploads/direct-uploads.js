/**
 * wplambda direct uploads: files over the Lambda-sized limit go from the browser to the bucket.
 *
 * Two doors lead to WordPress's uploads, and both are covered:
 * - plupload (the media library grid and modal through wp.Uploader, "Add New Media File" through
 *   handlers.js): every Uploader is created through plupload.Uploader, which is wrapped here so
 *   a big file is held at BeforeUpload until its presigned POST arrives, is then sent to the
 *   bucket by plupload itself (progress bars keep working), and is registered by "complete"
 *   before WordPress's own FileUploaded handlers see the answer they expect;
 * - the block editor (wp.apiFetch POST /wp/v2/media): a middleware does the same three steps and
 *   answers with the attachment as the REST API returns it.
 * Files under the threshold pass through untouched.
 */
( function () {
	'use strict';
	var config = window.wplambdaDirectUploads;
	if ( ! config || ! window.fetch ) {
		return;
	}

	function isBig( size ) {
		return size > config.threshold;
	}

	/** POST JSON to one of the kit's REST routes; rejects with the server's message. */
	function callRoute( url, data ) {
		return window.fetch( url, {
			method: 'POST',
			credentials: 'same-origin',
			headers: { 'Content-Type': 'application/json', 'X-WP-Nonce': config.nonce },
			body: JSON.stringify( data )
		} ).then( function ( response ) {
			return response.json().catch( function () { return {}; } ).then( function ( body ) {
				if ( ! response.ok ) {
					var error = new Error( ( body && body.message ) || ( 'HTTP ' + response.status ) );
					error.status = response.status;
					error.code = body && body.code;
					throw error;
				}
				return body;
			} );
		} );
	}

	function presign( file ) {
		return callRoute( config.presignUrl, { filename: file.name, type: file.type, size: file.size } );
	}

	function complete( key, post ) {
		return callRoute( config.completeUrl, { key: key, post: post ? parseInt( post, 10 ) || 0 : 0 } );
	}

	/** The presigned form POST itself, for the block editor (plupload sends its own). */
	function postToBucket( target, file ) {
		var form = new window.FormData();
		Object.keys( target.fields ).forEach( function ( name ) {
			form.append( name, target.fields[ name ] );
		} );
		form.append( 'file', file ); // S3 reads the fields before the file: it must come last
		return window.fetch( target.url, { method: 'POST', body: form } ).then( function ( response ) {
			if ( ! response.ok ) {
				throw new Error( 'the uploads bucket refused the file (HTTP ' + response.status + ')' );
			}
		} );
	}

	/* ---- plupload ---- */

	var SWAPPED = [ 'url', 'multipart_params', 'file_data_name', 'send_file_name' ];

	function attach( uploader ) {
		var saved = null; // the uploader's own settings while a big file goes to the bucket

		function restore() {
			if ( saved ) {
				SWAPPED.forEach( function ( name ) { uploader.settings[ name ] = saved[ name ]; } );
				saved = null;
			}
		}

		function fail( file, error ) {
			restore();
			uploader.trigger( 'Error', {
				code: window.plupload.HTTP_ERROR,
				message: error.message,
				file: file,
				status: error.status || 400,
				response: error.message
			} );
		}

		uploader.bind( 'BeforeUpload', function ( up, file ) {
			if ( ! isBig( file.size ) || file.wplambda ) {
				return true;
			}
			var params = up.settings.multipart_params || {};
			file.wplambda = { post: params.post_id, answer: params.action === 'upload-attachment' ? 'json' : 'id' };
			presign( file ).then( function ( target ) {
				if ( file.status !== window.plupload.QUEUED ) {
					return; // removed or cancelled meanwhile
				}
				file.wplambda.key = target.key;
				saved = {};
				SWAPPED.forEach( function ( name ) { saved[ name ] = up.settings[ name ]; } );
				up.settings.url = target.url;
				up.settings.multipart_params = target.fields;
				up.settings.file_data_name = 'file';
				up.settings.send_file_name = false; // a field the policy does not name would be refused
				file.status = window.plupload.UPLOADING;
				up.trigger( 'UploadFile', file );
			} ).catch( function ( error ) {
				fail( file, error );
			} );
			return false; // held until the policy arrives
		}, null, -10 );

		uploader.bind( 'FileUploaded', function ( up, file ) {
			if ( ! file.wplambda || file.wplambda.done ) {
				return true;
			}
			restore();
			complete( file.wplambda.key, file.wplambda.post ).then( function ( created ) {
				file.wplambda.done = true;
				var response = file.wplambda.answer === 'json'
					? JSON.stringify( { success: true, data: created.attachment } )
					: String( created.id );
				up.trigger( 'FileUploaded', file, { response: response, status: 200, responseHeaders: '' } );
			} ).catch( function ( error ) {
				file.status = window.plupload.FAILED;
				fail( file, error );
			} );
			return false; // WordPress's handlers see the attachment, not the bucket's empty answer
		}, null, 100 );

		uploader.bind( 'Error', function ( up, error ) {
			if ( error.file && error.file.wplambda ) {
				restore();
			}
		}, null, 100 );
	}

	if ( window.plupload && window.plupload.Uploader ) {
		var Original = window.plupload.Uploader;
		var Wrapped = function ( settings ) {
			var uploader = new Original( settings );
			attach( uploader );
			return uploader;
		};
		Wrapped.prototype = Original.prototype;
		window.plupload.Uploader = Wrapped;
	}

	/* ---- the block editor ---- */

	if ( window.wp && window.wp.apiFetch ) {
		window.wp.apiFetch.use( function ( options, next ) {
			var body = options.body;
			var isMediaPost = ( options.method || '' ).toUpperCase() === 'POST' &&
				/^\/wp\/v2\/media\/?(\?|$)/.test( options.path || '' ) && body instanceof window.FormData;
			var file = isMediaPost ? body.get( 'file' ) : null;
			if ( ! file || ! isBig( file.size ) ) {
				return next( options );
			}
			var target;
			return presign( file ).then( function ( answer ) {
				target = answer;
				return postToBucket( target, file );
			} ).then( function () {
				return complete( target.key, body.get( 'post' ) );
			} ).then( function ( created ) {
				return created.media;
			} );
		} );
	}
}() );
