//go:build tools

package tools

import (
	_ "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/alecthomas/kong"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/sethvargo/go-retry"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "gopkg.in/yaml.v3"
)
