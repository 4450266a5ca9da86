package kafkaconn

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// SummaryLogger is a kafka-go error logger that does not flood: the first
// error of each period is logged at WARN, the others of the period are
// counted and summarised in one line with the last of them when the next
// period's first error comes. kafka-go repeats a broker outage many times
// a minute.
func SummaryLogger(log *slog.Logger, period time.Duration) kafka.Logger {
	s := &summary{log: log, period: period, now: time.Now}
	return kafka.LoggerFunc(s.printf)
}

type summary struct {
	log    *slog.Logger
	period time.Duration
	now    func() time.Time

	mu         sync.Mutex
	start      time.Time // of the current period; zero before the first error
	suppressed int
	last       string
}

func (s *summary) printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	now := s.now()
	if !s.start.IsZero() && now.Sub(s.start) < s.period {
		s.suppressed++
		s.last = msg
		s.mu.Unlock()
		return
	}
	suppressed, last, since := s.suppressed, s.last, s.start
	s.start, s.suppressed, s.last = now, 0, ""
	s.mu.Unlock()
	if suppressed > 0 {
		s.log.Warn("kafka: more errors", "count", suppressed, "since", since.UTC().Format(time.RFC3339), "last", last)
	}
	s.log.Warn("kafka: " + msg)
}
