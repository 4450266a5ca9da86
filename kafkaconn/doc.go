// Package kafkaconn answers one question for the collector and the sink: how
// to reach the Kafka cluster. It turns broker addresses, TLS and SASL
// settings into kafka-go transports and dialers, and creates missing topics.
package kafkaconn
