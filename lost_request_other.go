//go:build !linux

package pivot

func canSeeLostRequests() bool { return false }

func (r *pipeRelay) waitsForInput(int) bool { return false }
