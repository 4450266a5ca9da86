package falcontest

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

type faultState struct {
	mu     sync.Mutex
	f      Faults
	ops    map[string]bool // nil = every operation
	rng    *rand.Rand
	counts []int // matching requests seen, per schedule entry
}

type faultDecision struct {
	kind    FaultKind
	latency time.Duration
}

func (fs *faultState) set(f Faults, rng *rand.Rand) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.f = f
	fs.ops = nil
	if len(f.Operations) > 0 {
		fs.ops = map[string]bool{}
		for _, op := range f.Operations {
			fs.ops[op] = true
		}
	}
	fs.counts = make([]int, len(f.Schedule))
	if rng != nil {
		fs.rng = rng
	}
}

func (fs *faultState) applies(op string) bool { return fs.ops == nil || fs.ops[op] }

// decide picks the fault for one request of op: a scheduled one first, else independent draws.
func (fs *faultState) decide(op string) faultDecision {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var d faultDecision
	for i, s := range fs.f.Schedule {
		if s.Operation == op || (s.Operation == "" && fs.applies(op)) {
			fs.counts[i]++
			if n := fs.counts[i]; d.kind == "" && n >= s.Nth && n < s.Nth+max(s.Count, 1) {
				d.kind = s.Kind
			}
		}
	}
	if !fs.applies(op) {
		return d
	}
	d.latency = fs.f.Latency
	if d.kind != "" {
		return d
	}
	hit := func(p float64) bool { return p > 0 && fs.rng.Float64() < p }
	switch {
	case hit(fs.f.ServerErrorRate):
		switch x := fs.rng.IntN(10); {
		case x < 6:
			d.kind = FaultServerError
		case x < 8:
			d.kind = FaultBadGateway
		default:
			d.kind = FaultUnavailable
		}
	case hit(fs.f.RateLimitStormRate):
		d.kind = FaultRateLimitStorm
	case hit(fs.f.ResetRate):
		d.kind = FaultReset
	case hit(fs.f.TruncateRate):
		d.kind = FaultTruncate
	case hit(fs.f.InvalidJSONRate):
		d.kind = FaultInvalidJSON
	}
	return d
}

func (fs *faultState) intN(n int) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.rng.IntN(n)
}

func (fs *faultState) errorsStyle() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.ErrorsStyle
}

func (fs *faultState) resourcesNull() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.ResourcesNullOnError
}

func (fs *faultState) greaterAsGreaterEqual() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.GreaterActsAsGreaterEqual
}

const badGatewayHTML = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"

// preFault applies latency and the faults that replace processing. ok reports that resp must be sent as is.
func (e *Emulator) preFault(rc *reqCtx, d faultDecision) (resp response, ok bool) {
	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-t.C:
		case <-rc.r.Context().Done():
			t.Stop()
		}
	}
	switch d.kind {
	case FaultServerError:
		return e.serviceError(rc, http.StatusInternalServerError,
			"Internal Server Error: Please provide trace-id='"+rc.trace+"' to support"), true
	case FaultBadGateway:
		return response{status: http.StatusBadGateway, body: []byte(badGatewayHTML), contentType: "text/html"}, true
	case FaultUnavailable:
		return e.gatewayError(rc, http.StatusServiceUnavailable, "Service Unavailable"), true
	case FaultRateLimitStorm:
		if e.limited() {
			rc.rl.limit = e.cfg.RateLimit.PerMinute
		}
		return e.tooManyRequests(rc, rc.now.Add(time.Duration(1+e.faults.intN(3))*time.Second).UnixNano()), true
	case FaultNotFound:
		return e.notFound(rc, nil, "entity"), true
	}
	return response{}, false
}
