// Package falcontest emulates the CrowdStrike Falcon Installation Tokens API for tests and local runs, the
// way net/http/httptest serves handlers: NewServer starts it on a loopback port, New returns the bare
// http.Handler. It stands on the wire contract alone (/work/shared/falcon-api.md) and never imports the
// project's client.
//
// What it serves:
//   - the nine operations under /installation-tokens/ (tokens, audit events, customer settings) with the
//     contract's paths, methods, statuses and bodies: 201 on create, 409 when max_active_tokens is reached,
//     404 with resources on unknown IDs, the exact offset-cap 400;
//   - POST /oauth2/token (form or Basic credentials, member_cid, X-CS-Region, 201) and /oauth2/revoke;
//     access tokens expire after Config.TokenTTL on the emulator's Clock; 401 for missing, expired or
//     revoked bearers, 403 for missing scopes;
//   - gateway behaviour: X-CS-TRACEID (equal to meta.trace_id) and X-RateLimit-Limit/Remaining on every
//     response, per-CID sliding windows and per-IP buckets with 429 and X-RateLimit-RetryAfter (epoch
//     seconds) when Config.RateLimit is set;
//   - FQL filters and sorts on every documented field (package fql);
//   - fault injection (Faults): 5xx, latency, 429 storms, truncated or invalid bodies, connection resets,
//     response-shape variants, '>' acting as '>=', by probability or schedule, per operation.
//
// Tenants are synthetic and deterministic for Config.Seed: tokens whose audit trail tells their lifecycle,
// bursts of events sharing one timestamp (TenantConfig.Ties, larger than a page if asked), and late
// arrivals that become visible only when the Clock reaches them. Tenant methods change state exactly as the
// API does (audit events included) and expose it for assertions; RunActivity keeps tenants changing.
//
// Scale: audit events are stored as parallel slices (about 25 bytes each plus shared strings) with IDs
// derived from sequence numbers by AES, ordered by (timestamp, id) in a blocked index. A timestamp-window
// query sorted by timestamp costs O(log n + page); reads by ID are O(1) each. A million-event tenant takes
// well under 256 MiB (see BenchmarkTenantBuild1M). Other filters scan the candidate range.
//
// Decisions where the contract leaves room: default sort is timestamp (audit) or created_timestamp
// (tokens) ascending; ties break by id ascending; unset timestamps sort first in both directions; unknown
// FQL fields are 400; null max_active_tokens in a settings patch removes the limit; resets and body
// faults happen after the request took effect, 5xx and 429 faults before.
package falcontest
