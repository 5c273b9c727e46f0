<?php
// Preflight only: tells the harness whether opcache is on in php-fpm.
header('Content-Type: text/plain');
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo is_array($status) && !empty($status['opcache_enabled']) ? 'on' : 'off';
