<?php
// A PHP webshop (Magento, WooCommerce, Shopware...) talking to the returns service: submit a
// return over the HTTP API, and check a webhook's signature (Standard Webhooks: HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>"). PHP 8 with the curl extension, nothing else.
//
//   RETURNS_API_URL=http://127.0.0.1:8000 RETURNS_API_KEY=rk_... php returns.php submit ../toner.json
//   RETURNS_WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:8787 returns.php   (a webhook receiver)

declare(strict_types=1);

/** POST /v1/returns: [created, view]; a problem (RFC 9457) becomes a RuntimeException. */
function submit_return(string $baseUrl, string $apiKey, array $request): array
{
    $ch = curl_init("$baseUrl/v1/returns");
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_HTTPHEADER => ["Authorization: Bearer $apiKey", 'Content-Type: application/json'],
        CURLOPT_POSTFIELDS => json_encode($request, JSON_THROW_ON_ERROR),
        CURLOPT_RETURNTRANSFER => true,
    ]);
    $body = curl_exec($ch);
    if ($body === false) {
        throw new RuntimeException('returns service unreachable: ' . curl_error($ch));
    }
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    $answer = json_decode($body, true, 512, JSON_THROW_ON_ERROR);
    if ($status >= 400) {  // 422 names the invalid fields, 409 is refused in the current status
        throw new RuntimeException("$status {$answer['title']}: {$answer['detail']}");
    }
    return [$status === 201, $answer];
}

/** The checked payload of a webhook; throws when it must be refused. */
function verify_webhook(string $secret, array $headers, string $body, int $tolerance = 300): array
{
    $id = $headers['webhook-id'] ?? null;
    $timestamp = $headers['webhook-timestamp'] ?? null;
    $signatures = $headers['webhook-signature'] ?? null;
    if ($id === null || $timestamp === null || $signatures === null) {
        throw new RuntimeException('missing webhook-id, webhook-timestamp or webhook-signature');
    }
    if (abs(time() - (int) $timestamp) > $tolerance) {  // a replay, or a wrong clock
        throw new RuntimeException('timestamp outside the tolerance');
    }
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret), true);
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
    // During a secret rotation the header carries one signature per valid secret.
    foreach (explode(' ', $signatures) as $entry) {
        [$version, $signature] = array_pad(explode(',', $entry, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $signature)) {
            return json_decode($body, true, 512, JSON_THROW_ON_ERROR);
        }
    }
    throw new RuntimeException('no valid signature');
}

if (PHP_SAPI === 'cli') {
    [, $command, $file] = array_pad($argv, 3, null);
    if ($command !== 'submit' || $file === null) {
        fwrite(STDERR, "usage: php returns.php submit REQUEST.json\n");
        exit(2);
    }
    $request = json_decode(file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
    [$created, $view] = submit_return(
        getenv('RETURNS_API_URL') ?: 'http://127.0.0.1:8000',
        getenv('RETURNS_API_KEY') ?: '',
        $request,
    );
    echo ($created ? 'created' : 'existing') . " {$view['return_id']} {$view['kind']} {$view['status']}\n";
} else {  // behind a web server: the webhook receiver
    $headers = array_change_key_case(getallheaders(), CASE_LOWER);
    try {
        $payload = verify_webhook(getenv('RETURNS_WEBHOOK_SECRET') ?: '', $headers, file_get_contents('php://input'));
    } catch (RuntimeException $e) {
        http_response_code(400);
        exit;
    }
    // Deliveries are at least once: keep the webhook-id handled and skip a repeat.
    error_log("{$headers['webhook-id']} {$payload['type']} {$payload['data']['return_id']}");
    http_response_code(204);
}
