//go:build !linux

package pool

func canSeeLostRequests() bool { return false }

func (r *pipeRelay) waitsForInput(int) bool { return false }
