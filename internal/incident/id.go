package incident

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new incident id: "inc-" and 13 characters that sort by creation time
// (milliseconds) and carry 22 random bits, so ids are unique per incident, including one that
// breaks again after it resolved (PagerDuty drops events for a resolved dedup_key).
func NewID(now time.Time) string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	v := uint64(now.UnixMilli())<<22 | uint64(binary.BigEndian.Uint32(rnd[:]))>>10
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return "inc-" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}
