package fql

import (
	"fmt"
	"strings"
)

// SortKey is one element of a sort parameter.
type SortKey struct {
	Field string
	Desc  bool
}

// String renders the key as field.asc or field.desc.
func (k SortKey) String() string {
	if k.Desc {
		return k.Field + ".desc"
	}
	return k.Field + ".asc"
}

// ParseSort parses a sort parameter: comma-separated keys written field.asc, field.desc, field|asc,
// field|desc or field alone (ascending). An empty parameter yields no keys.
func ParseSort(s string) ([]SortKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []SortKey
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		k := SortKey{Field: part}
		if i := strings.LastIndexAny(part, ".|"); i >= 0 {
			switch dir := strings.ToLower(strings.TrimSpace(part[i+1:])); dir {
			case "asc", "desc":
				k = SortKey{Field: strings.TrimSpace(part[:i]), Desc: dir == "desc"}
			default:
				return nil, fmt.Errorf("invalid sort %q: direction must be asc or desc, got %q", part, part[i+1:])
			}
		}
		if k.Field == "" || !isIdentStart(k.Field[0]) || strings.ContainsFunc(k.Field, func(r rune) bool {
			return r > 0x7f || !isIdent(byte(r))
		}) {
			return nil, fmt.Errorf("invalid sort %q: expected field.asc or field.desc", part)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
