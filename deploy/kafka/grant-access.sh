#!/bin/sh
# The Kafka principals of docker-compose.yml and what each may do, applied by its one-shot kafka-acls
# job as the cluster's super user (admin, SASL/PLAIN on the broker listener) before any service
# starts. Every principal authenticates with SCRAM-SHA-512 on the client listener:
#
#   checkout-topics           creates the two topics (the kafka-topics-init job), nothing else
#   checkout-worker           the only producer of checkout.events; the operators' CLI runs as it
#   checkout-api              describes the topics and the consumers' groups (readiness, lag metrics)
#   order-history-projector   reads checkout.events in its own group, writes its dead letters
#   notification-sender       the same, in its own group
#
# The broker denies whatever no ACL here allows (allow.everyone.if.no.acl.found=false), and no
# principal but admin may create topics other than these, or change users or ACLs.
#
# Safe to run again: a credential is set to the password in the environment (a password changed in
# .env takes effect on the next `docker compose up`), and adding an ACL that exists changes nothing.
set -eu

bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_ADMIN_BOOTSTRAP:-kafka:9094}
admin_config=$(mktemp)
trap 'rm -f "$admin_config"' EXIT
cat >"$admin_config" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
EOF

# user NAME PASSWORD: NAME authenticates with SCRAM-SHA-512 and PASSWORD.
user() {
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --command-config "$admin_config" \
    --alter --entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]"
}

# allow PRINCIPAL topic|group|group-prefix NAME OPERATION...: PRINCIPAL may do each OPERATION on the
# topic or consumer group NAME (group-prefix: on every group whose name starts with NAME).
allow() {
  principal=$1 kind=$2 name=$3
  shift 3
  case $kind in
    topic) flag=--topic pattern=literal ;;
    group) flag=--group pattern=literal ;;
    group-prefix) flag=--group pattern=prefixed ;;
    *) echo "allow: unknown resource kind '$kind' (topic, group or group-prefix)" >&2; exit 2 ;;
  esac
  # Rewrites the remaining arguments into --operation pairs (the for list is expanded once, up front).
  for operation in "$@"; do
    set -- "$@" --operation "$operation"
    shift
  done
  "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --command-config "$admin_config" --add \
    --allow-principal "User:$principal" --resource-pattern-type "$pattern" "$flag" "$name" "$@"
}

events=checkout.events
dead_letters=checkout.events.dlq

user checkout-topics "$KAFKA_TOPICS_PASSWORD"
allow checkout-topics topic "$events" Create Describe
allow checkout-topics topic "$dead_letters" Create Describe

# The worker publishes the outcome events and, at start, checks that both topics exist with their
# retention (ensureConfiguredTopics). `dlq list` and `dlq replay` run as the worker
# (`docker compose run --rm --no-deps worker ...`): a replay puts back, unchanged, a record the worker
# wrote, so checkout.events keeps a single writer; a listing reads the DLQ in a throwaway group of the
# CLI's prefix and deletes that group afterwards.
user checkout-worker "$KAFKA_WORKER_PASSWORD"
allow checkout-worker topic "$events" Write Describe DescribeConfigs
allow checkout-worker topic "$dead_letters" Read Describe DescribeConfigs
allow checkout-worker group-prefix checkout-saga-cli-dlq- Read Delete

# The API's readiness check (has each consumer group a live member?) and its lag metrics (end
# offsets, committed offsets, dead letters retained) only look.
user checkout-api "$KAFKA_API_PASSWORD"
allow checkout-api topic "$events" Describe
allow checkout-api topic "$dead_letters" Describe
allow checkout-api group order-history-projector Describe
allow checkout-api group notification-sender Describe

# Each consumer reads the outcome events in its own group, writes what it gives up on to the DLQ,
# and runs the same start-up topic check as the worker.
user order-history-projector "$KAFKA_ORDER_HISTORY_PROJECTOR_PASSWORD"
allow order-history-projector topic "$events" Read DescribeConfigs
allow order-history-projector group order-history-projector Read
allow order-history-projector topic "$dead_letters" Write DescribeConfigs

user notification-sender "$KAFKA_NOTIFICATION_SENDER_PASSWORD"
allow notification-sender topic "$events" Read DescribeConfigs
allow notification-sender group notification-sender Read
allow notification-sender topic "$dead_letters" Write DescribeConfigs
