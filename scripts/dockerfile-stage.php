<?php

/**
 * Prints, as bash assignments, what the LAST stage of a Dockerfile does: the packages its
 * apt-get installs, the RUN that creates its user, its COPY instructions, USER, WORKDIR, CMD,
 * HEALTHCHECK's command and STOPSIGNAL. scripts/container-smoke.sh replays them on the host, so
 * the smoke test runs what the Dockerfile says, not a copy of it.
 *
 *   eval "$(php scripts/dockerfile-stage.php Dockerfile)"
 */

declare(strict_types=1);

$file = $argv[1] ?? 'Dockerfile';
$text = file_get_contents($file);
if ($text === false) {
    fwrite(STDERR, "cannot read $file\n");
    exit(1);
}

// instructions: comments dropped, continuation lines joined
$instructions = [];
$current = '';
foreach (preg_split('/\R/', $text) ?: [] as $line) {
    $t = trim($line);
    if ($current === '' && ($t === '' || $t[0] === '#')) {
        continue;
    }
    if ($current !== '' && $t !== '' && $t[0] === '#') {
        continue; // a comment inside a continued instruction
    }
    if (str_ends_with($t, '\\')) {
        $current .= substr($t, 0, -1) . ' ';
        continue;
    }
    $instructions[] = trim($current . $t);
    $current = '';
}

$last = [];
foreach ($instructions as $ins) {
    if (preg_match('/^FROM\s/i', $ins) === 1) {
        $last = [];
    }
    $last[] = $ins;
}

$packages = [];
$userRun = '';
$copies = [];
$user = 'root';
$workdir = '/';
$cmd = [];
$health = [];
$stopsignal = 'SIGTERM';
foreach ($last as $ins) {
    [$op, $args] = preg_split('/\s+/', $ins, 2) + [1 => ''];
    switch (strtoupper($op)) {
        case 'RUN':
            if (preg_match('/apt-get install (.*?)(?:&&|$)/', $args, $m) === 1) {
                foreach (preg_split('/\s+/', trim($m[1])) ?: [] as $tok) {
                    if ($tok !== '' && $tok[0] !== '-') {
                        $packages[] = $tok;
                    }
                }
            }
            if (str_contains($args, 'useradd')) {
                $userRun = $args;
            }
            break;
        case 'COPY':
            $from = '';
            $parts = preg_split('/\s+/', $args) ?: [];
            while ($parts !== [] && str_starts_with($parts[0], '--')) {
                $flag = array_shift($parts);
                if (str_starts_with($flag, '--from=')) {
                    $from = substr($flag, 7);
                }
            }
            $dst = array_pop($parts);
            foreach ($parts as $src) {
                $copies[] = "$from|$src|$dst";
            }
            break;
        case 'USER':
            $user = explode(':', $args)[0];
            break;
        case 'WORKDIR':
            $workdir = $args;
            break;
        case 'CMD':
            $cmd = json_decode($args, true, flags: JSON_THROW_ON_ERROR);
            break;
        case 'HEALTHCHECK':
            if (preg_match('/\bCMD\s+(\[.*\])\s*$/', $args, $m) === 1) {
                $health = json_decode($m[1], true, flags: JSON_THROW_ON_ERROR);
            }
            break;
        case 'STOPSIGNAL':
            $stopsignal = $args;
            break;
    }
}

$arr = static fn (array $a): string => '(' . implode(' ', array_map('escapeshellarg', $a)) . ')';
echo 'PACKAGES=', $arr($packages), "\n";
echo 'USER_RUN=', escapeshellarg($userRun), "\n";
echo 'COPIES=', $arr($copies), "\n";
echo 'RUNTIME_USER=', escapeshellarg($user), "\n";
echo 'WORKDIR=', escapeshellarg($workdir), "\n";
echo 'CMD=', $arr($cmd), "\n";
echo 'HEALTH=', $arr($health), "\n";
echo 'STOPSIGNAL=', escapeshellarg($stopsignal), "\n";
