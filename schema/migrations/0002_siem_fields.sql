-- 0002: schema_version 2 fields (issue 15). Rows stored before this migration get the defaults: cid '' (unknown),
-- event_time = the audit event's timestamp or the collection time, as the sink derives them from schema_version 1 records.
-- Nullable strings of the records (token_id, audit_event_id) are '' here, as token_id always was.

ALTER TABLE audit_events ADD COLUMN cid String DEFAULT '';
ALTER TABLE audit_events ADD COLUMN event_time DateTime('UTC') DEFAULT timestamp;
ALTER TABLE audit_events ADD COLUMN event_time_source String DEFAULT 'audit_event';
ALTER TABLE tokens ADD COLUMN cid String DEFAULT '';
ALTER TABLE tokens ADD COLUMN event_time DateTime('UTC') DEFAULT collected_at;
ALTER TABLE tokens ADD COLUMN event_time_source String DEFAULT 'snapshot';
ALTER TABLE token_changes ADD COLUMN cid String DEFAULT '';
ALTER TABLE token_changes ADD COLUMN event_time DateTime('UTC') DEFAULT collected_at;
ALTER TABLE token_changes ADD COLUMN event_time_source String DEFAULT 'snapshot';
ALTER TABLE settings_changes ADD COLUMN cid String DEFAULT '';
ALTER TABLE settings_changes ADD COLUMN event_time DateTime('UTC') DEFAULT collected_at;
ALTER TABLE settings_changes ADD COLUMN event_time_source String DEFAULT 'snapshot';
ALTER TABLE audit_events ADD COLUMN actor_kind String DEFAULT '';
ALTER TABLE tokens ADD COLUMN audit_event_id String DEFAULT '';
ALTER TABLE tokens ADD COLUMN changed_after Nullable(DateTime('UTC'));
ALTER TABLE token_changes ADD COLUMN audit_event_id String DEFAULT '';
ALTER TABLE token_changes ADD COLUMN changed_after Nullable(DateTime('UTC'));
ALTER TABLE settings_changes ADD COLUMN id String DEFAULT '';
ALTER TABLE settings_changes ADD COLUMN audit_event_id String DEFAULT '';
ALTER TABLE settings_changes ADD COLUMN changed_after Nullable(DateTime('UTC'));
