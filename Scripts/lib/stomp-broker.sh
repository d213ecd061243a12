# Starts and stops a private Apache ActiveMQ broker (Debian's `activemq` package) that speaks
# STOMP 1.2 on a loopback port, for the STOMP MTP tests. Sourced by Scripts/test after common.sh.
# shellcheck shell=bash

# The Debian package that provides the broker (it runs on the installed Java runtime).
TANDEM_STOMP_BROKER_PACKAGES=(activemq)

# The one account of the test broker (anonymous access is allowed as well; a wrong passcode is
# refused with an ERROR frame, which the tests use).
TANDEM_STOMP_TEST_LOGIN=tandem
TANDEM_STOMP_TEST_PASSCODE=tandem-test-passcode

stomp_broker_pid=""

# start_stomp_broker DIR PORT TLS_PORT: writes a private configuration under DIR (conf/, data/, tmp/)
# and starts ActiveMQ in the foreground of a background job, with two STOMP transport connectors:
# plain on 127.0.0.1:PORT and TLS on 127.0.0.1:TLS_PORT (no OpenWire, no JMX, no persistence). The
# TLS certificate is a fresh self-signed one for localhost and 127.0.0.1, whose PEM is written to
# DIR/conf/broker-cert.pem for the clients to trust. Sets stomp_broker_pid. The broker's own output
# goes to DIR/activemq.out.
start_stomp_broker() {
  local dir=$1 port=$2 tls_port=$3
  mkdir -p "$dir/conf" "$dir/data" "$dir/tmp"
  local keytool_bin storepass=tandem-test-keystore
  keytool_bin=$(command -v keytool || echo /usr/bin/keytool)
  "$keytool_bin" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 7 \
    -dname "CN=localhost" -ext "SAN=dns:localhost,ip:127.0.0.1" \
    -keystore "$dir/conf/broker.p12" -storetype PKCS12 -storepass "$storepass" -keypass "$storepass" >/dev/null 2>&1
  "$keytool_bin" -exportcert -rfc -alias broker -keystore "$dir/conf/broker.p12" -storetype PKCS12 \
    -storepass "$storepass" -file "$dir/conf/broker-cert.pem" >/dev/null 2>&1
  cat >"$dir/conf/activemq.xml" <<XML
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="tandem-test" useJmx="false"
          persistent="false" useShutdownHook="true" schedulerSupport="false" advisorySupport="false"
          dataDirectory="$dir/data" tmpDataDirectory="$dir/tmp">
    <managementContext><managementContext createConnector="false"/></managementContext>
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="true">
        <users>
          <authenticationUser username="$TANDEM_STOMP_TEST_LOGIN" password="$TANDEM_STOMP_TEST_PASSCODE" groups="users"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <sslContext>
      <sslContext keyStore="file:$dir/conf/broker.p12" keyStorePassword="$storepass" keyStoreType="PKCS12"/>
    </sslContext>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$port?transport.closeAsync=false"/>
      <transportConnector name="stomp-tls" uri="stomp+ssl://127.0.0.1:$tls_port?transport.closeAsync=false"/>
    </transportConnectors>
  </broker>
</beans>
XML
  # Debian's ActiveMQ logs through log4j 1.2: warnings only, plus the broker's start and stop lines.
  cat >"$dir/conf/log4j.properties" <<PROPS
log4j.rootLogger=WARN, console
log4j.logger.org.apache.activemq.broker.BrokerService=INFO
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss.SSS} %5p | %m%n
PROPS
  local java_bin
  java_bin=$(command -v java || echo /usr/bin/java)
  local home=/usr/share/activemq
  # The same JVM flags Debian's /usr/bin/activemq passes for Java 9+, with a small heap.
  "$java_bin" -Xms64M -Xmx256M -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Djava.io.tmpdir="$dir/tmp" \
    -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
    --add-reads=java.xml=java.logging \
    --add-opens java.base/java.security=ALL-UNNAMED \
    --add-opens java.base/java.net=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED \
    --add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
    -Dactivemq.classpath="$dir/conf" \
    -Dactivemq.home="$home" \
    -Dactivemq.base="$dir" \
    -Dactivemq.conf="$dir/conf" \
    -Dactivemq.data="$dir/data" \
    -jar "$home/bin/activemq.jar" start "xbean:file:$dir/conf/activemq.xml" \
    >"$dir/activemq.out" 2>&1 &
  stomp_broker_pid=$!
}

# wait_for_stomp_broker DIR PORT SECONDS: waits until the broker accepts connections on PORT;
# on failure prints the broker's output and returns 1.
wait_for_stomp_broker() {
  local dir=$1 port=$2 seconds=$3
  local _
  for _ in $(seq 1 $((seconds * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    # A broker that exited (bad configuration, missing Java) will not come up: say so at once.
    if ! kill -0 "$stomp_broker_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "error: the ActiveMQ STOMP broker did not start within ${seconds}s; its output:" >&2
  cat "$dir/activemq.out" >&2 || true
  return 1
}

# stop_stomp_broker: stops the broker started by start_stomp_broker, if any.
stop_stomp_broker() {
  if [ -n "$stomp_broker_pid" ]; then
    kill "$stomp_broker_pid" 2>/dev/null || true
    wait "$stomp_broker_pid" 2>/dev/null || true
    stomp_broker_pid=""
  fi
}
