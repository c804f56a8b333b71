#!/usr/bin/env bash
# Installs the Drover agent on a plain Linux hypervisor host as a systemd
# service that enrolls with a bootstrap token on its first start.
#
#   install-agent.sh --enroll-url https://ENROLL-ADDRESS:9443 \
#     --namespace NS --host-name NAME --ca-cert-hash sha256:HEX \
#     --bootstrap-token-file ./token [--listen ADDRESS:54321] [--package drover-0.1.0.tgz]
#
# The token comes from `drover token create --namespace NS --host NAME` and
# the hash from `kubectl get manager -n NS -o jsonpath='{.items[0].status.pki.caCertHash}'`.
# The token is copied to /etc/drover/bootstrap-token (mode 0600), never put on
# a command line. After the first start the agent keeps its certificate in
# /var/lib/drover/agent/pki and the token is used up.
#
# --root DIR writes every file below DIR and touches no package or service
# (used by the tests, and to inspect what would be installed).
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "install-agent: $*" >&2; exit 1; }

root="" enroll_url="" namespace="" host_name="" ca_hash="" token_file="" package=""
listen="" acceleration="auto" libvirt_uri="qemu:///system"
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) usage ;; esac
  [ $# -ge 2 ] || die "$1 needs a value"
  case "$1" in
    --enroll-url) enroll_url="$2"; shift 2 ;;
    --namespace) namespace="$2"; shift 2 ;;
    --host-name) host_name="$2"; shift 2 ;;
    --ca-cert-hash) ca_hash="$2"; shift 2 ;;
    --bootstrap-token-file) token_file="$2"; shift 2 ;;
    --listen) listen="$2"; shift 2 ;;
    --acceleration) acceleration="$2"; shift 2 ;;
    --libvirt-uri) libvirt_uri="$2"; shift 2 ;;
    --package) package="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    *) echo "install-agent: unknown flag $1" >&2; usage ;;
  esac
done

[ -n "$enroll_url" ] || die "--enroll-url is required"
[ -n "$namespace" ] || die "--namespace is required"
[ -n "$ca_hash" ] || die "--ca-cert-hash is required (Manager status.pki.caCertHash)"
[ -n "$token_file" ] || die "--bootstrap-token-file is required"
[ -r "$token_file" ] || die "cannot read $token_file"
host_name="${host_name:-$(hostname -s)}"
[ -n "$listen" ] || listen="0.0.0.0:54321"
case "$enroll_url" in https://*) ;; *) die "--enroll-url must be https://" ;; esac
[[ "$ca_hash" =~ ^sha256:[0-9a-f]{64}$ ]] || die "--ca-cert-hash must be sha256:<64 hex digits>"
[[ "$host_name" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "--host-name must be a DNS label (the Host object's name)"
[[ "$namespace" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "--namespace must be a DNS label"
case "$acceleration" in auto|kvm|tcg) ;; *) die "--acceleration must be auto, kvm or tcg" ;; esac
token="$(tr -d '[:space:]' < "$token_file")"
[[ "$token" =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || die "$token_file does not hold a bootstrap token (<id>.<secret>)"

if [ -z "$root" ]; then
  [ "$(id -u)" = 0 ] || die "run as root"
  # The host's half of the job: libvirt and QEMU, plus the tools the agent runs.
  if command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libvirt-daemon-system qemu-system-x86 qemu-utils libvirt-clients nfs-common openssl
  fi
  for tool in virsh qemu-img openssl mount node; do
    command -v "$tool" >/dev/null || die "$tool is missing (Node.js 24 and the libvirt/QEMU packages are required)"
  done
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' || die "Node.js 24 or later is required"
  if [ -n "$package" ]; then npm install --global --omit=dev "$package"; fi
  if [ ! -x /usr/local/bin/drover ]; then
    drover_bin="$(command -v drover)" || die "drover is not installed: pass --package drover-X.Y.Z.tgz (npm run build && npm pack)"
    ln -sf "$drover_bin" /usr/local/bin/drover
  fi
fi

here="$(cd "$(dirname "$0")" && pwd)"
install -d -m 0755 "$root/etc/drover" "$root/etc/systemd/system"
install -d -m 0700 "$root/var/lib/drover" "$root/var/lib/drover/agent"
# The token: readable by root only, and never written anywhere else.
(umask 077 && printf '%s\n' "$token" > "$root/etc/drover/bootstrap-token")
chmod 0600 "$root/etc/drover/bootstrap-token"
args=(
  "--listen=$listen" "--enroll-url=$enroll_url" "--bootstrap-token-file=/etc/drover/bootstrap-token"
  "--host-name=$host_name" "--namespace=$namespace" "--ca-cert-hash=$ca_hash"
  "--state-dir=/var/lib/drover/agent" "--libvirt-uri=$libvirt_uri" "--acceleration=$acceleration"
)
{
  echo "# Flags of drover agent (deploy/host/install-agent.sh). systemd splits \$DROVER_AGENT_ARGS on spaces."
  echo "DROVER_AGENT_ARGS=\"${args[*]}\""
} > "$root/etc/drover/agent.env"
chmod 0644 "$root/etc/drover/agent.env"
install -m 0644 "$here/drover-agent.service" "$root/etc/systemd/system/drover-agent.service"

if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable --now drover-agent.service
  echo "drover-agent started; follow it with: journalctl -u drover-agent -f"
else
  echo "installed under $root (no service started)"
fi
