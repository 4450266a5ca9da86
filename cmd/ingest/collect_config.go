package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
)

// tenantSpec is one tenant to collect: its name and Falcon credentials.
type tenantSpec struct {
	Name              string
	Cloud, BaseURL    string
	ClientID          string
	ClientSecret      string
	MemberCID         string
	RequestsPerMinute int
	FromFile          bool // listed in the config file
}

// tenantEntry is one element of the config file's tenants list (MSSP: one
// per child CID). Unset fields inherit the top-level flags, so a list of
// member CIDs under one parent client needs only tenant and
// falcon-member-cid. Secrets come from a file or an environment variable,
// or (discouraged) inline.
type tenantEntry struct {
	Tenant                  string `yaml:"tenant"`
	FalconCloud             string `yaml:"falcon-cloud"`
	FalconBaseURL           string `yaml:"falcon-base-url"`
	FalconClientID          string `yaml:"falcon-client-id"`
	FalconClientSecret      string `yaml:"falcon-client-secret"`
	FalconClientSecretFile  string `yaml:"falcon-client-secret-file"`
	FalconClientSecretEnv   string `yaml:"falcon-client-secret-env"`
	FalconMemberCID         string `yaml:"falcon-member-cid"`
	FalconRequestsPerMinute int    `yaml:"falcon-requests-per-minute"`
}

// tenantSpecs returns the tenants to collect: the config file's tenants list
// when it has one, else the single tenant of the flags.
func (f CollectFlags) tenantSpecs(configPath string) ([]tenantSpec, error) {
	secret, err := f.clientSecret()
	if err != nil {
		return nil, err
	}
	base := tenantSpec{Name: f.Tenant, Cloud: f.FalconCloud, BaseURL: f.FalconBaseURL, ClientID: f.FalconClientID,
		ClientSecret: secret, MemberCID: f.FalconMemberCID, RequestsPerMinute: f.FalconRequestsPerMinute}
	entries, err := readTenantList(configPath)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		if err := checkpoint.ValidTenant(base.Name); err != nil {
			return nil, usagef("--tenant: %v", err)
		}
		return []tenantSpec{base}, nil
	}
	seen := map[string]bool{}
	var out []tenantSpec
	for i, e := range entries {
		where := fmt.Sprintf("--config: tenants[%d]", i)
		if err := checkpoint.ValidTenant(e.Tenant); err != nil {
			return nil, usagef("%s: tenant: %v", where, err)
		}
		if seen[e.Tenant] {
			return nil, usagef("%s: tenant %q listed twice", where, e.Tenant)
		}
		seen[e.Tenant] = true
		s := base
		s.Name, s.FromFile = e.Tenant, true
		if e.FalconCloud != "" {
			s.Cloud = e.FalconCloud
		}
		if e.FalconBaseURL != "" {
			s.BaseURL = e.FalconBaseURL
		}
		if e.FalconMemberCID != "" {
			s.MemberCID = e.FalconMemberCID
		}
		if e.FalconRequestsPerMinute != 0 {
			s.RequestsPerMinute = e.FalconRequestsPerMinute
		}
		if e.FalconClientID != "" {
			// Own credentials: nothing of the parent's secret carries over.
			s.ClientID, s.ClientSecret = e.FalconClientID, ""
		}
		n := 0
		for _, v := range []string{e.FalconClientSecret, e.FalconClientSecretFile, e.FalconClientSecretEnv} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			return nil, usagef("%s (%s): set one of falcon-client-secret, falcon-client-secret-file, falcon-client-secret-env", where, e.Tenant)
		}
		switch {
		case e.FalconClientSecretFile != "":
			b, err := os.ReadFile(e.FalconClientSecretFile)
			if err != nil {
				return nil, usagef("%s (%s): falcon-client-secret-file: %v", where, e.Tenant, err)
			}
			s.ClientSecret = strings.TrimRight(string(b), "\r\n")
		case e.FalconClientSecretEnv != "":
			v, ok := os.LookupEnv(e.FalconClientSecretEnv)
			if !ok || v == "" {
				return nil, usagef("%s (%s): falcon-client-secret-env: %s is not set", where, e.Tenant, e.FalconClientSecretEnv)
			}
			s.ClientSecret = v
		case e.FalconClientSecret != "":
			s.ClientSecret = e.FalconClientSecret
		}
		if s.MemberCID == "" && e.FalconClientID == "" && len(entries) > 1 {
			return nil, usagef("%s (%s): needs its own falcon-client-id or a falcon-member-cid", where, e.Tenant)
		}
		out = append(out, s)
	}
	return out, nil
}

// readTenantList reads the tenants list of a YAML config file: a top-level
// "tenants" key, or one under a command's section (collect, run),
// whose other keys are flag names read by kong.
func readTenantList(path string) ([]tenantEntry, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, usagef("--config: %s: %v", path, err)
	}
	var lists []yaml.Node
	if n, ok := doc["tenants"]; ok {
		lists = append(lists, n)
	}
	for _, section := range []string{"collect", "run"} {
		n, ok := doc[section]
		if !ok || n.Kind != yaml.MappingNode {
			continue
		}
		var sub map[string]yaml.Node
		if err := n.Decode(&sub); err != nil {
			return nil, usagef("--config: %s: %s: %v", path, section, err)
		}
		if t, ok := sub["tenants"]; ok {
			lists = append(lists, t)
		}
	}
	switch len(lists) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, usagef("--config: %s: more than one tenants list", path)
	}
	// Decode strictly: a misspelt key in a tenant entry is an error, not a
	// silently ignored setting.
	raw, err := yaml.Marshal(&lists[0])
	if err != nil {
		return nil, usagef("--config: %s: tenants: %v", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var entries []tenantEntry
	if err := dec.Decode(&entries); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, usagef("--config: %s: tenants: %s", path, strings.Join(te.Errors, "; "))
		}
		return nil, usagef("--config: %s: tenants: %v", path, err)
	}
	if len(entries) == 0 {
		return nil, usagef("--config: %s: tenants: empty list", path)
	}
	return entries, nil
}
