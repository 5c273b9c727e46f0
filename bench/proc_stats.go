package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux).
const clockTick = 10 * time.Millisecond

// memory is a process's resident set from /proc/<pid>/status.
type memory struct {
	Pid     int    `json:"pid"`
	RSSKB   int64  `json:"vm_rss_kb"`
	AnonKB  int64  `json:"rss_anon_kb"`
	FileKB  int64  `json:"rss_file_kb"`
	Execs   int64  `json:"execs,omitempty"` // requests served, when the server reports it
	Comment string `json:"comment,omitempty"`
}

// mb is a /proc figure in KB as MB, for the report.
func mb(kb int64) float64 { return float64(kb) / 1024 }

func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	m := memory{Pid: pid}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &m.RSSKB
		case "RssAnon":
			dst = &m.AnonKB
		case "RssFile":
			dst = &m.FileKB
		default:
			continue
		}
		*dst, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
	}
	return m, sc.Err()
}

// statFields are the fields of /proc/<pid>/stat after the command name (field 3 onwards).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// statTimes is what a process has used so far: utime, stime, and its reaped children's cutime,
// cstime (/proc/PID/stat fields 14-17); zeros when it is gone.
func statTimes(pid int) (t [4]time.Duration) {
	f, err := statFields(pid)
	if err != nil || len(f) < 15 {
		return t
	}
	for i := range t {
		ticks, _ := strconv.ParseInt(f[11+i], 10, 64)
		t[i] = time.Duration(ticks) * clockTick
	}
	return t
}

// cpuTime is the user+system CPU time a process has used so far, and that of its children it
// has reaped (cutime+cstime), both 0 when it is gone.
func cpuTime(pid int) (self, reaped time.Duration) {
	t := statTimes(pid)
	return t[0] + t[1], t[2] + t[3]
}

// userTime is the user-mode CPU time a process has used so far (utime): for rr, the Go code
// (fasthttp, handler, pool, runtime) without the kernel's work in its socket and pipe syscalls.
func userTime(pid int) time.Duration { return statTimes(pid)[0] }

// treeCPU is the CPU time of pid and all its descendants, live or reaped, so that workers
// replaced during a run are still counted.
func treeCPU(pid int) time.Duration {
	self, reaped := cpuTime(pid)
	return self + reaped + childrenCPU(pid)
}

// childrenCPU is treeCPU of each live child of pid.
func childrenCPU(pid int) time.Duration {
	var d time.Duration
	for _, c := range children(pid) {
		d += treeCPU(c)
	}
	return d
}

// children lists the live children of pid, by scanning /proc.
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(child)
		if err != nil || len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// loadAvg is the first line of /proc/loadavg (1, 5, 15 minutes), to show what else ran.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// machineCPU is the machine-wide CPU time from /proc/stat's first line: busy (everything but
// idle and iowait, incl. softirq, which carries loopback TCP) and total.
type machineCPU struct{ busy, total time.Duration }

func readMachineCPU() machineCPU {
	line, _, _ := strings.Cut(readFile("/proc/stat"), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	for i, s := range f[1:] {
		// guest and guest_nice (10th, 11th) are already counted in user and nice
		if i >= 8 {
			break
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		d := time.Duration(v) * clockTick
		m.total += d
		if i != 3 && i != 4 { // idle, iowait
			m.busy += d
		}
	}
	return m
}
