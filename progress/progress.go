package progress

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// BarMode says when a Reporter draws its bar.
type BarMode int

const (
	// BarAuto draws the bar when Output is a terminal and TERM is not "dumb".
	BarAuto BarMode = iota
	// BarOff never draws the bar; progress is only logged.
	BarOff
	// BarOn always draws the bar, terminal or not.
	BarOn
)

// Config configures a Reporter. Every zero value means the documented
// default.
type Config struct {
	// Name labels the work in log lines and on the bar, e.g. "audit_events".
	Name string
	// Unit names what is counted; default "events".
	Unit string
	// Total is the expected number of units; 0 means unknown (no percentage
	// and no ETA). SetTotal changes it later.
	Total int64
	// Initial is the count already done before this run (a resumed backfill).
	// It counts towards the percentage but not towards the rate.
	Initial int64

	// From and To switch the Reporter to span mode, for work that walks a
	// time range rather than a known number of events (an audit backfill
	// whose event count is unknown): the percentage and the ETA follow the
	// cursor (SetCursor) from From to To, while Add still counts events for
	// the rate. To may move later (SetSpanEnd). Total is ignored in span
	// mode.
	From, To time.Time

	// Logger receives the progress lines; default slog.Default().
	Logger *slog.Logger
	// Interval between progress log lines; default 10s. A negative value
	// logs only the final line (at Stop).
	Interval time.Duration

	// Output is where the bar is drawn; default os.Stderr.
	Output io.Writer
	// Bar says whether to draw the bar; default BarAuto.
	Bar BarMode
	// Width is the number of cells of the bar itself; default 30.
	Width int
	// RefreshInterval between bar redraws; default 250ms.
	RefreshInterval time.Duration

	// RateWindow is how far back the rate is averaged; default 30s.
	RateWindow time.Duration
	// Now is the clock; default time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultUnit            = "events"
	DefaultInterval        = 10 * time.Second
	DefaultWidth           = 30
	DefaultRefreshInterval = 250 * time.Millisecond
	DefaultRateWindow      = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Unit == "" {
		c.Unit = DefaultUnit
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Output == nil {
		c.Output = os.Stderr
	}
	if c.Width <= 0 {
		c.Width = DefaultWidth
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.RateWindow <= 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// sample is the count and the position at one instant, for the windowed
// rates.
type sample struct {
	t   time.Time
	n   int64 // events
	pos int64 // events, or the cursor in Unix nanoseconds in span mode
}

// Reporter counts progress and reports it. Add, Set, SetTotal and Snapshot
// are safe for concurrent use.
type Reporter struct {
	cfg   Config
	start time.Time
	count atomic.Int64
	total atomic.Int64
	span  bool
	from  time.Time
	// cursor and to are Unix nanoseconds (span mode).
	cursor atomic.Int64
	to     atomic.Int64

	mu      sync.Mutex // guards samples
	samples []sample

	outMu    sync.Mutex // serialises bar drawing and the log lines around it
	bar      bool       // this reporter owns the terminal line
	barWidth func() int // terminal columns, 0 = unlimited
	drawn    bool       // a bar line is on screen
	line     string     // the bar line last drawn
	finished bool       // Stop ran: draw no more

	loopStarted atomic.Bool
	stopOnce    sync.Once
	done        chan struct{}
	exited      chan struct{}
	final       Snapshot
}

// barOwner is the one Reporter allowed to draw a bar: two bars on one
// terminal line would overwrite each other.
var barOwner atomic.Pointer[Reporter]

// New returns a Reporter that counts but reports nothing until Log or Stop
// is called. Start is New plus periodic reporting.
func New(cfg Config) *Reporter {
	cfg = cfg.withDefaults()
	r := &Reporter{cfg: cfg, start: cfg.Now(), done: make(chan struct{}), exited: make(chan struct{})}
	r.count.Store(cfg.Initial)
	r.total.Store(cfg.Total)
	if !cfg.To.IsZero() {
		r.span, r.from = true, cfg.From
		r.cursor.Store(cfg.From.UnixNano())
		r.to.Store(cfg.To.UnixNano())
	}
	// The rate counts only what this run does, so the first sample holds
	// Initial.
	r.samples = []sample{{t: r.start, n: cfg.Initial, pos: r.position(cfg.Initial)}}
	r.barWidth = func() int { return 0 }
	return r
}

// Start returns a Reporter that logs every Interval and, when the bar is on,
// redraws it every RefreshInterval until Stop.
func Start(cfg Config) *Reporter {
	r := New(cfg)
	if r.wantBar() && barOwner.CompareAndSwap(nil, r) {
		r.bar = true
	}
	r.loopStarted.Store(true)
	go r.loop()
	return r
}

func (r *Reporter) wantBar() bool {
	switch r.cfg.Bar {
	case BarOn:
		return true
	case BarOff:
		return false
	}
	f, ok := r.cfg.Output.(interface{ Fd() uintptr })
	if !ok || os.Getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	fd := int(f.Fd())
	r.barWidth = func() int {
		w, _, err := term.GetSize(fd)
		if err != nil {
			return 0
		}
		return w
	}
	return true
}

func (r *Reporter) loop() {
	defer close(r.exited)
	var logC, barC <-chan time.Time
	if r.cfg.Interval > 0 {
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		logC = t.C
	}
	if r.bar {
		t := time.NewTicker(r.cfg.RefreshInterval)
		defer t.Stop()
		barC = t.C
		r.draw()
	}
	for {
		select {
		case <-r.done:
			return
		case <-logC:
			r.Log()
		case <-barC:
			r.draw()
		}
	}
}

// Add counts n more units.
func (r *Reporter) Add(n int64) { r.count.Add(n) }

// Set sets the count, for callers that keep their own counter.
func (r *Reporter) Set(n int64) { r.count.Store(n) }

// SetTotal sets the expected total; 0 means unknown.
func (r *Reporter) SetTotal(n int64) { r.total.Store(n) }

// SetCursor moves the cursor in span mode (ignored otherwise): the work
// before t is done.
func (r *Reporter) SetCursor(t time.Time) {
	if r.span {
		r.cursor.Store(t.UnixNano())
	}
}

// SetSpanEnd moves the end of the span in span mode (ignored otherwise), e.g.
// when "now minus the settle lag" advanced during a long backfill.
func (r *Reporter) SetSpanEnd(t time.Time) {
	if r.span {
		r.to.Store(t.UnixNano())
	}
}

// position is what the ETA follows: the event count, or the cursor.
func (r *Reporter) position(events int64) int64 {
	if r.span {
		return r.cursor.Load()
	}
	return events
}

// Snapshot returns the progress now. It also records a rate sample, so a
// Reporter that is never started still computes a windowed rate.
func (r *Reporter) Snapshot() Snapshot {
	now := r.cfg.Now()
	n := r.count.Load()
	pos := r.position(n)

	r.mu.Lock()
	last := r.samples[len(r.samples)-1]
	// One sample per 1/64 window bounds memory whatever the call rate.
	if now.Sub(last.t) >= r.cfg.RateWindow/64 {
		r.samples = append(r.samples, sample{t: now, n: n, pos: pos})
	}
	// Keep the newest sample at or before now-window as the base, so the
	// rate always covers the full window once the run is that old.
	cut := now.Add(-r.cfg.RateWindow)
	drop := 0
	for drop+1 < len(r.samples) && !r.samples[drop+1].t.After(cut) {
		drop++
	}
	if drop > 0 {
		r.samples = append(r.samples[:0], r.samples[drop:]...)
	}
	base := r.samples[0]
	r.mu.Unlock()

	s := Snapshot{Name: r.cfg.Name, Unit: r.cfg.Unit, Events: n, Elapsed: now.Sub(r.start)}
	dt := now.Sub(base.t).Seconds()
	if dt > 0 && n > base.n {
		s.Rate = float64(n-base.n) / dt
	}
	var remaining, speed float64 // in position units, and per second
	if dt > 0 && pos > base.pos {
		speed = float64(pos-base.pos) / dt
	}
	if r.span {
		s.From, s.Cursor, s.To = r.from, time.Unix(0, pos).UTC(), time.Unix(0, r.to.Load()).UTC()
		remaining = float64(r.to.Load() - pos)
	} else {
		s.Total = r.total.Load()
		remaining = float64(s.Total - n)
	}
	if s.Total > 0 || r.span {
		switch {
		case remaining <= 0:
			s.ETA, s.ETAKnown = 0, true
		case speed > 0:
			s.ETA, s.ETAKnown = time.Duration(remaining/speed*float64(time.Second)), true
		}
	}
	return s
}

// Log writes one progress line through the logger now. The bar is cleared
// first and redrawn after, so the line never trails the bar. outMu is not
// held while logging: the logger may write through Writer, which takes it.
func (r *Reporter) Log() {
	s := r.Snapshot()
	r.outMu.Lock()
	r.clearLocked()
	r.outMu.Unlock()
	r.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "progress", s.LogAttrs()...)
	if r.bar {
		r.outMu.Lock()
		if !r.finished {
			r.drawLocked(s)
		}
		r.outMu.Unlock()
	}
}

// Stop ends periodic reporting, finishes the bar with a newline, logs a
// final line and returns the final Snapshot. It is idempotent and also
// works on a Reporter from New.
func (r *Reporter) Stop() Snapshot {
	r.stopOnce.Do(func() {
		close(r.done)
		if r.loopStarted.Load() {
			<-r.exited
		}
		s := r.Snapshot()
		r.outMu.Lock()
		if r.bar {
			r.drawLocked(s)
			_, _ = io.WriteString(r.cfg.Output, "\n")
			r.drawn = false
			barOwner.CompareAndSwap(r, nil)
		}
		r.finished = true
		r.outMu.Unlock()
		avg := 0.0
		if sec := s.Elapsed.Seconds(); sec > 0 {
			avg = float64(s.Events-r.cfg.Initial) / sec
		}
		attrs := append(s.LogAttrs(), slog.Float64("avg_rate_per_sec", round1(avg)))
		r.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "progress end", attrs...)
		r.final = s
	})
	return r.final
}

func (r *Reporter) draw() {
	s := r.Snapshot()
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if !r.finished {
		r.drawLocked(s)
	}
}

func (r *Reporter) drawLocked(s Snapshot) {
	line := s.Line(r.cfg.Width)
	if w := r.barWidth(); w > 1 {
		line = truncate(line, w-1) // never wrap: a wrapped line cannot be redrawn with \r
	}
	r.line = line
	_, _ = io.WriteString(r.cfg.Output, "\r"+line+"\x1b[K")
	r.drawn = true
}

func (r *Reporter) clearLocked() {
	if r.drawn {
		_, _ = io.WriteString(r.cfg.Output, "\r\x1b[K")
		r.drawn = false
	}
}
