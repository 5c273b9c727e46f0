<?php

declare(strict_types=1);

final class Greeting
{
    public static function big(): string
    {
        return str_repeat("All work and no play makes a compressible response.\n", 400);
    }
}
