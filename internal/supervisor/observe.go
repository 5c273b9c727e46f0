package supervisor

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"github.com/roadrunner-server/sdk/v4/worker"
)

// MemorySample is a worker's resident memory (RSS, bytes) at a time.
type MemorySample struct {
	At  time.Time `json:"t"`
	RSS uint64    `json:"rss"`
}

const (
	// memoryTick is how often the supervisor samples its workers' RSS.
	memoryTick = time.Second
	// memoryKept is how many samples a worker's timeline keeps (5 minutes).
	memoryKept = 300
)

// memoryTimeline is every worker's recent RSS, sampled every memoryTick.
type memoryTimeline struct {
	mu    sync.Mutex
	byPid map[int64][]MemorySample
}

// sampleMemory samples the serving workers' RSS until the supervisor stops.
func (s *Supervisor) sampleMemory() {
	defer s.done.Done()
	t := time.NewTicker(memoryTick)
	defer t.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case now := <-t.C:
			s.sampleOnce(now)
		}
	}
}

func (s *Supervisor) sampleOnce(now time.Time) {
	var workers []*worker.Process
	if g := s.current.Load(); g != nil {
		workers = g.pool.Workers()
	}
	s.mem.mu.Lock()
	defer s.mem.mu.Unlock()
	if s.mem.byPid == nil {
		s.mem.byPid = map[int64][]MemorySample{}
	}
	live := make(map[int64]bool, len(workers))
	for _, w := range workers {
		rss, ok := workerRSS(w)
		if !ok {
			continue
		}
		pid := w.Pid()
		live[pid] = true
		tl := s.mem.byPid[pid]
		if len(tl) >= memoryKept {
			tl = append(tl[:0], tl[1:]...)
		}
		s.mem.byPid[pid] = append(tl, MemorySample{At: now, RSS: rss})
	}
	for pid := range s.mem.byPid {
		if !live[pid] {
			delete(s.mem.byPid, pid) // a replaced worker's timeline ends with it
		}
	}
}

// pageSize is the unit of /proc/<pid>/statm.
var pageSize = uint64(os.Getpagesize())

// workerRSS reads /proc/<pid>/statm (cheap: no gopsutil per sample) or asks gopsutil where
// there is no /proc.
func workerRSS(w *worker.Process) (uint64, bool) {
	if b, err := os.ReadFile("/proc/" + strconv.FormatInt(w.Pid(), 10) + "/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				return pages * pageSize, true
			}
		}
		return 0, false
	}
	st, err := process.WorkerProcessState(w)
	if err != nil {
		return 0, false
	}
	return st.MemoryUsage, true
}

// MemoryTimeline copies every serving worker's recent RSS samples, oldest first.
func (s *Supervisor) MemoryTimeline() map[int64][]MemorySample {
	s.mem.mu.Lock()
	defer s.mem.mu.Unlock()
	out := make(map[int64][]MemorySample, len(s.mem.byPid))
	for pid, tl := range s.mem.byPid {
		out[pid] = append([]MemorySample(nil), tl...)
	}
	return out
}

// WorkerMemoryPeak calls fn with each serving worker's highest RSS sampled over the kept
// timeline (the metric: a spike between two scrapes shows).
func (s *Supervisor) WorkerMemoryPeak(fn func(pid int64, peak uint64)) {
	s.mem.mu.Lock()
	defer s.mem.mu.Unlock()
	for pid, tl := range s.mem.byPid {
		var peak uint64
		for _, m := range tl {
			peak = max(peak, m.RSS)
		}
		if peak > 0 {
			fn(pid, peak)
		}
	}
}

// InFlight is how many requests the serving generation runs or queues.
func (s *Supervisor) InFlight() uint64 {
	if g := s.current.Load(); g != nil {
		return g.pool.InFlight()
	}
	return 0
}

// ReplaceWorker has one serving worker replaced (see pool.ReplaceWorker).
func (s *Supervisor) ReplaceWorker(pid int64) error {
	const op = errors.Op("pivot_replace_worker")
	g := s.current.Load()
	if g == nil {
		return errors.E(op, errors.Str("pivot has no running workers"))
	}
	if !g.pool.ReplaceWorker(pid) {
		return errors.E(op, errors.Errorf("no serving worker has pid %d", pid))
	}
	return nil
}
