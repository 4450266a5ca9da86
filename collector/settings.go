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
	s, err := w.api.GetCustomerSettings(ctx)
	w.apiDone(err)
	if err != nil {
		w.c.metrics.errors.WithLabelValues(w.name, "settings").Inc()
		return fmt.Errorf("customer_settings_read: %w", err)
	}
	cur := SettingsState(s)
	w.stats.settingsSnapshot = true
	if w.state.Settings != nil && w.state.Settings.Equal(cur) {
		return nil
	}
	w.c.metrics.collected.WithLabelValues(w.name, schema.TypeSettings).Inc()
	m, err := Message(w.c.cfg.Topics.Settings, SettingsRecord(w.name, w.c.now(), cur))
	if err != nil {
		return err
	}
	pctx, stop := graceContext(ctx, w.c.cfg.ShutdownTimeout)
	defer stop()
	if err := w.publish(pctx, schema.TypeSettings, []kafka.Message{m}); err != nil {
		return err
	}
	w.state.Settings = &cur
	return w.commit(pctx)
}
