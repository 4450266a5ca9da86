package sink

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// drainPoll is how often the drain watcher reads the group's committed
// offsets besides after each of this member's commits: other members
// commit too.
const drainPoll = 500 * time.Millisecond

// drainLogEvery is how often Drain logs what it still waits for.
const drainLogEvery = 5 * time.Second

// stallAfter is how long Drain waits for the group's committed offsets to
// advance before it rejoins the group: a dead member is out of the group
// after SessionTimeout, the rebalance that follows takes at most
// RebalanceTimeout, and a live owner commits within BatchAge of a fetch.
func (c Config) stallAfter() time.Duration {
	return c.SessionTimeout + c.RebalanceTimeout + c.BatchAge
}

// drainWatcher turns a run into a drain: it watches the group's committed
// offsets and stops the run once they reach the end offsets seen at start
// (the targets), whichever member committed them. When they stall, it asks
// the fetch loop to rejoin the group: a member that died while joining can
// hold partitions in the group and never commit them (kfake keeps it until
// a rebalance; a broker would after its session timeout), and a new join
// makes the coordinator drop members that do not rejoin.
type drainWatcher struct {
	s       *Sink
	client  *kafka.Client
	targets map[topicPartition]int64
	rejoin  chan struct{} // capacity 1; read by the fetch loop

	left       int64     // records the group has left to commit up to the targets
	progressAt time.Time // when left last changed, or a rejoin was asked for
	loggedAt   time.Time
	rejoins    int
}

func newDrainWatcher(s *Sink, client *kafka.Client, targets map[topicPartition]int64) *drainWatcher {
	now := time.Now()
	return &drainWatcher{s: s, client: client, targets: targets, rejoin: make(chan struct{}, 1),
		left: -1, progressAt: now, loggedAt: now}
}

// watch checks the group's offsets after every commit signalled on
// committed and every drainPoll, and calls stop once they reach the
// targets. It returns when ctx is done or after stop.
func (w *drainWatcher) watch(ctx context.Context, committed <-chan struct{}, stop context.CancelFunc) {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-committed:
		case <-t.C:
		}
		done, stalled := w.check(ctx)
		if done {
			stop()
			return
		}
		if stalled {
			w.rejoins++
			w.s.log.Info("draining: the group's committed offsets did not advance; rejoining the group",
				"group", w.s.cfg.Group, "for", time.Since(w.progressAt).Round(time.Millisecond), "records_left", w.left, "rejoins", w.rejoins)
			w.progressAt = time.Now()
			select {
			case w.rejoin <- struct{}{}:
			default:
			}
		}
	}
}

// check reports whether the group's committed offsets reached every
// target, and whether they stalled: did not advance for
// Config.stallAfter. It logs what it waits for at info level every
// drainLogEvery.
func (w *drainWatcher) check(ctx context.Context) (done, stalled bool) {
	s := w.s
	now := time.Now()
	committed, err := s.committed(ctx, w.client, keys(w.targets))
	if ctx.Err() != nil {
		return false, false
	}
	if err != nil {
		// Transient: check again later.
		s.log.Warn("checking the group's offsets", "err", err)
		return false, now.Sub(w.progressAt) >= s.cfg.stallAfter()
	}
	var left int64
	var waiting []string
	for tp, target := range w.targets {
		if c := committed[tp]; c < target {
			left += target - max(c, 0)
			waiting = append(waiting, fmt.Sprintf("%s/%d committed %d of %d", tp.topic, tp.partition, c, target))
		}
	}
	if len(waiting) == 0 {
		s.log.Info("drained to the end offsets seen at start", "partitions", len(w.targets), "rejoins", w.rejoins)
		return true, false
	}
	if left != w.left {
		w.left, w.progressAt = left, now
	}
	if now.Sub(w.loggedAt) >= drainLogEvery {
		w.loggedAt = now
		slices.Sort(waiting)
		s.log.Info("draining: waiting for the group to commit up to the end offsets seen at start",
			"records_left", left, "partitions", waiting, "since_progress", now.Sub(w.progressAt).Round(time.Millisecond))
	}
	return false, now.Sub(w.progressAt) >= s.cfg.stallAfter()
}
