package falcontest

import (
	"sync"
	"time"
)

// Clock is a settable time source shared by an emulator and its test. The nil *Clock reads real time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock frozen at t until Advance or Set moves it.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time (real time for a nil clock).
func (c *Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward when d < 0). It panics on a nil clock.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t. It panics on a nil clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
