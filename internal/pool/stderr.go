package pool

import (
	"os"
	"os/exec"

	"github.com/roadrunner-server/sdk/v4/worker"
)

// StderrSink takes the stderr of every worker the pool spawns (internal/observe/workerlog
// implements it); without one, sdk/v4 logs each chunk a worker writes, as RoadRunner does.
type StderrSink interface {
	// Watch reads r, the read end of the started worker's stderr, and returns its tap.
	Watch(pid int64, r *os.File) StderrTap
}

// StderrTap is told when a worker starts and ends a request, so what it writes meanwhile is
// tied to the request.
type StderrTap interface {
	// Begin: the worker starts the request with this id (nil or empty: none known).
	Begin(requestID []byte)
	// End: the worker is done with its request.
	End()
}

// RequestIdentifier is a FrameSink that knows its request's id (the front's X-Request-Id).
type RequestIdentifier interface {
	RequestIDHeader() []byte
}

// takeStderr replaces the stderr pipe sdk/v4's InitBaseWorker made with one of ours: the sdk's
// reader sees EOF once Start closes the child's end it never got. It returns the read end
// and the write end to close after Start; nil when no sink is set.
func takeStderr(sink StderrSink, cmd *exec.Cmd) (r, w *os.File, err error) {
	if sink == nil {
		return nil, nil, nil
	}
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, err
	}
	cmd.Stderr = w
	return r, w, nil
}

// beginRequest tells the worker's tap which request it starts.
func beginRequest(rl *pipeRelay, sink FrameSink) {
	if rl.tap == nil {
		return
	}
	var id []byte
	if ri, ok := sink.(RequestIdentifier); ok {
		id = ri.RequestIDHeader()
	}
	rl.tap.Begin(id)
}

// endRequest tells the worker's tap its request is over.
func endRequest(w *worker.Process) {
	if rl, ok := w.Relay().(*pipeRelay); ok && rl.tap != nil {
		rl.tap.End()
	}
}
