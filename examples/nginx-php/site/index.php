<?php
// Each line exercises one thing a jail with only the DT_NEEDED closure gets wrong.
header('Content-Type: text/plain');
$d = new DateTime('2020-07-01 12:00', new DateTimeZone('Europe/Paris'));
echo "date: ", $d->format('T P'), "\n";
echo "iconv: ", bin2hex(iconv('UTF-8', 'ISO-8859-1//TRANSLIT', "h\u{e9}llo \u{20ac}")), "\n";
echo "intl: ", (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234.5), "\n";
echo "mbstring: ", mb_strtoupper("h\u{e9}llo"), "\n";
$pdo = new PDO('sqlite::memory:');
echo "pdo_sqlite: ", $pdo->query('select 6*7')->fetchColumn(), "\n";
$im = imagecreatetruecolor(2, 2);
echo "gd: ", imagesx($im), "x", imagesy($im), "\n";
echo "imagick: ", count(Imagick::queryFormats()) > 200 ? 'formats>200' : 'formats=' . count(Imagick::queryFormats()), "\n";
echo "json: ", json_encode(['a' => [1, 2]]), "\n";
echo "user: ", posix_getpwuid(posix_geteuid())['name'], "\n";
echo "localhost: ", gethostbyname('localhost'), "\n";
$c = curl_init('https://localhost/');
$loc = openssl_get_cert_locations();
echo "curl: ", (curl_version()['features'] & CURL_VERSION_SSL) ? 'ssl' : 'nossl', " ca=", file_exists($loc['default_cert_file']) ? 'found' : 'missing', "\n";
