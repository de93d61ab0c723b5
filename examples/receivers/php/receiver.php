<?php
// A Calendence webhook receiver in PHP 7.0+, nothing to install.
// Try it: CALENDENCE_WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:9000 receiver.php
// or put it behind your web server.

$secret  = getenv('CALENDENCE_WEBHOOK_SECRET');  // the whole string, whsec_ included
if (!$secret) {                                   // never verify with an empty key
    http_response_code(500);
    exit;
}
$payload = file_get_contents('php://input');      // the raw body, before any json_decode

// 'sha256=' . hex digest: the same form as the header (the original reference forgot the prefix)
$expected = 'sha256=' . hash_hmac('sha256', $payload, $secret);
$valid = hash_equals($expected, $_SERVER['HTTP_X_CALENDENCE_SIGNATURE'] ?? '')
      || hash_equals($expected, $_SERVER['HTTP_X_CALENDENCE_SIGNATURE_PREVIOUS'] ?? '');
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || !$valid) {
    http_response_code(401);
    exit;
}

$event = json_decode($payload, true);
http_response_code(200);  // answer fast; do slow work in a queue

// Deduplicate on the event id: here a marker file created only if absent;
// in production, a unique key in your database.
$marker = sys_get_temp_dir() . '/calendence-' . preg_replace('/[^A-Za-z0-9_]/', '', $event['id']);
if (!@fopen($marker, 'x')) {
    exit;  // a retry of an event already handled
}
error_log("verified {$event['event']} {$event['id']}");
