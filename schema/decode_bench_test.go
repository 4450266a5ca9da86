package schema

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// auditStream returns n different audit events as the collector writes
// them: distinct ids, actors from a set of 50 (users and API clients),
// descriptions of 100 to 200 bytes, token ids, timestamps a few seconds
// apart, pages of 500 collected at the same time.
func auditStream(n int) [][]byte {
	actions := []string{"create_token", "update_token", "revoke_token", "delete_token", "update_settings"}
	actors := make([]string, 50)
	for i := range actors {
		if i%3 == 0 {
			actors[i] = fmt.Sprintf("%032x", i*7919)
		} else {
			actors[i] = fmt.Sprintf("user%02d@example.com", i)
		}
	}
	words := strings.Fields("token label expiry changed from to by the console user installation policy group sensor " +
		"host update revoked created deleted settings maximum active required")
	base := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		var desc strings.Builder
		want := 100 + i*37%101
		for j := i; desc.Len() < want; j += 7 {
			desc.WriteString(words[j%len(words)])
			desc.WriteByte(' ')
		}
		action := actions[i%len(actions)]
		tokenID := fmt.Sprintf("%032x", i%5000*104729)
		if action == "update_settings" {
			tokenID = ""
		}
		at := base.Add(time.Duration(i)*1733*time.Millisecond + time.Duration(i%1000)*time.Microsecond)
		// The collector stamps a page of events with the time it read them.
		collected := base.Add(time.Duration(i/500+1)*500*1733*time.Millisecond + 30*time.Second + 123456*time.Microsecond)
		ev := &AuditEvent{Envelope: NewEnvelope(TypeAuditEvent, "0123456789abcdef0123456789abcdef", "tenant-eu", collected),
			ID: fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15), Action: action, Actor: actors[i*13%len(actors)],
			Description: desc.String()[:want], Timestamp: at, TokenID: tokenID}
		ev.Complete()
		data, err := Marshal(ev)
		if err != nil {
			panic(err)
		}
		out[i] = data
	}
	return out
}

// BenchmarkDecodeStream decodes a stream of 10,000 different audit events
// with one Decoder, as the sink does: one op is one record. "columns" also
// appends each record to column buffers (reset every 50,000 records, the
// sink's default batch), which keep its strings as the sink's do.
func BenchmarkDecodeStream(b *testing.B) {
	stream := auditStream(10000)
	var size int
	for _, data := range stream {
		size += len(data)
	}
	b.Run("decode", func(b *testing.B) {
		var d Decoder
		b.SetBytes(int64(size / len(stream)))
		defer reportAllocs(b)()
		for i := 0; b.Loop(); i++ {
			if _, err := d.Decode(stream[i%len(stream)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("columns", func(b *testing.B) {
		var d Decoder
		var cols Columns[AuditEvent]
		b.SetBytes(int64(size / len(stream)))
		defer reportAllocs(b)()
		for i := 0; b.Loop(); i++ {
			r, err := d.Decode(stream[i%len(stream)])
			if err != nil {
				b.Fatal(err)
			}
			if err := cols.Append(r.(*AuditEvent)); err != nil {
				b.Fatal(err)
			}
			if cols.Len() == 50000 {
				cols.Reset()
			}
		}
	})
}

// reportAllocs reports allocs/record with two decimals (allocs/op is
// rounded down to an integer) and B/record; call the function it returns
// when the loop is done.
func reportAllocs(b *testing.B) func() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	mallocs, bytes := m.Mallocs, m.TotalAlloc
	return func() {
		runtime.ReadMemStats(&m)
		b.ReportMetric(float64(m.Mallocs-mallocs)/float64(b.N), "allocs/record")
		b.ReportMetric(float64(m.TotalAlloc-bytes)/float64(b.N), "B/record")
	}
}
