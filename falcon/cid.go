package falcon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sethvargo/go-retry"
)

// ErrNoCID: the access token names no CID and no MemberCID is configured.
var ErrNoCID = errors.New("falcon: the access token names no CID")

// CID returns the customer ID the client acts for, as other Falcon data
// spells it: lowercase, without a CCID's "-XX" checksum. It is the cid
// claim of the OAuth2 access token (a JWT; Assumption: the contract does not
// list its claims, the emulator issues it), else the configured MemberCID.
// It fetches a token if none is held, retrying transient failures as every
// request does.
func (c *Client) CID(ctx context.Context) (string, error) {
	unreachable := false
	tok, err := retry.DoValue(ctx, c.newBackoff(), func(ctx context.Context) (string, error) {
		tok, err := c.tokens.token(ctx)
		unreachable = err != nil && tokenErrRetryable(err)
		switch {
		case unreachable:
			if ctx.Err() == nil {
				c.health.failed(ctx, c.log, "oauth2_token", c.BaseURL(), err, c.budget)
			}
			return "", retry.RetryableError(err)
		case err == nil:
			c.health.succeeded(ctx, c.log)
		}
		return tok, err
	})
	if err != nil {
		if unreachable && ctx.Err() == nil {
			return "", fmt.Errorf("falcon: read the CID: %w: %w", ErrUnreachable, err)
		}
		return "", fmt.Errorf("falcon: read the CID: %w", err)
	}
	if cid := jwtCID(tok); cid != "" {
		return NormalizeCID(cid), nil
	}
	if c.cfg.MemberCID != "" {
		return NormalizeCID(c.cfg.MemberCID), nil
	}
	return "", fmt.Errorf("%w (and MemberCID is empty)", ErrNoCID)
}

// jwtCID returns the cid claim of a JWT, or "".
func jwtCID(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		CID string `json:"cid"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.CID
}

// NormalizeCID lowercases a CID and drops a CCID's checksum suffix
// ("...-1F").
func NormalizeCID(cid string) string {
	cid = strings.ToLower(strings.TrimSpace(cid))
	if i := len(cid) - 3; i > 0 && cid[i] == '-' && isHex(cid[i+1:]) && isHex(cid[:i]) {
		cid = cid[:i]
	}
	return cid
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}
