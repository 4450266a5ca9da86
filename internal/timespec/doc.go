// Package timespec parses the points in time and durations operators type:
// ingest's --start-time and report's --since/--until share it, so both
// accept the same forms.
package timespec
