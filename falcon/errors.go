package falcon

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. An *APIError unwraps to the one matching its status, so
// callers test with errors.Is(err, falcon.ErrNotFound).
var (
	ErrBadRequest     = errors.New("falcon: bad request")            // 400
	ErrUnauthorized   = errors.New("falcon: unauthorized")           // 401 (after one token refresh)
	ErrForbidden      = errors.New("falcon: forbidden")              // 403: scope or IP allowlist
	ErrNotFound       = errors.New("falcon: not found")              // 404
	ErrConflict       = errors.New("falcon: conflict")               // 409: max_active_tokens reached
	ErrURITooLong     = errors.New("falcon: request URI too long")   // 414
	ErrRateLimited    = errors.New("falcon: rate limited")           // 429 after all retries
	ErrServer         = errors.New("falcon: server error")           // 5xx after all retries
	ErrUnexpectedCode = errors.New("falcon: unexpected HTTP status") // any other status

	// ErrAuth: /oauth2/token refused the credentials (400/401/403) or
	// autodiscovery failed. A configuration problem: not retried.
	ErrAuth = errors.New("falcon: authentication failed")
	// ErrConfig: Config is invalid (see *ConfigError).
	ErrConfig = errors.New("falcon: invalid configuration")
	// ErrInvalidArgument: a method was called with unusable input.
	ErrInvalidArgument = errors.New("falcon: invalid argument")
	// ErrOffsetCap: the next request would need offset+limit above
	// Config.OffsetCap. Split the query into narrower windows.
	ErrOffsetCap = errors.New("falcon: offset cap reached")
	// ErrInvalidResponse: a 2xx body could not be read or decoded. Bodies
	// that are not valid JSON are retried first.
	ErrInvalidResponse = errors.New("falcon: invalid response")
)

// ConfigError names the Config field that is invalid, and its
// configuration key (the flag name, e.g. falcon-page-limit).
type ConfigError struct {
	Field  string
	Key    string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("falcon: invalid config: %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// ErrorEntry is one element of the envelope's errors array.
type ErrorEntry struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

// APIError is a non-2xx response. The body may have been unreadable, in which
// case Errors is empty but StatusCode and TraceID are still set.
type APIError struct {
	Operation  string       // contract name, e.g. "tokens_read"
	StatusCode int          // HTTP status
	TraceID    string       // X-CS-TRACEID header, else meta.trace_id
	Errors     []ErrorEntry // body errors, possibly empty
	Resources  []string     // ID strings of a 404 body
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "falcon %s: HTTP %d %s", e.Operation, e.StatusCode, http.StatusText(e.StatusCode))
	for i, m := range e.Errors {
		if i == 0 {
			b.WriteString(":")
		} else {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %d %s", m.Code, m.Message)
		if m.ID != "" {
			fmt.Fprintf(&b, " (id %s)", m.ID)
		}
	}
	if len(e.Resources) > 0 {
		fmt.Fprintf(&b, " [resources %s]", strings.Join(e.Resources, ","))
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " (trace_id %s)", e.TraceID)
	}
	return b.String()
}

// Unwrap returns the sentinel error of the status.
func (e *APIError) Unwrap() error { return statusSentinel(e.StatusCode) }

func statusSentinel(code int) error {
	switch {
	case code == http.StatusBadRequest:
		return ErrBadRequest
	case code == http.StatusUnauthorized:
		return ErrUnauthorized
	case code == http.StatusForbidden:
		return ErrForbidden
	case code == http.StatusNotFound:
		return ErrNotFound
	case code == http.StatusConflict:
		return ErrConflict
	case code == http.StatusRequestURITooLong:
		return ErrURITooLong
	case code == http.StatusTooManyRequests:
		return ErrRateLimited
	case code >= 500 && code <= 599:
		return ErrServer
	default:
		return ErrUnexpectedCode
	}
}
