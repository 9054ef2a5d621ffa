<?php
/**
 * Plugin Name: wplambda mail
 * Description: wp_mail() through Amazon SES on Lambda, and into a local mailbox under `wplambda serve`.
 *
 * Lambda has no sendmail, so WordPress's default transport (PHP's mail()) fails every message.
 * This plugin replaces only the last step: WordPress's PHPMailer still builds the whole MIME
 * message (HTML, attachments, Reply-To, Cc, custom headers, every wp_mail filter), then the raw
 * message goes to SES's SendRawEmail through the AWS SDK for PHP that S3 Uploads brings into
 * vendor/ (every deploy build carries it), signed with the function's own role. Under serve
 * (WPLAMBDA_MAIL = "local") nothing leaves the machine: each message is written as an .eml file
 * into WPLAMBDA_MAIL_DIR, 0600, by rename so a reader never sees half a message.
 *
 * How: wp_mail() keeps a PHPMailer it finds in the global $phpmailer, so pre_wp_mail (the first
 * thing wp_mail() runs) puts an instance of the subclass below there (deployed, only in place of
 * WordPress's own PHPMailer: another plugin's subclass is its transport). WordPress then selects
 * PHP's mail() (isMail()) and fires phpmailer_init; when no plugin chose another transport
 * (deployed, an SMTP plugin still wins; under serve nothing does), the Mailer becomes "wplambda"
 * and PHPMailer calls wplambdaSend() with the finished header and body. Not being "mail", the header carries To and Subject and no Bcc:
 * Bcc recipients are only in the envelope (SES's Destinations), never in what recipients read.
 *
 * A failure throws PHPMailer's exception with SES's reason: wp_mail() returns false and fires
 * wp_mail_failed with it. One log line says what failed, with recipients masked (j***@example.com)
 * and never the message's subject or body.
 *
 * The variables (set by the template, or by serve; wp_lambda/function_env.py):
 *   WPLAMBDA_MAIL            "ses", "local", or empty (off: WordPress's own transport)
 *   WPLAMBDA_MAIL_FROM       the From address (mail.from); empty keeps WordPress's own
 *   WPLAMBDA_MAIL_FROM_NAME  the From name (mail.from_name); empty keeps WordPress's own
 *   WPLAMBDA_MAIL_REGION     SES's region (mail.region)
 *   WPLAMBDA_MAIL_DIR        serve's mailbox directory
 */

if (!defined('ABSPATH')) {
    exit;
}

/** The transport the kit was told to use, or '' when WordPress keeps its own. */
function wplambda_mail_mode(): string
{
    $mode = (string) getenv('WPLAMBDA_MAIL');
    return in_array($mode, ['ses', 'local'], true) ? $mode : '';
}

/** An address as a log line may show it: the first letter of the local part, and the domain. */
function wplambda_mail_mask(string $address): string
{
    $at = strrpos($address, '@');
    if ($at === false || $at === 0) {
        return '***';
    }
    return substr($address, 0, 1) . '***' . substr($address, $at);
}

/** A text with every e-mail address in it masked (SES names unverified addresses in its reasons). */
function wplambda_mail_mask_all(string $text): string
{
    return (string) preg_replace_callback('/[^\s<>"\'(),;:]+@[A-Za-z0-9.-]+/', static function (array $m): string {
        return wplambda_mail_mask($m[0]);
    }, $text);
}

if (wplambda_mail_mode() !== '') {
    $wplambda_mail_from = (string) getenv('WPLAMBDA_MAIL_FROM');
    if ($wplambda_mail_from !== '') {
        // Late, so the address IAM allows (its ses:FromAddress condition) is the one sent.
        add_filter('wp_mail_from', static function () use ($wplambda_mail_from): string {
            return $wplambda_mail_from;
        }, PHP_INT_MAX);
    }
    $wplambda_mail_from_name = (string) getenv('WPLAMBDA_MAIL_FROM_NAME');
    if ($wplambda_mail_from_name !== '') {
        add_filter('wp_mail_from_name', static function () use ($wplambda_mail_from_name): string {
            return $wplambda_mail_from_name;
        }, PHP_INT_MAX);
    }
    unset($wplambda_mail_from, $wplambda_mail_from_name);

    add_filter('pre_wp_mail', static function ($short_circuit) {
        global $phpmailer;
        // Deployed, a PHPMailer subclass another plugin put there is its own transport and stays
        // (only WordPress's plain PHPMailer, or none, is replaced). Under serve local delivery
        // wins over any plugin's mailer: nothing may leave the machine.
        $replace = !isset($phpmailer) || get_class($phpmailer) === PHPMailer\PHPMailer\PHPMailer::class
            || wplambda_mail_mode() === 'local';
        if ($short_circuit === null && $replace && !($phpmailer instanceof WplambdaMailer)) {
            require_once ABSPATH . WPINC . '/PHPMailer/PHPMailer.php';
            require_once ABSPATH . WPINC . '/PHPMailer/SMTP.php';
            require_once ABSPATH . WPINC . '/PHPMailer/Exception.php';
            require_once __DIR__ . '/wplambda-mail/mailer.php';
            $phpmailer = new WplambdaMailer(true);
            // As wp_mail() sets it when it makes its own.
            $phpmailer::$validator = static function ($email) {
                return (bool) is_email($email);
            };
        }
        return $short_circuit;
    }, PHP_INT_MAX);

    add_action('phpmailer_init', static function ($mailer): void {
        if (!($mailer instanceof WplambdaMailer)) {
            return;
        }
        // Deployed, a plugin that chose SMTP (or another transport) keeps it. Under serve the
        // kit's transport is forced whatever a plugin chose: an SMTP plugin's settings (from an
        // imported production database, say) would otherwise send real mail from the machine.
        if ($mailer->Mailer === 'mail' || wplambda_mail_mode() === 'local') {
            $mailer->Mailer = 'wplambda';
        }
        // A plugin's setFrom() here would change the From, and so SES's Source, to an address
        // IAM refuses (ses:FromAddress): the configured address is set again, last.
        $from = (string) getenv('WPLAMBDA_MAIL_FROM');
        if ($from !== '' && $mailer->From !== $from) {
            $mailer->setFrom($from, $mailer->FromName, false);
        }
    }, PHP_INT_MAX);
}
