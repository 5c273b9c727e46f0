<?php
// nginx + php-fpm's hello world: the same 200 text/plain 13-byte body as examples/hello's
// GET /hello (default_charset is emptied in php-fpm.conf so the type stays "text/plain").
header('Content-Type: text/plain');
echo 'Hello, World!';
