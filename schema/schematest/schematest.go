// Package schematest validates records against the JSON Schemas of package
// schema, for tests of the components that produce or consume them.
package schematest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
)

// Validator checks records against the embedded JSON Schemas. It is safe for
// concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
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
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for _, typ := range schema.RecordTypes() {
		name := schema.JSONSchemaFile(typ)
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
		v.schemas[typ] = s
	}
	return v, nil
}

// Validate checks one JSON record against the schema its record_type names.
func (v *Validator) Validate(record []byte) error {
	var head struct {
		RecordType string `json:"record_type"`
	}
	if err := json.Unmarshal(record, &head); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	s, ok := v.schemas[head.RecordType]
	if !ok {
		return fmt.Errorf("record_type %q has no JSON Schema", head.RecordType)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(record))
	if err != nil {
		return err
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s record does not match %s: %w", head.RecordType, schema.JSONSchemaFile(head.RecordType), err)
	}
	return nil
}

// ValidateMessage checks one Kafka message against the topic contract: its
// value is a record that matches its JSON Schema and decodes, its key is the
// record's key, and its record_type and schema_version headers agree with
// the record. The error lists every disagreement.
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
	if rt := header(schema.HeaderRecordType); rt != rec.Type() {
		errs = append(errs, fmt.Errorf("%s header %q on a %s record", schema.HeaderRecordType, rt, rec.Type()))
	}
	if sv := header(schema.HeaderSchemaVersion); sv != strconv.Itoa(schema.Version) {
		errs = append(errs, fmt.Errorf("%s header %q, want %d", schema.HeaderSchemaVersion, sv, schema.Version))
	}
	if string(key) != rec.Key() {
		errs = append(errs, fmt.Errorf("key %q, record key %q", key, rec.Key()))
	}
	return errors.Join(errs...)
}
