# Shared set-up of scripts/test.sh and scripts/up.sh: installs the Debian
# packages Berth's agent and tests use when they are missing, and starts
# dockerd when no Docker daemon answers (as root). Sourced, not run.

need_pkgs=()
# Debian packages the tests need, as "binary:package" (a binary on PATH or
# an absolute path). The agent's tests need the CNI plugins (pod networks)
# and iproute2; the docker driver's tests need Docker (docker.io: dockerd,
# docker-init) and a static busybox to build their test image from (nothing
# is pulled); the service-proxy bench's test needs wrk and haproxy.
packages="/usr/lib/cni/bridge:containernetworking-plugins ip:iproute2 iptables:iptables"
packages+=" dockerd:docker.io /usr/bin/docker-init:docker.io wrk:wrk haproxy:haproxy ${BERTH_TEST_PACKAGES:-}"
for entry in $packages; do
  bin="${entry%%:*}"; pkg="${entry##*:}"
  if [[ "$bin" == /* ]]; then
    [ -e "$bin" ] || need_pkgs+=("$pkg")
  else
    command -v "$bin" >/dev/null 2>&1 || need_pkgs+=("$pkg")
  fi
done
# /bin/busybox may be Debian's dynamically linked busybox: the test image
# needs busybox-static's.
if command -v dpkg-query >/dev/null 2>&1 &&
  ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed"; then
  need_pkgs+=(busybox-static)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
  echo "== installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"
fi

command -v go >/dev/null || { echo "Go is required (https://go.dev/dl)"; exit 1; }
# The docker driver's tests need a Docker daemon on the default socket:
# start dockerd when none answers (as root, unless DOCKER_HOST points
# elsewhere). Without one those tests skip and say why.
#
# Note: a dockerd that has to switch net.ipv4.ip_forward on sets the
# iptables FORWARD policy to DROP (and it stays so after dockerd stops);
# with br_netfilter's bridge-nf-call-iptables=1 that also drops traffic
# between pods on a CNI bridge and from pods to the outside, unless the
# bridge has ACCEPT rules of its own. See docs/agent.md, "The docker
# driver".
docker_sock=/var/run/docker.sock
docker_answers() {
  if [ -x /usr/bin/docker ]; then # docker.io's CLI (not an older one on PATH)
    timeout 10 /usr/bin/docker -H "unix://$docker_sock" version >/dev/null 2>&1
  elif command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 10 --unix-socket "$docker_sock" http://localhost/_ping >/dev/null 2>&1
  else
    [ -S "$docker_sock" ]
  fi
}
if [ -z "${DOCKER_HOST:-}" ] && [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1 && ! docker_answers; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    echo "== starting docker (systemctl start docker)"
    systemctl start docker || true
  fi
  if ! docker_answers; then
    dockerd_log="${TMPDIR:-/tmp}/berth-dockerd.log"
    echo "== starting dockerd (log: $dockerd_log)"
    nohup dockerd >"$dockerd_log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker_answers && break
    sleep 1
  done
  if ! docker_answers; then
    echo "dockerd did not answer on $docker_sock within 60 s; its log (${dockerd_log:-journalctl -u docker}) ends with:"
    [ -n "${dockerd_log:-}" ] && tail -n 20 "$dockerd_log"
    exit 1
  fi
fi

