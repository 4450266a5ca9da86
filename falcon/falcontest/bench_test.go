package falcontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bigTenant is the benchmark tenant: a million audit events over 30 days, 2,000 tokens, a 15,000-event
// burst and 1% late arrivals.
func bigTenant() Config {
	return Config{Seed: 42, Tenants: []TenantConfig{{Tokens: 2000, Events: 1_000_000, Ties: 15000, LateFraction: 0.01}}}
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkTenantBuild1M builds the million-event tenant (ns/op) and reports the heap it occupies.
func BenchmarkTenantBuild1M(b *testing.B) {
	for b.Loop() {
		e, err := New(bigTenant())
		if err != nil {
			b.Fatal(err)
		}
		runtime.KeepAlive(e)
	}
	before := heapInuse()
	e, _ := New(bigTenant())
	after := heapInuse()
	b.ReportMetric(float64(after)/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(float64(after-before)/(1<<20), "tenant-MiB")
	if n := e.Tenants()[0].AuditEventCount(); n != 1_000_000 {
		b.Fatalf("built %d events", n)
	}
	runtime.KeepAlive(e)
}

var (
	benchServerOnce sync.Once
	benchServer     *Server
	benchHeap       uint64
)

// BenchmarkAuditPages serves what the collector asks for over real HTTP on loopback: an audit_events_query
// page (limit 1000, timestamp window, sort timestamp.asc, offsets 0..9000) and the audit_events_read of its
// 1000 IDs. One op is that pair of requests.
func BenchmarkAuditPages(b *testing.B) {
	// The benchmark function runs several times with growing b.N; build the server once per process.
	benchServerOnce.Do(func() {
		benchServer = NewServer(bigTenant())
		benchHeap = heapInuse()
	})
	srv, heap := benchServer, benchHeap
	tenant := srv.Emulator().Tenants()[0]
	id, secret := tenant.Credentials()
	client := srv.Client()
	resp, err := client.PostForm(srv.URL+"/oauth2/token", url.Values{"client_id": {id}, "client_secret": {secret}})
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	end := srv.Emulator().now().Truncate(time.Second)
	// get checks the status and returns the body; the client decodes only what it needs, so the CPU it shares
	// with the server goes mostly to the server.
	get := func(path string, q url.Values) ([]byte, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		return body, nil
	}
	var seq atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			// 8-hour windows (about 11,000 events each) across the 30 days; offsets walk 0..9000.
			from := end.Add(-30*24*time.Hour + time.Duration(n/10%85)*8*time.Hour)
			filter := "timestamp:>='" + from.Format(time.RFC3339) + "'+timestamp:<'" + from.Add(8*time.Hour).Format(time.RFC3339) + "'"
			var page struct {
				Resources []string `json:"resources"`
			}
			q := url.Values{"filter": {filter}, "sort": {"timestamp.asc"}, "limit": {"1000"}, "offset": {fmt.Sprint(n % 10 * 1000)}}
			body, err := get("/installation-tokens/queries/audit-events/v1", q)
			if err == nil {
				err = json.Unmarshal(body, &page)
			}
			if err != nil {
				b.Error(err)
				return
			}
			if len(page.Resources) == 0 {
				b.Errorf("empty page for %s", q.Encode())
				return
			}
			body, err = get("/installation-tokens/entities/audit-events/v1", url.Values{"ids": {strings.Join(page.Resources, ",")}})
			if err != nil {
				b.Error(err)
				return
			}
			if got := bytes.Count(body, []byte(`"action":`)); got != len(page.Resources) {
				b.Errorf("read %d of %d events", got, len(page.Resources))
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(2*b.N)/elapsed.Seconds(), "requests/s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-inuse-MiB")
}
