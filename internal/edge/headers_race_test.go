//go:build race

package edge

// raceOn: the race detector makes sync.Pool drop what is put back at random (an allocation).
const raceOn = true
