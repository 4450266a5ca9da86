package falcontest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

type rateHeaders struct{ limit, remaining int }

// window is a sliding 60-second window: the times of the requests it counted, oldest first.
type window struct {
	times []int64
	head  int
}

const windowSpan = int64(time.Minute)

// take counts a request at now unless limit requests already lie in (now-60s, now]. It returns the
// remaining budget, or, when refused, the instant the oldest counted request leaves the window.
func (w *window) take(now int64, limit int) (ok bool, remaining int, retryAt int64) {
	for w.head < len(w.times) && w.times[w.head] <= now-windowSpan {
		w.head++
	}
	if w.head > 1024 && w.head > len(w.times)/2 {
		w.times = append(w.times[:0], w.times[w.head:]...)
		w.head = 0
	}
	n := len(w.times) - w.head
	if n >= limit {
		return false, 0, w.times[w.head] + windowSpan
	}
	w.times = append(w.times, now)
	return true, limit - n - 1, 0
}

type windows struct {
	m map[string]*window
}

func (ws *windows) get(key string) *window {
	w, ok := ws.m[key]
	if !ok {
		if len(ws.m) > 10000 { // many source addresses: forget idle ones
			for k, v := range ws.m {
				if len(v.times) == v.head {
					delete(ws.m, k)
				}
			}
		}
		w = &window{}
		ws.m[key] = w
	}
	return w
}

type limiter struct {
	mu        sync.Mutex
	cid       windows
	badBearer windows
	tokenIP   windows
}

func (l *limiter) init() {
	l.cid.m, l.badBearer.m, l.tokenIP.m = map[string]*window{}, map[string]*window{}, map[string]*window{}
}

func (e *Emulator) limited() bool { return e.cfg.RateLimit.PerMinute > 0 }

// rateLimitCID counts an authenticated request against its CID's window.
func (e *Emulator) rateLimitCID(rc *reqCtx) (response, bool) {
	if !e.limited() {
		return response{}, true
	}
	return e.take(rc, &e.limits.cid, cidKey(rc.tenant.cid), e.cfg.RateLimit.PerMinute)
}

// rateLimitIP counts a request against a per-source-IP window.
func (e *Emulator) rateLimitIP(rc *reqCtx, ws *windows, limit int) (response, bool) {
	if !e.limited() {
		return response{}, true
	}
	return e.take(rc, ws, rc.ip, limit)
}

func (e *Emulator) take(rc *reqCtx, ws *windows, key string, limit int) (response, bool) {
	e.limits.mu.Lock()
	ok, remaining, retryAt := ws.get(key).take(rc.now.UnixNano(), limit)
	e.limits.mu.Unlock()
	rc.rl = rateHeaders{limit: limit, remaining: remaining}
	if ok {
		return response{}, true
	}
	return e.tooManyRequests(rc, retryAt), false
}

// tooManyRequests is the gateway's 429; X-RateLimit-RetryAfter is epoch seconds, rounded up.
func (e *Emulator) tooManyRequests(rc *reqCtx, retryAt int64) response {
	rc.rl.remaining = 0
	resp := e.gatewayError(rc, http.StatusTooManyRequests, "API rate limit exceeded.")
	secs := (retryAt + int64(time.Second) - 1) / int64(time.Second)
	resp.header = map[string]string{"X-RateLimit-RetryAfter": strconv.FormatInt(secs, 10)}
	return resp
}
