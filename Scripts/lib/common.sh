# Shared by the scripts under Scripts/: run from the repository root, install what is missing.
# shellcheck shell=bash

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Debian packages every build needs: libxml2 (SOAP), SQLite (registry), OpenSSL, libmosquitto (MQTT MTP).
TANDEM_BUILD_PACKAGES=(pkg-config libxml2-dev libsqlite3-dev libssl-dev libmosquitto-dev)

# ensure_packages PKG...: installs the Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "Installing missing packages: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# ensure_swift: the Swift toolchain comes with the machine; say so clearly when it does not.
ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
      export PATH="/opt/swift/usr/bin:$PATH"
    else
      echo "error: the Swift 6 toolchain is not installed (expected swift on PATH or /opt/swift)" >&2
      exit 1
    fi
  fi
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local port low=32768
  # Below the kernel's ephemeral range: a port there can be held by an outgoing connection, which
  # no connect test sees but which makes a listener's bind fail ("Address already in use").
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r low _ < /proc/sys/net/ipv4/ip_local_port_range
  fi
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 1 200); do
    port=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "error: no free port found" >&2
  return 1
}

# wait_for_port PORT SECONDS: waits until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port=$1 seconds=$2
  for _ in $(seq 1 $((seconds * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
