package progress

import "io"

// Writer wraps the writer that log lines go to (usually os.Stderr, the
// bar's Output) so that a line written while a bar is on screen appears
// above the bar rather than glued to it: the bar is cleared, the line
// written, and the bar redrawn. Without a bar it writes straight through.
//
//	log := slog.New(slog.NewTextHandler(progress.Writer(os.Stderr), nil))
func Writer(w io.Writer) io.Writer { return &writer{w: w} }

type writer struct{ w io.Writer }

func (w *writer) Write(p []byte) (int, error) {
	r := barOwner.Load()
	if r == nil {
		return w.w.Write(p)
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if r.finished || !r.drawn {
		return w.w.Write(p)
	}
	_, _ = io.WriteString(r.cfg.Output, "\r\x1b[K")
	n, err := w.w.Write(p)
	_, _ = io.WriteString(r.cfg.Output, "\r"+r.line+"\x1b[K")
	return n, err
}
