// Package progress reports per-layer progress on stderr: live bars on a
// terminal (mpb), a plain line every few seconds in CI logs, or nothing.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// Mode is --progress: auto, plain or none.
type Mode string

const (
	Auto  Mode = "auto"
	Plain Mode = "plain"
	None  Mode = "none"
)

// ParseMode reads a --progress value; "" means $IMGTOOL_PROGRESS, else auto.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		s = os.Getenv("IMGTOOL_PROGRESS")
	}
	switch m := Mode(strings.ToLower(s)); m {
	case "", Auto:
		return Auto, nil
	case Plain, None:
		return m, nil
	}
	return "", fmt.Errorf("invalid --progress %q (auto, plain, none)", s)
}

// Reporter hands out one Task per unit of work (a layer).
type Reporter interface {
	Task(name string, total int64) Task
	Close()
}

// Task counts the bytes of one unit; Done ends it.
type Task interface {
	Add(n int)
	Done(err error)
}

// New makes a reporter writing to w (stderr). Auto becomes bars when w is
// a terminal and plain lines otherwise.
func New(mode Mode, w *os.File, verb string) Reporter {
	switch mode {
	case None:
		return nop{}
	case Auto:
		if isTerminal(w) {
			return newBars(w, verb)
		}
	}
	return newPlain(w, verb, 5*time.Second)
}

// isTerminal reports a terminal wide enough to draw bars on (a pty
// without a width, as some CI runners make, gets plain lines; one without
// rows gets bars drawn as if it had defaultRows, see sizedConsole).
func isTerminal(f *os.File) bool {
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil && ws.Col >= 40
}

// defaultRows is the height bars assume on a terminal that reports 0 rows.
const defaultRows = 24

// sizedConsole is mpb's console writer with a height on terminals that
// report 0 rows (stty rows 0, some CI ptys): mpb draws no more lines than
// the height, so it would draw nothing at all there.
type sizedConsole struct{ mpb.ConsoleWriter }

func (c sizedConsole) GetTermSize() (int, int, error) {
	w, h, err := c.ConsoleWriter.GetTermSize()
	if err == nil && h <= 0 {
		h = defaultRows
	}
	return w, h, err
}

// Writer wraps w so that every byte written is added to t; Finish ends t.
func Writer(w io.Writer, t Task) *CountingWriter { return &CountingWriter{w: w, t: t} }

// CountingWriter is Writer's: it counts into a Task until Finish.
type CountingWriter struct {
	w io.Writer
	t Task
}

func (c *CountingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.t.Add(n)
	return n, err
}

// Finish ends the task with the stream's outcome.
func (c *CountingWriter) Finish(err error) { c.t.Done(err) }

// Start is rep's task for name, or one that counts nothing when rep is nil.
func Start(rep Reporter, name string, total int64) Task {
	if rep == nil {
		return nopTask{}
	}
	return rep.Task(name, total)
}

// Reader wraps r so that every byte read is added to t; EOF or an error ends t.
func Reader(r io.Reader, t Task) io.Reader { return &reader{r: r, t: t} }

// ReadCloser is Reader over rc whose Close also ends t, so that a stream
// closed before its end (a sniffed header, an early stop) leaves no task
// open for Close of the reporter to wait on.
func ReadCloser(rc io.ReadCloser, t Task) *TaskReader {
	return &TaskReader{reader: reader{r: rc, t: t}, c: rc}
}

// TaskReader is ReadCloser's.
type TaskReader struct {
	reader
	c io.Closer
}

// Close ends the task (as finished, if it is not yet) and closes the stream.
func (p *TaskReader) Close() error {
	p.Finish(nil)
	return p.c.Close()
}

// Finish ends the task with the outcome of what consumed the stream (a
// failed consumer's own error line then stands alone); later calls and
// Close do not end it again.
func (p *TaskReader) Finish(err error) {
	if !p.done {
		p.done = true
		p.t.Done(err)
	}
}

type reader struct {
	r    io.Reader
	t    Task
	done bool
}

func (p *reader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.t.Add(n)
	if err != nil && !p.done {
		p.done = true
		if err == io.EOF {
			p.t.Done(nil)
		} else {
			p.t.Done(err)
		}
	}
	return n, err
}

type nop struct{}

func (nop) Task(string, int64) Task { return nopTask{} }
func (nop) Close()                  {}

type nopTask struct{}

func (nopTask) Add(int)    {}
func (nopTask) Done(error) {}

// bars are mpb progress bars, one per task, with bytes, rate and ETA.
type bars struct {
	p    *mpb.Progress
	verb string
}

func newBars(w *os.File, verb string) *bars {
	return &bars{p: mpb.New(mpb.WithConsoleWriter(sizedConsole{cupwriter.New(w, false)}), mpb.WithWidth(40),
		mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh()), verb: verb}
}

func (b *bars) Task(name string, total int64) Task {
	bar := b.p.AddBar(total,
		// SI units (MB = 10^6 bytes), as the plain lines and docker print them
		mpb.PrependDecorators(decor.Name(b.verb+" "+name+" ", decor.WCSyncSpaceR), decor.Counters(decor.SizeB1000(0), "% .1f / % .1f")),
		mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1000(0), "% .1f", decor.WCSyncSpace), decor.Name(" "), decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO), "done")),
	)
	return &barTask{bar: bar, total: total}
}

func (b *bars) Close() { b.p.Wait() }

type barTask struct {
	bar   *mpb.Bar
	total int64
	n     int64
}

func (t *barTask) Add(n int) { t.n += int64(n); t.bar.IncrBy(n) }
func (t *barTask) Done(err error) {
	if err != nil {
		t.bar.Abort(false)
		return
	}
	t.bar.SetTotal(t.n, true)
}

// plain prints "verb name: 1.2 MB / 3.4 MB" at most every interval per task,
// and a line when a task ends, for logs that are not terminals.
type plain struct {
	mu       sync.Mutex
	w        io.Writer
	verb     string
	interval time.Duration
}

func newPlain(w io.Writer, verb string, interval time.Duration) *plain {
	return &plain{w: w, verb: verb, interval: interval}
}

func (p *plain) Task(name string, total int64) Task {
	return &plainTask{p: p, name: name, total: total, start: time.Now(), last: time.Now()}
}

func (p *plain) Close() {}

type plainTask struct {
	p           *plain
	name        string
	total, n    int64
	start, last time.Time
}

func (t *plainTask) Add(n int) {
	t.n += int64(n)
	if time.Since(t.last) >= t.p.interval {
		t.last = time.Now()
		t.p.line("%s %s: %s", t.p.verb, t.name, t.amount())
	}
}

func (t *plainTask) Done(err error) {
	if err != nil {
		return // the command's own error line says what failed
	}
	secs := time.Since(t.start).Seconds()
	rate := ""
	if secs > 0.01 {
		rate = fmt.Sprintf(", %s/s", size(int64(float64(t.n)/secs)))
	}
	t.p.line("%s %s: done, %s in %.1fs%s", t.p.verb, t.name, size(t.n), secs, rate)
}

func (t *plainTask) amount() string {
	if t.total > 0 {
		return fmt.Sprintf("%s / %s", size(t.n), size(t.total))
	}
	return size(t.n)
}

func (p *plain) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// size prints n as the bars' counters do (decor.SizeB1000, "% .1f"):
// SI units, 1 KB = 1000 bytes, the same in bars and plain lines.
func size(n int64) string { return fmt.Sprintf("% .1f", decor.SizeB1000(n)) }
