// Package falcon is a typed client for the nine operations of the
// CrowdStrike Falcon Installation Tokens API (contract:
// /work/shared/falcon-api.md): tokens_query, tokens_read, tokens_create,
// tokens_update, tokens_delete, audit_events_query, audit_events_read,
// customer_settings_read and customer_settings_update.
//
// # Authentication
//
// New takes a Config of plain fields whose zero values are the documented
// defaults. The client gets OAuth2 tokens with client credentials
// (golang.org/x/oauth2/clientcredentials, form credentials, optional
// member_cid), renews them RenewBefore ahead of expiry with one fetch shared
// by all goroutines, and on a 401 refreshes once and retries once.
// 400/401/403 from /oauth2/token are configuration errors (ErrAuth), never
// retried in a loop. Without Cloud or BaseURL the cloud is autodiscovered
// from the X-CS-Region header of the first token response; GovClouds must be
// named. Revoke releases the token at shutdown.
//
// # Rate limits and retries
//
// One limiter per Client: a 429 pauses every goroutine until
// X-RateLimit-RetryAfter (epoch seconds, or milliseconds above 1e12; 1-60 s),
// requests are spaced 200 ms / 500 ms apart while X-RateLimit-Remaining is at
// or below 10 / 5, and RequestsPerMinute caps the client's share of the
// CID-wide budget. 429, 5xx, network errors and unreadable 2xx bodies are
// retried (github.com/sethvargo/go-retry, jittered exponential backoff,
// MaxRetries); other 4xx are not. tokens_create is not idempotent, so an
// ambiguous failure (transport error, unreadable 2xx) is reported instead.
//
// # Errors
//
// Non-2xx answers are *APIError (operation, status, X-CS-TRACEID, body
// errors) and match a sentinel with errors.Is: ErrBadRequest,
// ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrRateLimited,
// ErrServer. Other sentinels: ErrAuth, ErrConfig, ErrInvalidArgument,
// ErrOffsetCap, ErrInvalidResponse.
//
// # Reads, writes and paging
//
// Reads split ID lists (IDsPerRead), halve a batch after 414 (or 400 for a
// long batch), return results in request order and leave out IDs the API
// does not return (Missing lists them). A 404 on delete means "already
// gone". Writes accept both the 2025 object responses and the older ID
// lists. Pager walks query pages and stops with ErrOffsetCap before
// offset+limit would pass OffsetCap, so callers can narrow their window.
//
// The token value is a Secret: printing, logging or JSON-encoding it yields
// "[REDACTED]"; Reveal returns it for a keyed fingerprint.
//
// The emulator in falcon/falcontest serves the same contract for tests.
package falcon
