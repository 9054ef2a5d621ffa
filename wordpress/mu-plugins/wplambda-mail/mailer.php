<?php
/**
 * The PHPMailer that hands WordPress's finished message to SES or to serve's mailbox
 * (loaded by ../wplambda-mail.php only when wp_mail() runs; see there for why and how).
 */

if (!defined('ABSPATH')) {
    exit;
}

class WplambdaMailer extends PHPMailer\PHPMailer\PHPMailer
{
    /**
     * PHPMailer's postSend() calls this for Mailer = "wplambda" with the finished header (To,
     * Subject, no Bcc) and body. Returns true, or throws PHPMailer's exception with the reason.
     */
    public function wplambdaSend(string $header, string $body): bool
    {
        // PHPMailer ends lines with PHP_EOL (a bare LF) for every Mailer but smtp and mail; a
        // message's lines end in CRLF (RFC 5322 section 2.1), and SendRawEmail takes the message as
        // it goes out: https://docs.aws.amazon.com/ses/latest/dg/send-email-raw.html
        $raw = (string) preg_replace("/\r\n|\r|\n/", "\r\n", rtrim($header) . "\n\n" . $body);
        $recipients = array_keys($this->getAllRecipientAddresses());
        if (wplambda_mail_mode() === 'local') {
            $this->keepLocally($raw, $recipients);
        } else {
            $this->sendThroughSes($raw, $recipients);
        }
        return true;
    }

    /**
     * Write the message into serve's mailbox: a temporary file (tempnam makes it 0600) renamed to
     * TIME-RANDOM.eml, so `wplambda mail list` never reads half a message. The envelope's
     * recipients go in a header of the local copy only, so Bcc is visible to the developer.
     */
    private function keepLocally(string $raw, array $recipients): void
    {
        $dir = (string) getenv('WPLAMBDA_MAIL_DIR');
        if ($dir === '' || !is_dir($dir)) {
            $this->fail('the local mailbox (WPLAMBDA_MAIL_DIR) is missing', $recipients);
        }
        $temp = tempnam($dir, '.incoming-');
        // tempnam() falls back to the system's temporary directory when $dir is not writable: a
        // message there would be outside the mailbox (and left behind), so that counts as failing.
        if ($temp !== false && dirname((string) realpath($temp)) !== realpath($dir)) {
            @unlink($temp);
            $temp = false;
        }
        $envelope = "X-Wplambda-Envelope-To: " . implode(', ', $recipients) . "\r\n";
        if ($temp === false || file_put_contents($temp, $envelope . $raw) === false) {
            if ($temp !== false) {
                @unlink($temp);
            }
            $this->fail('could not write to the local mailbox', $recipients);
        }
        chmod($temp, 0600);
        $name = sprintf('%s-%s.eml', gmdate('Ymd\THis\Z'), bin2hex(random_bytes(6)));
        if (!rename($temp, $dir . '/' . $name)) {
            @unlink($temp);
            $this->fail('could not write to the local mailbox', $recipients);
        }
    }

    /**
     * SendRawEmail with the function's role: the raw message as PHPMailer built it, the envelope's
     * recipients in Destinations (Bcc included) and the From address as Source.
     * https://docs.aws.amazon.com/ses/latest/APIReference/API_SendRawEmail.html
     * The endpoint is the SDK's for WPLAMBDA_MAIL_REGION; AWS_ENDPOINT_URL_SES (the SDK's own
     * variable) points it elsewhere, which the tests do to reach moto.
     */
    private function sendThroughSes(string $raw, array $recipients): void
    {
        // wp-config.php loads vendor/ with S3 Uploads (every deployed function has its bucket);
        // a run without the bucket still finds the SDK there.
        if (!class_exists(Aws\Ses\SesClient::class) && is_file(ABSPATH . 'vendor/autoload.php')) {
            require_once ABSPATH . 'vendor/autoload.php';
        }
        if (!class_exists(Aws\Ses\SesClient::class)) {
            $this->fail('the AWS SDK for PHP is not in this build (vendor/, installed with S3 Uploads)', $recipients);
        }
        $region = (string) getenv('WPLAMBDA_MAIL_REGION');
        try {
            // Short timeouts and one retry: the send runs inside the page request (a password reset,
            // a checkout), which must not hang on an unreachable endpoint for the SDK's defaults
            // (no timeout, three retries with back-off) until Lambda kills the whole request.
            // https://docs.aws.amazon.com/sdk-for-php/v3/developer-guide/guide_configuration.html
            $client = new Aws\Ses\SesClient(['version' => '2010-12-01',
                                             'region' => $region !== '' ? $region : (string) getenv('AWS_REGION'),
                                             'http' => ['connect_timeout' => 2, 'timeout' => 5],
                                             'retries' => 1]);
            $client->sendRawEmail([
                'Source' => $this->From,
                'Destinations' => $recipients,
                'RawMessage' => ['Data' => $raw],
            ]);
        } catch (Aws\Exception\AwsException $e) {
            $reason = trim(($e->getAwsErrorCode() ?? 'error') . ': ' . ($e->getAwsErrorMessage() ?? $e->getMessage()));
            $this->fail("Amazon SES refused the message ($reason)", $recipients);
        } catch (Throwable $e) {
            $this->fail('Amazon SES could not be reached (' . get_class($e) . ')', $recipients);
        }
    }

    /**
     * Log one line (recipients masked, no subject or body) and throw: wp_mail() turns the
     * exception into wp_mail_failed with this reason, and returns false.
     *
     * @throws PHPMailer\PHPMailer\Exception always
     */
    private function fail(string $reason, array $recipients): never
    {
        $masked = array_map('wplambda_mail_mask', $recipients);
        error_log(sprintf('wplambda mail: not sent to %s: %s', implode(', ', $masked) ?: '(nobody)',
                          wplambda_mail_mask_all($reason)));
        throw new PHPMailer\PHPMailer\Exception($reason);
    }
}
