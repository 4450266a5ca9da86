package progress

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// Snapshot is the progress at one instant.
type Snapshot struct {
	Name   string
	Unit   string
	Events int64 // units done, Initial included
	Total  int64 // expected units; 0 = unknown (always in span mode)
	// From, Cursor and To are set in span mode: the work covers From to To
	// and is done up to Cursor.
	From, Cursor, To time.Time
	Elapsed          time.Duration // since the Reporter was created
	// Rate is units per second averaged over the last RateWindow (over the
	// whole run while it is younger than that); 0 before any progress.
	Rate float64
	// ETA is the estimated time left. It is meaningful only when ETAKnown,
	// which needs a known Total (or a span) and progress within RateWindow,
	// or the end reached.
	ETA      time.Duration
	ETAKnown bool
}

// Fraction returns the part done, between 0 and 1: Events/Total, or in span
// mode how far Cursor is from From towards To. It returns false when neither
// a Total nor a span is known.
func (s Snapshot) Fraction() (float64, bool) {
	var f float64
	switch {
	case s.Total > 0:
		f = float64(s.Events) / float64(s.Total)
	case !s.To.IsZero():
		if !s.To.After(s.From) {
			return 1, true
		}
		f = float64(s.Cursor.Sub(s.From)) / float64(s.To.Sub(s.From))
	default:
		return 0, false
	}
	return math.Max(0, math.Min(1, f)), true
}

// span reports whether the snapshot is of a span-mode Reporter.
func (s Snapshot) span() bool { return !s.To.IsZero() }

// LogAttrs returns the attributes of a progress log line: task, events,
// total (when known), percent (when a total or span is known), cursor and
// behind (span mode: the cursor and how far it is from the end), rate_per_sec,
// eta (a duration string, "unknown" without an estimate) and elapsed.
func (s Snapshot) LogAttrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs, slog.String("task", s.Name), slog.Int64("events", s.Events))
	if s.Total > 0 {
		attrs = append(attrs, slog.Int64("total", s.Total))
	}
	if f, ok := s.Fraction(); ok {
		attrs = append(attrs, slog.Float64("percent", round1(100*f)))
	}
	if s.span() {
		attrs = append(attrs, slog.String("cursor", s.Cursor.Format(time.RFC3339)),
			slog.String("behind", max(0, s.To.Sub(s.Cursor)).Round(time.Second).String()))
	}
	attrs = append(attrs, slog.Float64("rate_per_sec", round1(s.Rate)), slog.String("eta", s.etaString("unknown")),
		slog.String("elapsed", s.Elapsed.Round(time.Second).String()))
	return attrs
}

// Line renders the one-line bar (without the carriage return) with a bar of
// width cells. With an unknown total it shows the count, rate and elapsed
// time instead of a bar.
func (s Snapshot) Line(width int) string {
	var b strings.Builder
	if s.Name != "" {
		b.WriteString(s.Name)
		b.WriteByte(' ')
	}
	f, ok := s.Fraction()
	if !ok {
		fmt.Fprintf(&b, "%s %s  %s/s  elapsed %s", human(float64(s.Events)), s.Unit, humanRate(s.Rate),
			s.Elapsed.Round(time.Second))
		return b.String()
	}
	if width < 1 {
		width = 1
	}
	filled := int(f * float64(width))
	b.WriteByte('[')
	b.WriteString(strings.Repeat("=", filled))
	if filled < width {
		b.WriteByte('>')
		b.WriteString(strings.Repeat(" ", width-filled-1))
	}
	count := human(float64(s.Events)) + "/" + human(float64(s.Total))
	if s.Total <= 0 {
		count = human(float64(s.Events)) + " " + s.Unit
	}
	fmt.Fprintf(&b, "] %5.1f%%  %s  %s/s  ETA %s", 100*f, count, humanRate(s.Rate), s.etaString("--"))
	return b.String()
}

func (s Snapshot) etaString(unknown string) string {
	if !s.ETAKnown {
		return unknown
	}
	return s.ETA.Round(time.Second).String()
}

// human formats a count compactly: 999, 45.3k, 1.20M, 3.41G.
func human(v float64) string {
	switch a := math.Abs(v); {
	case a < 1e3:
		return fmt.Sprintf("%.0f", v)
	case a < 1e6:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a < 1e9:
		return fmt.Sprintf("%.2fM", v/1e6)
	default:
		return fmt.Sprintf("%.2fG", v/1e9)
	}
}

// humanRate keeps one decimal for slow rates (a throttled API does a few
// requests a second).
func humanRate(v float64) string {
	if math.Abs(v) < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return human(v)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
