// Package schematest validates records against the JSON Schemas of package
// schema, for tests of the components that produce or consume them.
package schematest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
)

// Validator checks records against the embedded JSON Schemas. It is safe for
// concurrent use.
type Validator struct {
	schemas map[typeVersion]*jsonschema.Schema
}

type typeVersion struct {
	typ     string
	version int
}

var (
	once    sync.Once
	shared  *Validator
	initErr error
)

// New compiles the JSON Schema of every record type (once per process).
func New() (*Validator, error) {
	once.Do(func() { shared, initErr = compile() })
	return shared, initErr
}

func compile() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	v := &Validator{schemas: map[typeVersion]*jsonschema.Schema{}}
	for _, typ := range schema.RecordTypes() {
		for version := 1; version <= schema.Version; version++ {
			s, err := compileOne(c, schema.JSONSchemaFile(typ, version))
			if errors.Is(err, fs.ErrNotExist) && version < schema.Version {
				continue // a record type younger than this version
			}
			if err != nil {
				return nil, err
			}
			v.schemas[typeVersion{typ, version}] = s
		}
	}
	return v, nil
}

func compileOne(c *jsonschema.Compiler, name string) (*jsonschema.Schema, error) {
	data, err := schema.JSONSchemas.ReadFile(name)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.AddResource(name, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	return s, nil
}

// Validate checks one JSON record against the schema its record_type and
// schema_version name.
func (v *Validator) Validate(record []byte) error {
	var head struct {
		RecordType    string `json:"record_type"`
		SchemaVersion int    `json:"schema_version"`
	}
	if err := json.Unmarshal(record, &head); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	s, ok := v.schemas[typeVersion{head.RecordType, head.SchemaVersion}]
	if !ok {
		return fmt.Errorf("record_type %q has no JSON Schema for schema_version %d", head.RecordType, head.SchemaVersion)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(record))
	if err != nil {
		return err
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s record does not match %s: %w", head.RecordType, schema.JSONSchemaFile(head.RecordType, head.SchemaVersion), err)
	}
	return nil
}

// ValidateMessage checks one Kafka message against the topic contract: its
// value is a record that matches its JSON Schema and decodes, its key is the
// record's key, it is of the current schema_version, and its headers are
// schema.Headers of the record. The error lists every disagreement.
func (v *Validator) ValidateMessage(key, value []byte, headers []kafka.Header) error {
	if err := v.Validate(value); err != nil {
		return err
	}
	rec, err := schema.Decode(value)
	if err != nil {
		return fmt.Errorf("schema.Decode: %w", err)
	}
	header := func(name string) string {
		for _, h := range headers {
			if h.Key == name {
				return string(h.Value)
			}
		}
		return ""
	}
	var errs []error
	if rec.Header().SchemaVersion != schema.Version {
		errs = append(errs, fmt.Errorf("schema_version %d, want %d", rec.Header().SchemaVersion, schema.Version))
	}
	for _, h := range schema.Headers(rec) {
		if got := header(h.Key); got != string(h.Value) {
			errs = append(errs, fmt.Errorf("%s header %q on a record whose %s is %q", h.Key, got, h.Key, h.Value))
		}
	}
	if string(key) != rec.Key() {
		errs = append(errs, fmt.Errorf("key %q, record key %q", key, rec.Key()))
	}
	return errors.Join(errs...)
}
