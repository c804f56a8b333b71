#!/usr/bin/env bash
# Installs the Debian 12 packages the Drover test bed (src/dev/testbed) and the
# tiny test guest (src/dev/guest-image) need. Idempotent: when every package is
# already installed it does not touch apt at all (apart from making sure apt's
# package lists exist, which the guest-image build needs for `apt-get download`).
#
# Runs as root, non-interactively (CI=true, no stdin).
#
# What is installed, and why only this minimal set:
#   libvirt-daemon              libvirtd, virtlogd, virtlockd binaries
#   libvirt-daemon-driver-qemu  the QEMU driver (loaded by libvirtd)
#   libvirt-clients             virsh
#   qemu-system-x86             qemu-system-x86_64 (+ seabios, ipxe ROMs via Depends)
#   qemu-utils                  qemu-img (disk images for later storage tests)
#   iproute2, util-linux        ip / bridge, nsenter / unshare / mount
#   iputils-ping, wget          reachability and HTTP probes run inside test hosts
#   adduser                     creating the libvirt-qemu user below
#   tini                        a child subreaper for each test host's libvirtd, so a killed
#                               QEMU is reaped (and its stop event sent) at once
#
# We deliberately do NOT install libvirt-daemon-system: it adds the system-wide
# libvirtd/virtlogd/virtlockd services (systemd units or sysv init scripts),
# a NAT "default" network with dnsmasq, polkit and iptables. The test bed runs
# its own libvirtd/virtlogd/virtlockd per test host, each in its own network and
# mount namespace with private /run/libvirt, /etc/libvirt, /var/lib/libvirt, so
# a system-wide instance is never used. The one thing libvirt-daemon-system's
# postinst does that we need is creating the libvirt-qemu user (QEMU's DAC
# identity, compiled into Debian's libvirt as the default); we do that here the
# same way (same fixed uid/gid 64055 when free).
#
# System-wide daemons: while apt runs we install a temporary policy-rc.d that
# forbids starting services (exit 101) unless one already exists, so no
# postinst can start a daemon. If a system-wide libvirtd/virtlogd/virtlockd is
# nevertheless running (e.g. libvirt-daemon-system was installed before), it
# cannot clash with the test hosts (different namespaces, sockets and config),
# but it is useless on a CI machine and would hold the root namespace's
# /run/libvirt; with CI=true or DROVER_STOP_SYSTEM_LIBVIRT=1 we stop and
# disable it, otherwise we only print a note (a developer may use it).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

if [ "$(id -u)" -ne 0 ]; then
  echo "install-host-deps: must run as root" >&2
  exit 1
fi

PACKAGES=(
  libvirt-daemon
  libvirt-daemon-driver-qemu
  libvirt-clients
  qemu-system-x86
  qemu-utils
  iproute2
  util-linux
  iputils-ping
  wget
  adduser
  tini
)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

# apt's lists are needed both for installing and, later, for the guest image
# build (apt-cache show / apt-get download of the kernel and busybox-static).
have_lists() {
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then
    apt-get update -q </dev/null
    updated=1
  fi
}

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-host-deps: installing ${missing[*]}"
  apt_update
  # A temporary policy-rc.d keeps postinst scripts from starting services.
  # An existing one (containers often ship one) is left untouched.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# drover install-host-deps: no service starts during install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null || rc=$?
  if [ "$own_policy" -eq 1 ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  if [ "$rc" -ne 0 ]; then
    echo "install-host-deps: apt-get install failed ($rc)" >&2
    exit "$rc"
  fi
else
  echo "install-host-deps: all packages present (${PACKAGES[*]})"
fi

if ! have_lists; then
  apt_update
fi

# Users and groups, as libvirt-daemon-system's postinst creates them.
if ! getent group kvm >/dev/null; then
  addgroup --quiet --system kvm
fi
if ! getent group libvirt >/dev/null; then
  addgroup --quiet --system libvirt
fi
if ! getent passwd libvirt-qemu >/dev/null; then
  uid_opt=()
  if ! getent passwd 64055 >/dev/null; then uid_opt=(--uid 64055); fi
  adduser --quiet --system --ingroup kvm --disabled-login --disabled-password \
    --home /var/lib/libvirt --no-create-home --gecos "Libvirt Qemu" \
    "${uid_opt[@]}" libvirt-qemu
fi
if ! getent group libvirt-qemu >/dev/null; then
  gid_opt=()
  if ! getent group 64055 >/dev/null; then gid_opt=(--gid 64055); fi
  addgroup --quiet --system "${gid_opt[@]}" libvirt-qemu
  adduser --quiet libvirt-qemu libvirt-qemu
fi

# System-wide daemons (see the header).
stop_system=0
if [ "${CI:-}" = "true" ] || [ "${DROVER_STOP_SYSTEM_LIBVIRT:-}" = "1" ]; then
  stop_system=1
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  units=(libvirtd.service libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket
    libvirtd-tcp.socket libvirtd-tls.socket
    virtlogd.service virtlogd.socket virtlogd-admin.socket
    virtlockd.service virtlockd.socket virtlockd-admin.socket)
  active=()
  for u in "${units[@]}"; do
    if systemctl is-active --quiet "$u" 2>/dev/null; then active+=("$u"); fi
  done
  if [ "${#active[@]}" -gt 0 ]; then
    if [ "$stop_system" -eq 1 ]; then
      echo "install-host-deps: stopping and disabling system-wide ${active[*]}"
      systemctl disable --now "${active[@]}" || true
    else
      echo "install-host-deps: note: system-wide ${active[*]} running; harmless for the test bed (set DROVER_STOP_SYSTEM_LIBVIRT=1 to stop them)"
    fi
  fi
else
  # No systemd: daemons started by sysv scripts keep pid files in /run.
  for d in libvirtd virtlogd virtlockd; do
    pidfile="/run/$d.pid"
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    [ -d "/proc/$pid" ] || continue
    # Only a process whose executable is that daemon: never a reused pid.
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [ "$(basename "$exe")" = "$d" ] || continue
    if [ "$stop_system" -eq 1 ]; then
      echo "install-host-deps: stopping system-wide $d (pid $pid)"
      kill "$pid" || true
    else
      echo "install-host-deps: note: system-wide $d (pid $pid) running; harmless for the test bed"
    fi
  done
fi

# QEMU runs as libvirt-qemu; KVM is optional (the test guest uses TCG), but if
# the device exists, let every test host's QEMU open it.
if [ -e /dev/kvm ]; then
  chmod 0666 /dev/kvm || true
fi

echo "install-host-deps: done"
