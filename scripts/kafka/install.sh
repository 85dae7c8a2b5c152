#!/usr/bin/env bash
# Resolves the jars of a single-node Apache Kafka broker (see pom.xml) from
# Maven Central into a cache directory that kit/kafka-broker.ts starts the
# broker from. Idempotent: a cache resolved from the same pom.xml is reused
# (about 0.1 s); a changed pom.xml resolves again.
#
#   bash scripts/kafka/install.sh          prints the libs directory
#   KAFKA_LIBS_DIR=/somewhere bash …       resolves there instead
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# Keep in step with KAFKA_VERSION / defaultKafkaLibsDir() in kit/kafka-broker.ts.
version=4.1.1
libs="${KAFKA_LIBS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hexfleet/kafka-$version/libs}"

missing=()
command -v java >/dev/null 2>&1 || missing+=(java)
command -v mvn >/dev/null 2>&1 || missing+=(mvn)
if ((${#missing[@]})); then
  echo "kafka: ${missing[*]} not found on PATH. The test broker runs on a JDK (17 or newer) from Maven Central jars:" >&2
  echo "kafka:   sudo apt-get install -y openjdk-17-jre-headless maven   (Debian/Ubuntu)" >&2
  echo "kafka:   brew install openjdk@17 maven                            (macOS)" >&2
  exit 1
fi
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')"
if [[ -z "$java_major" || "$java_major" -lt 17 ]]; then
  echo "kafka: Kafka $version needs Java 17 or newer; \`java\` is version ${java_major:-unknown}. Install openjdk-17-jre-headless." >&2
  exit 1
fi

# The stamp holds the hash of the pom the jars came from: written last, so an
# interrupted resolve is redone rather than trusted.
stamp="$libs/.resolved-from"
want="$(cksum <"$here/pom.xml")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$libs"
  exit 0
fi

echo "kafka: resolving Kafka $version jars from Maven Central into $libs" >&2
started=$SECONDS
mkdir -p "$(dirname "$libs")"
tmp="$(mktemp -d "$(dirname "$libs")/libs.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# Maven's output only matters when it fails (-q still prints colour resets).
if ! out="$(mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1)"; then
  echo "$out" >&2
  echo "kafka: resolving the jars failed (Maven Central unreachable? see above)" >&2
  exit 1
fi
rm -rf "$libs"
mv "$tmp" "$libs"
trap - EXIT
echo "$want" >"$stamp"
echo "kafka: $(ls "$libs" | wc -l) jars, $(du -sh "$libs" | cut -f1), in $((SECONDS - started)) s" >&2
echo "$libs"
