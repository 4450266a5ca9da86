// Package collector exports CrowdStrike Falcon installation-token data to
// Kafka, incrementally and with checkpoints: audit events, tokens and
// customer settings of one or more tenants (CIDs).
//
// Audit events are paged by time window on timestamp with an inclusive
// lower bound (timestamp:>='T', sort timestamp.asc); the checkpoint keeps
// the IDs already published at T, so ties are neither lost nor sent twice.
// A window holding more events than the offset cap lets a query page
// through is split at the newest timestamp reached instead of paged
// deeper. Windows end at now minus SettleLag, and every poll re-reads from
// T minus Lookback to catch events that became visible late, skipping IDs
// published inside the lookback.
//
// Tokens change in place and have no modification timestamp: every poll
// reads the whole set and publishes a record for each token that is new,
// changed in any field, or gone (deleted: true). The token value never
// leaves the collector: records carry value_fingerprint, HMAC-SHA256 of the
// value under Config.FingerprintKey. Without a configured key the public
// DefaultFingerprintKey is used and a warning is logged; fingerprints are
// then stable across restarts but anyone can test guesses against them, so
// operators set their own key. Settings are published when they change.
//
// Checkpoints (package checkpoint) advance only after Kafka acknowledged
// every record before them, so a crash at any point loses nothing and
// repeats at most the batch that was in flight. Records, keys and headers
// follow package schema; every record is keyed by its id (settings: by
// tenant).
package collector
