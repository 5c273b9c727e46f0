package pool

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/goridge/v3/pkg/frame"
	"github.com/roadrunner-server/sdk/v4/fsm"
	sdkpool "github.com/roadrunner-server/sdk/v4/pool"
	"github.com/roadrunner-server/sdk/v4/worker"
	"go.uber.org/zap"
)

// pipeFactory spawns workers over pipes with pivot's buffered relay; otherwise it does what
// sdk/v4's pipe factory does (start, pid handshake, Ready).
type pipeFactory struct {
	log    *zap.Logger
	stderr StderrSink
}

var _ sdkpool.Factory = (*pipeFactory)(nil)

// NewPipeFactory spawns workers over pipes (the default server.relay); their stderr goes to
// stderr when it is not nil.
func NewPipeFactory(log *zap.Logger, stderr StderrSink) sdkpool.Factory {
	return &pipeFactory{log: log, stderr: stderr}
}

type spawnResult struct {
	w   *worker.Process
	err error
}

// SpawnWorkerWithTimeout spawns a worker; a worker that has not answered the handshake when
// ctx ends is killed.
func (f *pipeFactory) SpawnWorkerWithTimeout(ctx context.Context, cmd *exec.Cmd) (*worker.Process, error) {
	done := make(chan spawnResult, 1)
	go func() {
		w, err := f.SpawnWorker(cmd)
		done <- spawnResult{w: w, err: err}
	}()
	select {
	case res := <-done:
		return res.w, res.err
	case <-ctx.Done():
		go func() { // the spawn may still finish: do not leave its process behind
			if res := <-done; res.w != nil {
				_ = res.w.Kill()
				_ = res.w.Wait()
			}
		}()
		return nil, errors.E(errors.Op("pivot_spawn_worker"), errors.TimeOut, ctx.Err())
	}
}

// SpawnWorker starts the process and performs the pid handshake.
func (f *pipeFactory) SpawnWorker(cmd *exec.Cmd) (*worker.Process, error) {
	const op = errors.Op("pivot_spawn_worker")
	if cmd == nil {
		return nil, errors.E(op, errors.Str("no worker command (check server.command, server.user)"))
	}
	w, err := worker.InitBaseWorker(cmd, worker.WithLog(f.log))
	if err != nil {
		return nil, errors.E(op, err)
	}
	errR, errW, err := takeStderr(f.stderr, cmd)
	if err != nil {
		return nil, errors.E(op, err)
	}
	// Our own pipe rather than cmd.StdoutPipe(): exec.Cmd.Wait closes that one as soon as the
	// process exits, and the watcher calls Wait while a request may still be reading the last
	// answer the worker wrote before it exited.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, errors.E(op, err)
	}
	cmd.Stdout = stdoutW
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = stdout.Close()
		_ = stdoutW.Close()
		closeFiles(errR, errW)
		return nil, errors.E(op, err)
	}
	rl := newPipeRelay(stdout, stdin)
	rl.probe = dupStdinProbe(stdin)
	w.AttachRelay(rl)
	err = w.Start()
	_ = stdoutW.Close() // the worker has its copy
	closeFiles(errW)
	if err != nil {
		_ = rl.Close()
		closeFiles(errR)
		return nil, errors.E(op, err)
	}
	if errR != nil {
		rl.tap = f.stderr.Watch(w.Pid(), errR)
	}
	if _, err = handshake(rl); err != nil {
		_ = w.Kill()
		go func() { _ = w.Wait() }()
		return nil, errors.E(op, err)
	}
	w.State().Transition(fsm.StateReady)
	return w, nil
}

// closeFiles closes the files that are not nil.
func closeFiles(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// Close has nothing to release: every worker owns its pipes.
func (f *pipeFactory) Close() error { return nil }

type pidMessage struct {
	Pid int `json:"pid"`
	// Pipelining: the worker reads its frames strictly in order and keeps a request it reads
	// while it streams, so a request may wait in its pipe (pipeline.go). This package's PHP
	// worker says so; the official PHP libraries do not, and drop such a request.
	Pipelining bool `json:"pipelining,omitempty"`
}

// handshake sends RoadRunner's pid as a control frame and returns the worker's pid (over a socket
// it names the process the connection belongs to); the worker's in-order promise goes on rl.
func handshake(rl *pipeRelay) (int, error) {
	data, _ := json.Marshal(pidMessage{Pid: os.Getpid()})
	if _, err := rl.out.Write(append(protocol.PutHeader(nil, frame.CONTROL|frame.CodecJSON, 0, len(data)), data...)); err != nil {
		return 0, err
	}

	resp, err := rl.readFrame()
	if err != nil {
		return 0, err
	}
	if resp.flags&frame.CONTROL == 0 {
		return 0, errors.Str("the worker answered the handshake without the CONTROL flag")
	}
	var pid pidMessage
	if err := json.Unmarshal(resp.payload, &pid); err != nil {
		return 0, errors.Errorf("the worker's handshake is not JSON: %v", err)
	}
	if pid.Pid <= 0 {
		return 0, errors.Str("the worker's handshake has no pid greater than 0")
	}
	rl.inOrder = pid.Pipelining
	return pid.Pid, nil
}
