#!/bin/busybox sh
# /init of Drover's tiny test guest (PID 1 inside the initramfs).
#
# Kernel command line parameters it reads:
#   drover.ip=ADDR/PREFIX   address for eth0 (required for networking)
#   drover.gw=ADDR          default gateway (optional)
#   drover.name=NAME        hostname, also served at / (default: drover-guest)
#
# It serves HTTP on port 80 with busybox httpd: "/" returns the name and
# "/healthz" returns "ok", and runs a shell on the serial console (ttyS0). When everything is up it prints
#   DROVER-GUEST-READY name=NAME ip=ADDR/PREFIX
# on the console (the serial port, console=ttyS0), which tests can wait for.
#
# This file is a static asset; the builder copies it verbatim into the image
# and its hash is part of the image cache key.

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /var/log
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

log() { echo "drover-init: $*"; }

IP=
GW=
NAME=drover-guest
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    drover.ip=*) IP="${arg#drover.ip=}" ;;
    drover.gw=*) GW="${arg#drover.gw=}" ;;
    drover.name=*) NAME="${arg#drover.name=}" ;;
  esac
done
hostname "$NAME"

# The builder lists the modules in dependency order (from their .modinfo).
while read -r mod; do
  [ -n "$mod" ] || continue
  insmod "/lib/modules/$mod.ko" || log "insmod $mod failed"
done < /etc/drover/modules

ip link set lo up

# virtio-net probes asynchronously after insmod returns.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ "$i" -lt 100 ]; do
  sleep 0.1
  i=$((i + 1))
done
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  if [ -n "$IP" ]; then
    ip addr add "$IP" dev eth0
    [ -n "$GW" ] && ip route add default via "$GW"
  fi
else
  log "no eth0 (no virtio NIC?)"
fi

mkdir -p /www
printf '%s\n' "$NAME" > /www/index.html
printf 'ok' > /www/healthz
httpd -p 80 -h /www

# ACPI power button (virsh shutdown): acpid runs /etc/acpi/PWRF/00000080.
# The button's input device appears asynchronously after insmod, so acpid is
# (re)started from the loop below as soon as it exists.
start_acpid() {
  [ -d /dev/input ] && ! pidof acpid >/dev/null && acpid -c /etc/acpi -l /var/log/acpid.log
}
start_acpid

# A shell on the serial console (what `kubectl drover console` reaches),
# started again when it exits. setsid + opening ttyS0 makes it the shell's
# controlling terminal, so Ctrl-C reaches what runs in it.
( while true; do setsid sh -c 'exec sh -i <>/dev/ttyS0 >&0 2>&0'; sleep 1; done ) &

echo "DROVER-GUEST-READY name=$NAME ip=$IP"

# PID 1 must never exit (that panics the kernel); keep httpd alive meanwhile.
# Once a second the first block of the first disk (a scratch data disk in
# the tests) is rewritten and synced: a guest that never touches its disk
# would never notice its storage failing, and the HA tests need it to.
while true; do
  sleep 1
  pidof httpd >/dev/null || httpd -p 80 -h /www
  start_acpid
  [ -b /dev/vda ] && dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null
done
