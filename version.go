package pivot

// Version is the pivot plugin's version, printed by `rr --version`.
// Release builds may override it with -ldflags "-X github.com/pivotphp/pivotphp-runtime-roadrunner.Version=...".
var Version = "0.1.0-dev"

// RRVersion is the RoadRunner release whose plugin set this distribution pins.
const RRVersion = "2023.3.12"
