package trace

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// Every is the number of steps between checkpoints of a compared replay.
const Every = 256

// Observe replays t against s with the options every side shares (a
// checkpoint every Every steps, absolute hints moved by ShiftHere()) and
// returns the observations, a header line first.
func Observe(t *Trace, s Side) []string {
	shift := ShiftHere()
	out := []string{header(len(t.Steps), shift)}
	Replay(t, s, Options{Every: Every, Shift: shift}, func(l string) { out = append(out, l) })
	return out
}

func header(steps int, shift uint64) string {
	return fmt.Sprintf("# %d steps, checkpoints every %d, absolute hints shifted by %#x", steps, Every, shift)
}

// AtDefaultShift returns obs, observations of a replay of a trace of steps
// steps, with the header line a replay at DefaultShift writes.  Wherever
// the hints are free the observations are the same but for that line, and
// goldens hold it in that form, whoever observed them.
func AtDefaultShift(obs []string, steps int) []string {
	if len(obs) == 0 || obs[0] == header(steps, DefaultShift) {
		return obs
	}
	return append([]string{header(steps, DefaultShift)}, obs[1:]...)
}

// ReadFile reads a file, decompressing it when its name ends in .gz.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return b, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return io.ReadAll(zr)
}

// ReadPath reads the trace at path (.gz: compressed).
func ReadPath(path string) (*Trace, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return t, nil
}

// GoldenPath is where the golden of the trace at path is: NAME.trace.gz
// has NAME.golden.gz.
func GoldenPath(path string) string {
	p := strings.TrimSuffix(strings.TrimSuffix(path, ".gz"), ".trace")
	return p + ".golden.gz"
}

// ReadGolden returns a golden's observations (its "# golden:" line left out).
func ReadGolden(path string) ([]string, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, "# golden:") {
			out = append(out, l)
		}
	}
	return out, nil
}

// WriteGolden writes obs as the golden at path (a .gz name: compressed), with a
// first line naming who observed them.
func WriteGolden(path, who string, obs []string) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "# golden: %s\n%s\n", who, strings.Join(obs, "\n"))
		return err
	})
}

// WriteFile writes what write produces to path, gzip-compressed when the
// name ends in .gz (ReadFile's counterpart).
func WriteFile(path string, write func(io.Writer) error) error {
	var b bytes.Buffer
	if strings.HasSuffix(path, ".gz") {
		zw := gzip.NewWriter(&b)
		if err := write(zw); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
	} else if err := write(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// WritePath writes t at path (.gz: compressed), ReadPath's counterpart.
func WritePath(path string, t *Trace) error { return WriteFile(path, t.Write) }

// Diff returns "" when a and b are the same observations, else where they
// first differ, naming each side.
func Diff(aName string, a []string, bName string, b []string) string {
	line := func(l []string, i int) string {
		if i < len(l) {
			return l[i]
		}
		return "(end)"
	}
	for i := 0; i < len(a) || i < len(b); i++ {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return fmt.Sprintf("line %d: %s %q, %s %q", i+1, aName, line(a, i), bName, line(b, i))
		}
	}
	return ""
}
