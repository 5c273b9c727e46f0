package edge

import (
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"sync"
)

// RoadRunner's static ETag (roadrunner-server/static/v4 etag.go): "<size>-<crc32>" in quotes,
// the CRC-32 of the file's bytes with RoadRunner's polynomial, the size as a uint32; no ETag for
// an empty file. With `weak` RoadRunner hashes the file's base name alone, so its weak ETag
// never changes when the file does and a browser keeps a stale copy on 304s; pivot's weak ETag
// is the same content tag with the W/ prefix instead.

// rrCRCTable is RoadRunner's CRC-32 table (polynomial 0x48D90782).
var rrCRCTable = crc32.MakeTable(0x48D90782)

// maxETags bounds the cache; it is cleared when full (a directory with more files than this
// recomputes some tags).
const maxETags = 10000

// etagCache keeps each file's tag while its size and modification time stay the same, so a file
// is read once per version rather than once per request.
type etagCache struct {
	mu sync.RWMutex
	m  map[string]etagEntry
}

type etagEntry struct {
	size, mtime int64
	tag         string
}

// get returns the file's ETag ("" for an empty file), reading it if its tag is not cached for
// this size and mtime; f is left at offset 0.
func (e *etagCache) get(path string, size, mtime int64, f *os.File, weak bool) (string, error) {
	e.mu.RLock()
	ent, ok := e.m[path]
	e.mu.RUnlock()
	if ok && ent.size == size && ent.mtime == mtime {
		return ent.tag, nil
	}
	tag, err := fileETag(f, weak)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	if e.m == nil || len(e.m) >= maxETags {
		e.m = make(map[string]etagEntry)
	}
	e.m[path] = etagEntry{size: size, mtime: mtime, tag: tag}
	e.mu.Unlock()
	return tag, nil
}

// fileETag computes RoadRunner's ETag of f's bytes and seeks f back to its start.
func fileETag(f io.ReadSeeker, weak bool) (string, error) {
	h := crc32.New(rrCRCTable)
	n, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	if _, err = f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if n == 0 {
		return "", nil
	}
	return formatETag(uint32(n), h.Sum32(), weak), nil
}

// formatETag formats RoadRunner's tag of a file of size bytes whose CRC (RoadRunner's table) is sum.
func formatETag(size, sum uint32, weak bool) string {
	b := make([]byte, 0, 32)
	if weak {
		b = append(b, "W/"...)
	}
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(size), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(sum), 10)
	return string(append(b, '"'))
}
