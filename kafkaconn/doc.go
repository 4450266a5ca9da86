// Package kafkaconn answers one question for the collector and the sink: how
// to reach the Kafka cluster. It turns broker addresses, TLS and SASL
// settings into kafka-go transports and dialers (the collector, topic
// creation, the sink's dead-letter writer) and franz-go client options (the
// sink's consumer), and creates missing topics.
package kafkaconn
