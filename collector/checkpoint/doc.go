// Package checkpoint answers where the collector stopped, per tenant: the
// audit-event cursor (largest exported timestamp, the IDs exported at that
// instant and a cache of IDs exported within the lookback), the last
// published state of every token and the last published settings.
//
// Two stores keep it: FileStore (one JSON file per tenant, replaced
// atomically and durably) and KafkaStore (a compacted topic keyed by tenant,
// so that a collector can move between hosts). A checkpoint that exists but
// cannot be read or decoded is a *CorruptError (errors.Is ErrCorrupt): the
// collector stops instead of silently starting over.
//
// A checkpoint never holds a token value or a credential.
package checkpoint
