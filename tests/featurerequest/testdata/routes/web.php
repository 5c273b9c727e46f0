<?php

declare(strict_types=1);

// What GET /version answers. The test edits this file and expects the reload section to
// bring the new text in without a restart.
return 'version 1';
