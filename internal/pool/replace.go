package pool

import "github.com/roadrunner-server/sdk/v4/fsm"

// InFlight is how many requests are in Exec: running on a worker or waiting for one.
func (p *Pool) InFlight() uint64 { return p.queue.Load() }

// ReplaceWorker has the worker with pid replaced (the debug panel's button): a busy worker
// finishes its request first and is stopped as it is released; an idle one is killed at once
// and the watcher starts another (a request that takes it meanwhile runs elsewhere, as for any
// worker that died between requests). False if no worker of the pool has that pid.
func (p *Pool) ReplaceWorker(pid int64) bool {
	for _, w := range p.ww.List() {
		if w.Pid() != pid {
			continue
		}
		st := w.State()
		if st.Compare(fsm.StateWorking) {
			st.Transition(fsm.StateInvalid)
			return true
		}
		st.Transition(fsm.StateInvalid)
		_ = w.Kill()
		return true
	}
	return false
}
