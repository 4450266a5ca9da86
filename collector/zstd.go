package collector

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/kafka-go/compress"
)

// zstdWindow bounds the history a zstd encoder keeps. kafka-go's codec uses
// the library default of 8 MiB, for which each pooled encoder allocates
// about 16 MiB; a publish batch compresses a few hundred KiB per partition,
// so a 1 MiB window compresses it as well at a tenth of the memory, and the
// collector's RSS stays flat (docs/benchmarks.md).
const zstdWindow = 1 << 20

// kafka-go picks codecs from a global table by the Compression code, so the
// only way to tune its zstd encoder is to install a codec there. It happens
// at init, before any goroutine can read the table. Decoding is delegated
// to kafka-go's codec; the frames written are standard zstd.
func init() {
	compress.Codecs[compress.Zstd] = &zstdCodec{dec: compress.Codecs[compress.Zstd]}
}

type zstdCodec struct {
	dec  compress.Codec
	pool sync.Pool // *zstd.Encoder
}

func (c *zstdCodec) Code() int8                          { return int8(compress.Zstd) }
func (c *zstdCodec) Name() string                        { return "zstd" }
func (c *zstdCodec) NewReader(r io.Reader) io.ReadCloser { return c.dec.NewReader(r) }

func (c *zstdCodec) NewWriter(w io.Writer) io.WriteCloser {
	enc, _ := c.pool.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true), zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return &zstdWriter{err: err}
		}
	} else {
		enc.Reset(w)
	}
	return &zstdWriter{c: c, enc: enc}
}

type zstdWriter struct {
	c   *zstdCodec
	enc *zstd.Encoder
	err error
}

func (w *zstdWriter) Write(p []byte) (int, error) {
	if w.enc == nil {
		if w.err != nil {
			return 0, w.err
		}
		return 0, io.ErrClosedPipe
	}
	return w.enc.Write(p)
}

// Close ends the frame and returns the encoder to the pool.
func (w *zstdWriter) Close() error {
	if w.enc == nil {
		return w.err
	}
	err := w.enc.Close()
	w.enc.Reset(nil)
	w.c.pool.Put(w.enc)
	w.enc = nil
	return err
}
