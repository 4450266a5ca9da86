package falcontest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
)

// eventIDs turns an audit event's sequence number into its 32-hex ID and back. The ID is an AES encryption
// of (tenant tag, seq): it looks random, is unique, and decrypting it finds the event in O(1) without an
// ID index, which keeps a million-event tenant small.
type eventIDs struct {
	block cipher.Block
	tag   [12]byte
}

func newEventIDs(seed int64, cid string) *eventIDs {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte("audit-event-ids\x00" + cid))
	sum := h.Sum(nil)
	block, err := aes.NewCipher(sum[:16])
	if err != nil {
		panic(err) // 16-byte keys are always valid
	}
	c := &eventIDs{block: block}
	copy(c.tag[:], sum[16:28])
	return c
}

func (c *eventIDs) encode(seq uint32) (id [16]byte) {
	var src [16]byte
	copy(src[:12], c.tag[:])
	binary.BigEndian.PutUint32(src[12:], seq)
	c.block.Encrypt(id[:], src[:])
	return id
}

func (c *eventIDs) decode(id [16]byte) (uint32, bool) {
	var plain [16]byte
	c.block.Decrypt(plain[:], id[:])
	if [12]byte(plain[:12]) != c.tag {
		return 0, false
	}
	return binary.BigEndian.Uint32(plain[12:]), true
}

// parseID decodes a 32-hex ID, case-insensitively.
func parseID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 32 {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, false
	}
	return id, true
}

func appendID(b []byte, id [16]byte) []byte {
	return hex.AppendEncode(b, id[:])
}

func idString(id [16]byte) string { return hex.EncodeToString(id[:]) }

func randomID(r *rand.Rand) (id [16]byte) {
	binary.LittleEndian.PutUint64(id[:8], r.Uint64())
	binary.LittleEndian.PutUint64(id[8:], r.Uint64())
	return id
}

// newRand returns a deterministic generator for one purpose of one seed.
func newRand(seed int64, purpose string) *rand.Rand {
	h := sha256.Sum256([]byte(purpose))
	return rand.New(rand.NewPCG(uint64(seed)^binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])))
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomSecret(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// DerivedCID is the CID New gives the index-th tenant when its TenantConfig.CID is empty.
func DerivedCID(seed int64, index int) string {
	r := newRand(seed, "cid/"+strconv.Itoa(index))
	return idString(randomID(r))
}
