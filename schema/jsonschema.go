package schema

import (
	"embed"
	"fmt"
)

// JSONSchemas holds the JSON Schema (draft 2020-12) of every record type,
// one file per type and schema_version, named JSONSchemaFile(recordType,
// version): the current version's at the top, older ones under v1/ and so
// on. SIEM consumers can validate what they read from the topics against
// them.
//
//go:embed *.schema.json v1/*.schema.json
var JSONSchemas embed.FS

// JSONSchemaFile is the name, inside JSONSchemas and the schema/ directory,
// of the JSON Schema of recordType (TypeAuditEvent, TypeToken, TypeSettings)
// at schema_version version.
func JSONSchemaFile(recordType string, version int) string {
	if version == Version {
		return recordType + ".schema.json"
	}
	return fmt.Sprintf("v%d/%s.schema.json", version, recordType)
}
