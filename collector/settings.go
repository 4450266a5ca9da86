package collector

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
)

// collectSettings publishes the customer settings when they differ from the
// last published ones, or were never published.
func (w *worker) collectSettings(ctx context.Context) error {
	started := w.c.now()
	s, err := w.api.GetCustomerSettings(ctx)
	w.apiDone(err)
	if err != nil {
		w.c.metrics.errors.WithLabelValues(w.name, "settings").Inc()
		return fmt.Errorf("customer_settings_read: %w", err)
	}
	cur := SettingsState(s)
	w.stats.settingsSnapshot = true
	if w.state.Settings != nil && w.state.Settings.Equal(cur) {
		// Unchanged: a later change happened after this read. Saved with
		// the next commit; until then the older bound stays correct.
		w.state.SettingsSeenAt = started
		return nil
	}
	w.c.metrics.collected.WithLabelValues(w.name, schema.TypeSettings).Inc()
	rec := SettingsRecord(w.cid, w.name, w.c.now(), cur)
	explain(&rec.Envelope, &rec.Change, w.events[""], w.state.SettingsSeenAt, w.state.SettingsSeenAt)
	m, err := Message(w.c.cfg.Topics.Settings, rec)
	if err != nil {
		return err
	}
	pctx, stop := graceContext(ctx, w.c.cfg.ShutdownTimeout)
	defer stop()
	if err := w.publish(pctx, schema.TypeSettings, []kafka.Message{m}); err != nil {
		return err
	}
	w.state.Settings, w.state.SettingsSeenAt = &cur, started
	return w.commit(pctx)
}
