// Package deploy holds what operators need to run tokentrail: a Docker
// Compose stack (docker-compose.yml, .env.example), a multi-stage Dockerfile,
// Kubernetes manifests (kubernetes/), hardened systemd units (systemd/), a
// sample configuration file (config.example.yaml) and local helper scripts
// (local/).
//
// The package has no Go API. Its tests keep the artifacts honest without a
// Docker engine or a cluster: they parse every YAML file, build cmd/ingest
// and read `ingest <command> --help` to check that every flag, configuration
// key and environment variable used here (and every flag in README.md) is one
// the real binary accepts, and check that the Dockerfile builds the same
// packages with the same flags as `make build`.
package deploy
