package schema

import "embed"

// JSONSchemas holds the JSON Schema (draft 2020-12) of every record type,
// one file per type named JSONSchemaFile(recordType). SIEM consumers can
// validate what they read from the topics against them.
//
//go:embed *.schema.json
var JSONSchemas embed.FS

// JSONSchemaFile is the name, inside JSONSchemas and the schema/ directory,
// of the JSON Schema of recordType (TypeAuditEvent, TypeToken, TypeSettings).
func JSONSchemaFile(recordType string) string { return recordType + ".schema.json" }
