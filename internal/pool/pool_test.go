package pool

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-server/sdk/v4/worker"
)

// sleepingProcess starts a real process; exited delivers its Wait (called once, as the sdk
// requires).
func sleepingProcess(t *testing.T) (w *worker.Process, exited <-chan error) {
	t.Helper()
	w, err := worker.InitBaseWorker(exec.Command("sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	if err = w.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	t.Cleanup(func() { _ = w.Kill() })
	return w, done
}

func alive(pid int64) bool { return syscall.Kill(int(pid), 0) == nil }

func TestExecTimerStoppedInTimeKillsNothing(t *testing.T) {
	w, _ := sleepingProcess(t)
	et := startExecTimer(w, 30*time.Millisecond)
	if !et.stop() {
		t.Fatal("a timer stopped before its deadline must report it")
	}
	time.Sleep(80 * time.Millisecond)
	if et.expired() || !alive(w.Pid()) {
		t.Fatal("a stopped timer killed the worker")
	}
	et.rearm() // the next frame of a stream
	time.Sleep(80 * time.Millisecond)
	if !et.expired() {
		t.Fatal("a re-armed timer did not fire")
	}
}

func TestExecTimerThatFiredWinsOverStop(t *testing.T) {
	w, exited := sleepingProcess(t)
	et := startExecTimer(w, 10*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	if et.stop() || !et.expired() {
		t.Fatal("stop after the deadline must report that the worker is being killed")
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the fired timer did not kill the worker")
	}
}

func TestNilExecTimerIsDisabled(t *testing.T) {
	var et *execTimer
	if !et.stop() || et.expired() {
		t.Fatal("a nil timer must behave as disabled")
	}
	et.rearm()
}

func TestTakeContextEndsOnTimeoutOrParent(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		cancel  bool
		want    error
	}{
		{"timer fires", 10 * time.Millisecond, false, context.DeadlineExceeded},
		{"parent ends", time.Hour, true, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := newTakeContext(parent)
			defer c.release()
			if c.Err() != nil {
				t.Fatal("a fresh context must not be done")
			}
			c.timer.Reset(tc.timeout)
			defer c.timer.Stop()
			if tc.cancel {
				cancel()
			}
			select {
			case <-c.Done():
			case <-time.After(2 * time.Second):
				t.Fatal("the context did not end")
			}
			if c.Err() != tc.want {
				t.Fatalf("Err = %v, want %v", c.Err(), tc.want)
			}
		})
	}
}
