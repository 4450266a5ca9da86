package falcontest

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

const (
	poweredByService = "installation-tokens"
	poweredByGateway = "crowdstrike-api-gateway"
)

type response struct {
	status      int
	body        []byte
	contentType string            // "" = application/json
	header      map[string]string // extra headers, names sent as written
	fault       FaultKind         // applied while writing: truncate, invalid_json or reset
}

type apiError struct {
	code    int
	message string
	id      string
}

type pagination struct {
	offset, limit int
	total         int
}

type envelope struct {
	poweredBy  string
	pagination *pagination
	resources  func(b []byte) []byte // appends the resources value; nil = no resources key
	errors     []apiError
	sizeHint   int // expected size of the resources value
}

func appendNull(b []byte) []byte { return append(b, "null"...) }

func appendStringList(ids []string) func([]byte) []byte {
	return func(b []byte) []byte {
		b = append(b, '[')
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, id)
		}
		return append(b, ']')
	}
}

func (e *Emulator) render(rc *reqCtx, env envelope) []byte {
	b := make([]byte, 0, 512+env.sizeHint)
	b = append(b, `{"meta":{"query_time":`...)
	b = strconv.AppendFloat(b, max(time.Since(rc.start).Seconds(), 1e-7), 'g', 4, 64)
	b = append(b, `,"powered_by":`...)
	b = appendJSONString(b, env.poweredBy)
	b = append(b, `,"trace_id":`...)
	b = appendJSONString(b, rc.trace)
	if p := env.pagination; p != nil {
		b = append(b, `,"pagination":{"offset":`...)
		b = strconv.AppendInt(b, int64(p.offset), 10)
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, int64(p.limit), 10)
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(p.total), 10)
		b = append(b, '}')
	}
	b = append(b, '}')
	if env.resources != nil {
		b = append(b, `,"resources":`...)
		b = env.resources(b)
	}
	if len(env.errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, er := range env.errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"code":`...)
			b = strconv.AppendInt(b, int64(er.code), 10)
			b = append(b, `,"message":`...)
			b = appendJSONString(b, er.message)
			if er.id != "" {
				b = append(b, `,"id":`...)
				b = appendJSONString(b, er.id)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	} else {
		switch e.faults.errorsStyle() {
		case "null":
			b = append(b, `,"errors":null`...)
		case "absent":
		default:
			b = append(b, `,"errors":[]`...)
		}
	}
	return append(b, '}')
}

func (e *Emulator) ok(rc *reqCtx, status int, env envelope) response {
	env.poweredBy = poweredByService
	return response{status: status, body: e.render(rc, env)}
}

// serviceError is an error the Installation Tokens service itself returns (400, 409, 500): meta, errors and
// "resources": null as in contract §4.
func (e *Emulator) serviceError(rc *reqCtx, status int, msg string) response {
	return response{status: status, body: e.render(rc, envelope{
		poweredBy: poweredByService, resources: appendNull, errors: []apiError{{code: status, message: msg}},
	})}
}

func (e *Emulator) badRequest(rc *reqCtx, msg string) response {
	return e.serviceError(rc, http.StatusBadRequest, msg)
}

// gatewayError is an error from the API gateway (401, 403, 404 for unknown paths, 429): no resources unless
// Faults.ResourcesNullOnError.
func (e *Emulator) gatewayError(rc *reqCtx, status int, msg string) response {
	env := envelope{poweredBy: poweredByGateway, errors: []apiError{{code: status, message: msg}}}
	if e.faults.resourcesNull() {
		env.resources = appendNull
	}
	return response{status: status, body: e.render(rc, env)}
}

// notFound is the 404 of update/delete: meta, resources (the unknown IDs) and errors.
func (e *Emulator) notFound(rc *reqCtx, ids []string, what string) response {
	errs := make([]apiError, 0, len(ids))
	for _, id := range ids {
		errs = append(errs, apiError{code: http.StatusNotFound, message: what + " not found", id: id})
	}
	if len(errs) == 0 {
		errs = append(errs, apiError{code: http.StatusNotFound, message: what + " not found"})
	}
	if ids == nil {
		ids = []string{}
	}
	return response{status: http.StatusNotFound, body: e.render(rc, envelope{
		poweredBy: poweredByService, resources: appendStringList(ids), errors: errs,
	})}
}

// write sends resp with the headers every response carries, applying body faults. It returns the status
// sent, 0 for a reset connection.
func (e *Emulator) write(rc *reqCtx, resp response) int {
	if resp.fault == FaultReset && resetConnection(rc.w) {
		return 0
	}
	h := rc.w.Header()
	ct := resp.contentType
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	// Exact spellings as the service sends them; clients must match names case-insensitively.
	h["X-CS-TRACEID"] = []string{rc.trace}
	h["X-RateLimit-Limit"] = []string{strconv.Itoa(rc.rl.limit)}
	h["X-RateLimit-Remaining"] = []string{strconv.Itoa(rc.rl.remaining)}
	for k, v := range resp.header {
		h[k] = []string{v}
	}
	body := resp.body
	switch resp.fault {
	case FaultTruncate:
		// Announce the full length and stop mid-body: the client sees the connection end early.
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if len(body) > 1 {
			body = body[:e.faults.intN(len(body)-1)+1]
		}
	case FaultInvalidJSON:
		body = corruptJSON(body)
	}
	rc.w.WriteHeader(resp.status)
	rc.w.Write(body)
	return resp.status
}

func corruptJSON(b []byte) []byte {
	out := bytes.Clone(b)
	if i := bytes.IndexByte(out, ':'); i >= 0 {
		out[i] = ';'
		return out
	}
	return append([]byte("<html>"), out...)
}

// resetConnection closes the client connection with a TCP reset instead of a response.
func resetConnection(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
	return true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends s escaped for the inside of a JSON string.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

const (
	layoutSeconds = "2006-01-02T15:04:05Z"
	layoutMicros  = "2006-01-02T15:04:05.000000Z"
)

// appendTime appends a quoted timestamp in the emulator's precision, or the unset form.
func (e *Emulator) appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return e.appendUnset(b)
	}
	layout := layoutSeconds
	if e.cfg.FractionalTimestamps {
		layout = layoutMicros
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, layout)
	return append(b, '"')
}

// appendExpiry appends expires_timestamp, always whole seconds.
func (e *Emulator) appendExpiry(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return e.appendUnset(b)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, layoutSeconds)
	return append(b, '"')
}

func (e *Emulator) appendUnset(b []byte) []byte {
	switch {
	case !e.cfg.ZeroTimeForUnset:
		return append(b, "null"...)
	case e.cfg.FractionalTimestamps:
		return append(b, `"0001-01-01T00:00:00.000Z"`...)
	}
	return append(b, `"0001-01-01T00:00:00Z"`...)
}
