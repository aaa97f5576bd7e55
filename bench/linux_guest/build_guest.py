#!/usr/bin/env python3
"""Build the Linux baseline guest for the storage benchmarks.

Produces, under bench/linux_guest/.cache/guest/:
  bzImage             Debian 12's kernel (linux-image-amd64 -> linux-image-6.1.0-N-amd64)
  initramfs.cpio.gz   busybox-static, fio + exactly the shared libraries it needs
                      (resolved from DT_NEEDED/PT_INTERP in the extracted .debs),
                      the nvme (and virtio-blk) modules with their dependencies,
                      the fio job files and /init
  manifest.json       package versions, libraries, modules, job names

Only Debian packages are used: `apt-get download` into .cache/debs/ and
`dpkg-deb -x` into .cache/extract/<package>/ (nothing is installed on the
host). Every step is cached; rerunning is cheap and rebuilds the initramfs
only when an input changed (--force rebuilds anyway). Stdlib only.

The guest's /init reads these kernel command line parameters:
  fio.jobs=a,b,c      job names (files /jobs/<name>.fio), run in order; "none" = none
  fio.runtime=20      seconds per job (time_based)      fio.ramp=2   ramp_time seconds
  fio.engine=libaio   fio ioengine (libaio | io_uring | psync ...)
  fio.dev=auto        block device; auto = /dev/nvme0n1, else /dev/vda
  fio.repeat=1        run the job list this many times in the same boot
  blk.sched=default   I/O scheduler for the disk (none | mq-deadline); default: the kernel's
                      choice (mq-deadline with one hardware queue, i.e. -smp 1; none with more)
  guest.mods=nvme     module set(s) to load: nvme, virtio, virtio-net (comma separated)
  guest.bench=fio     fio: the storage jobs above; net: the network benchmark's guest
                      side instead (no disk): bring eth0 up (net.addr=dhcp: busybox
                      udhcpc, as Sluice's netstack does; net.addr=static: 10.0.2.15/24
                      via 10.0.2.2, QEMU user networking's lease), print
                      @@NET-UP@@ addr=... , then run `netbench serve 5000 5001`
                      (bench/linux_guest/netbench.c, built here with the host's
                      gcc -static -O2) until the host sends `quit`
and prints, on the serial console, for each job:
  @@FIO-BEGIN <job> <iteration>@@ / fio JSON / @@FIO-END <job> <iteration> rc=<n>@@
plus @@STAT ...@@ lines (/sys/block/<dev>/stat before and after each job),
the whole kernel log between @@DMESG-BEGIN@@ and @@DMESG-END@@, then
@@GUEST-DONE@@, and powers off (poweroff -f).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DEBS = CACHE / "debs"
EXTRACT = CACHE / "extract"
OUT = CACHE / "guest"

TOP_PACKAGES = ["linux-image-amd64", "busybox-static", "fio"]
# Library search directories inside the Debian root (bookworm ships libc in /lib).
LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib64", "lib", "usr/lib"]
# Module sets: the roots; their dependencies come from each module's .modinfo "depends=".
MODULE_SETS = {
    "nvme": ["nvme"],
    "virtio": ["virtio_pci", "virtio_blk"],
    # The network benchmark's NIC (bench/run_net_bench.py): Linux's own virtio_net.
    "virtio-net": ["virtio_pci", "virtio_net"],
}
# "nvme-nodbbuf": the nvme set with nvme.ko binary-patched so that the driver
# never allocates/configures shadow doorbells (see patch_nodbbuf()).
DERIVED_SETS = {"nvme-nodbbuf": ("nvme", "nvme", "nvme_nodbbuf")}
BUILD_FORMAT = 8  # bump when the initramfs layout changes

JOBS = {
    # name: (rw, bs, iodepth)
    "randread-4k-qd1": ("randread", "4k", 1),
    "randread-4k-qd32": ("randread", "4k", 32),
    "randwrite-4k-qd1": ("randwrite", "4k", 1),
    "seqread-128k-qd8": ("read", "128k", 8),
    # extra depths for the stall investigation
    "randread-4k-qd8": ("randread", "4k", 8),
    "randread-4k-qd4": ("randread", "4k", 4),
}

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
export PATH=/usr/bin:/bin:/sbin:/usr/sbin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu

arg() {  # arg NAME DEFAULT: value of NAME= on the kernel command line
    v=$(tr ' ' '\n' < /proc/cmdline | grep "^$1=" | tail -n 1 | cut -d= -f2-)
    [ -n "$v" ] && echo "$v" || echo "$2"
}
JOBS=$(arg fio.jobs randread-4k-qd1)
export FIO_RUNTIME=$(arg fio.runtime 20)
export FIO_RAMP=$(arg fio.ramp 2)
export FIO_ENGINE=$(arg fio.engine libaio)
DEV=$(arg fio.dev auto)
REPEAT=$(arg fio.repeat 1)
MODS=$(arg guest.mods nvme)

echo "@@GUEST-UP@@ kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo) uptime=$(cut -d' ' -f1 /proc/uptime)"
for set in $(echo "$MODS" | tr ',' ' '); do
    [ -f /lib/modules/order.$set ] || { echo "@@ERROR@@ unknown module set $set"; continue; }
    for m in $(cat /lib/modules/order.$set); do
        insmod /lib/modules/$m.ko || echo "@@ERROR@@ insmod $m failed"
    done
done
echo "@@MODULES@@ $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"

finish() {
    dmesg -n 1
    echo "@@DMESG-BEGIN@@"
    dmesg
    echo "@@DMESG-END@@"
    echo "@@INTERRUPTS-BEGIN@@"
    grep -E "CPU|nvme|virtio" /proc/interrupts
    echo "@@INTERRUPTS-END@@"
    echo "@@GUEST-DONE@@"
    sync
    poweroff -f
}

if [ "$(arg guest.bench fio)" = net ]; then
    i=0
    while [ $i -lt 100 ] && [ ! -d /sys/class/net/eth0 ]; do sleep 0.1; i=$((i+1)); done
    ip link set lo up
    ip link set eth0 up || echo "@@ERROR@@ no eth0"
    if [ "$(arg net.addr dhcp)" = static ]; then
        ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || echo "@@ERROR@@ static address"
    else
        udhcpc -i eth0 -s /etc/udhcpc.script -n -q -t 20 -T 1 || echo "@@ERROR@@ no DHCP lease"
    fi
    echo "@@NET-UP@@ $(ip -4 -o addr show dev eth0 | tr -s ' ' | cut -d' ' -f4) via $(ip route | grep ^default | cut -d' ' -f3) mac=$(cat /sys/class/net/eth0/address) driver=$(basename $(readlink -f /sys/class/net/eth0/device/driver))"
    echo "@@NET-STAT-BEFORE@@ $(cat /sys/class/net/eth0/statistics/rx_packets) $(cat /sys/class/net/eth0/statistics/tx_packets)"
    netbench serve 5000 5001 || echo "@@ERROR@@ netbench rc=$?"
    echo "@@NET-STAT-AFTER@@ $(cat /sys/class/net/eth0/statistics/rx_packets) $(cat /sys/class/net/eth0/statistics/tx_packets)"
    finish
fi

if [ "$DEV" = auto ]; then
    DEV=""
    i=0
    while [ $i -lt 100 ]; do
        for d in /dev/nvme0n1 /dev/vda; do [ -b $d ] && { DEV=$d; break; }; done
        [ -n "$DEV" ] && break
        sleep 0.1; i=$((i+1))
    done
else
    i=0
    while [ $i -lt 100 ] && [ ! -b "$DEV" ]; do sleep 0.1; i=$((i+1)); done
fi
[ -b "$DEV" ] || echo "@@ERROR@@ no block device ($DEV)"
export FIO_DEV=$DEV
B=$(basename "$DEV")
echo "@@DEVICE@@ $DEV size_bytes=$(( $(cat /sys/block/$B/size 2>/dev/null || echo 0) * 512 )) engine=$FIO_ENGINE runtime=$FIO_RUNTIME ramp=$FIO_RAMP"
SCHED=$(arg blk.sched default)
[ "$SCHED" != default ] && [ -d /sys/block/$B/queue ] && { echo "$SCHED" > /sys/block/$B/queue/scheduler || echo "@@ERROR@@ scheduler $SCHED"; }
[ -d /sys/block/$B/queue ] && echo "@@QUEUE@@ nr_requests=$(cat /sys/block/$B/queue/nr_requests) scheduler=$(cat /sys/block/$B/queue/scheduler) hw_queues=$(ls /sys/block/$B/mq 2>/dev/null | wc -l)"
echo "@@IRQS@@ $(grep -c nvme /proc/interrupts) nvme irq lines"
# PCI function behind the disk: reading its config dword 0xfc is the trace
# marker around each job (QEMU trace event pci_cfg_read ... @0xfc; nothing else reads it).
P=$(readlink -f /sys/block/$B/device 2>/dev/null)
while [ -n "$P" ] && [ "$P" != / ] && [ ! -f "$P/config" ]; do P=$(dirname "$P"); done
mark() { [ -f "$P/config" ] && dd if="$P/config" of=/dev/null bs=4 skip=63 count=1 2>/dev/null; echo "@@MARK $1@@"; }
echo "@@PCI@@ $(basename "$P")"

it=1
while [ $it -le $REPEAT ]; do
    for j in $(echo "$JOBS" | tr ',' ' '); do
        [ "$j" = none ] && continue
        if [ ! -f /jobs/$j.fio ]; then echo "@@ERROR@@ no job $j"; continue; fi
        echo "@@STAT-BEFORE $j $it@@ $(cat /sys/block/$B/stat)"
        mark "begin $j $it"
        t0=$(cut -d' ' -f1 /proc/uptime)
        fio --eta=never --output-format=json --output=/tmp/out.json /jobs/$j.fio
        rc=$?
        t1=$(cut -d' ' -f1 /proc/uptime)
        echo "@@STAT-AFTER $j $it@@ $(cat /sys/block/$B/stat)"
        mark "end $j $it"
        lvl=$(cut -f1 /proc/sys/kernel/printk)
        dmesg -n 1
        echo "@@FIO-BEGIN $j $it@@ t0=$t0 t1=$t1"
        cat /tmp/out.json
        echo "@@FIO-END $j $it rc=$rc@@"
        dmesg -n $lvl
    done
    it=$((it+1))
done
finish
"""

# busybox udhcpc's script: apply the lease (udhcpc itself only talks DHCP).
UDHCPC_SCRIPT = r"""#!/bin/busybox sh
case "$1" in
    deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
        echo "@@LEASE@@ ip=$ip mask=$mask router=$router dns=$dns lease=$lease" ;;
esac
exit 0
"""
NETBENCH_SRC = HERE / "netbench.c"


def log(msg: str) -> None:
    print(f"[build_guest] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


# ---------------------------------------------------------------- packages

def deb_field(deb: Path, field: str) -> str:
    return run(["dpkg-deb", "-f", str(deb), field], capture_output=True).stdout.strip()


def find_deb(name: str) -> Path | None:
    hits = sorted(DEBS.glob(f"{name}_*.deb"))
    return hits[-1] if hits else None


def download(names: list[str], offline: bool) -> None:
    missing = [n for n in names if find_deb(n) is None]
    if not missing:
        return
    if offline:
        sys.exit(f"[build_guest] --offline but not cached: {' '.join(missing)}")
    DEBS.mkdir(parents=True, exist_ok=True)
    log(f"apt-get download {' '.join(missing)}")
    r = subprocess.run(["apt-get", "download", *missing], cwd=DEBS, text=True, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"[build_guest] apt-get download failed:\n{r.stderr}")
    for n in missing:
        if find_deb(n) is None:
            sys.exit(f"[build_guest] apt-get download did not produce {n}_*.deb")


def extract(name: str) -> Path:
    deb = find_deb(name)
    assert deb is not None
    dest = EXTRACT / name
    stamp = dest / ".extracted-from"
    if stamp.exists() and stamp.read_text() == deb.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    run(["dpkg-deb", "-x", str(deb), str(dest)])
    stamp.write_text(deb.name)
    return dest


def parse_depends(value: str) -> list[str]:
    """First alternative of each Depends/Pre-Depends entry, without versions."""
    out = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        first = entry.split("|")[0].strip()
        out.append(re.split(r"[\s(:]", first, maxsplit=1)[0])
    return out


def is_library_package(name: str) -> bool:
    return (name.startswith("lib") and not name.startswith(("libpython", "libperl"))) or name == "zlib1g"


# ---------------------------------------------------------------- ELF

def elf_info(path: Path) -> dict | None:
    """PT_INTERP, DT_NEEDED, DT_RUNPATH/DT_RPATH of a 64-bit little-endian ELF."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    segs = []
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align = \
            struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        segs.append((p_type, p_offset, p_vaddr, p_filesz))

    def vaddr_to_off(addr: int) -> int:
        for t, off, va, sz in segs:
            if t == 1 and va <= addr < va + sz:  # PT_LOAD
                return off + addr - va
        raise ValueError("address not in a PT_LOAD segment")

    info = {"interp": None, "needed": [], "runpath": []}
    dyn = None
    for t, off, va, sz in segs:
        if t == 3:  # PT_INTERP
            info["interp"] = data[off:off + sz].rstrip(b"\0").decode()
        elif t == 2:  # PT_DYNAMIC
            dyn = (off, sz)
    if dyn is None:
        return info
    entries = []
    for i in range(dyn[1] // 16):
        tag, val = struct.unpack_from("<qQ", data, dyn[0] + i * 16)
        if tag == 0:
            break
        entries.append((tag, val))
    strtab = next((v for t, v in entries if t == 5), None)  # DT_STRTAB
    if strtab is None:
        return info
    stroff = vaddr_to_off(strtab)

    def string(o: int) -> str:
        end = data.index(b"\0", stroff + o)
        return data[stroff + o:end].decode()

    for t, v in entries:
        if t == 1:
            info["needed"].append(string(v))
        elif t in (15, 29):  # DT_RPATH, DT_RUNPATH
            info["runpath"] += string(v).split(":")
    return info


def resolve_in_root(roots: list[Path], rel: str) -> Path | None:
    """Find /rel in any extracted root, following symlinks inside that root."""
    for root in roots:
        p = rel.lstrip("/")
        for _ in range(40):
            cand = root / p
            if cand.is_symlink():
                target = os.readlink(cand)
                p = target.lstrip("/") if target.startswith("/") else \
                    os.path.normpath(os.path.join(os.path.dirname(p), target))
                continue
            if cand.exists():
                return cand
            break
    return None


def modinfo(ko: Path) -> dict[str, list[str]]:
    data = ko.read_bytes()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{ko} is not an ELF module (compressed?)")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sh = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    shstr_off = sh[e_shstrndx][4]
    out: dict[str, list[str]] = {}
    for name_off, _t, _f, _a, off, size, *_ in sh:
        end = data.index(b"\0", shstr_off + name_off)
        if data[shstr_off + name_off:end] == b".modinfo":
            for item in data[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, v = item.decode(errors="replace").split("=", 1)
                    out.setdefault(k, []).append(v)
    return out


def patch_nodbbuf(ko: bytes) -> bytes | None:
    """Disable shadow doorbells (Doorbell Buffer Config) in Debian 6.1's nvme.ko.

    Linux 6.1 has no knob for it. nvme_reset_work() does
        if (dev->ctrl.oacs & NVME_CTRL_OACS_DBBUF_SUPP) nvme_dbbuf_dma_alloc(dev);
    compiled (6.1.0-56-amd64) as `movzwl 0xc8(%rbx),%eax ... test $0x1,%ah;
    jne <alloc>` (OACS bit 8). Replacing that jne rel32 with a 6-byte NOP
    leaves dev->dbbuf_dbs NULL, so nvme_dbbuf_set() never sends opcode 0x7C
    and every doorbell is an MMIO write. A patched module with its old
    signature is refused (EKEYREJECTED), so the appended signature is
    stripped: an unsigned module loads (MODULE_SIG_FORCE is off) and taints.
    Returns None unless the pattern occurs exactly once."""
    magic = b"~Module signature appended~\n"
    if ko.endswith(magic):
        sig_len, = struct.unpack(">I", ko[-len(magic) - 4:-len(magic)])
        ko = ko[:-len(magic) - 12 - sig_len]
    pat = bytes.fromhex("f6c4010f85")
    hits = [i for i in range(len(ko)) if ko.startswith(pat, i)]
    if len(hits) != 1:
        return None
    at = hits[0] + 3
    return ko[:at] + bytes.fromhex("660f1f440000") + ko[at + 6:]


# ---------------------------------------------------------------- cpio

class Cpio:
    """newc writer (the host has no cpio(1))."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.ino = 1000
        self.names: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes, nlink: int = 1) -> None:
        assert name not in self.names, name
        self.names.add(name)
        self.ino += 1
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{x:08x}" for x in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b"\0" * ((4 - (110 + len(nb)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * ((4 - len(data) % 4) % 4))

    def dir(self, name: str) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.names:
                self._entry(d, stat.S_IFDIR | 0o755, b"", 2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.dir(os.path.dirname(name.strip("/"))) if "/" in name.strip("/") else None
        self._entry(name.strip("/"), stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self.dir(os.path.dirname(name.strip("/"))) if "/" in name.strip("/") else None
        self._entry(name.strip("/"), stat.S_IFLNK | 0o777, target.encode())

    def node(self, name: str, mode: int, major: int, minor: int) -> None:
        self.names.add(name)
        self.ino += 1
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{x:08x}" for x in (
            self.ino, mode, 0, 0, 1, 0, 0, 0, 0, major, minor, len(nb), 0))
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b"\0" * ((4 - (110 + len(nb)) % 4) % 4))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"")
        return self.buf.getvalue()


def job_file(name: str) -> str:
    rw, bs, qd = JOBS[name]
    return f"""; generated by build_guest.py
[global]
ioengine=${{FIO_ENGINE}}
direct=1
filename=${{FIO_DEV}}
time_based=1
runtime=${{FIO_RUNTIME}}
ramp_time=${{FIO_RAMP}}
norandommap=1
randrepeat=0
lat_percentiles=1
percentile_list=50:90:99:99.9
group_reporting=1

[{name}]
rw={rw}
bs={bs}
iodepth={qd}
numjobs=1
"""


def build_netbench() -> bytes:
    """The network benchmark's guest tool: our own C, the host's compiler,
    static so the initramfs needs nothing more (nothing is downloaded)."""
    out = CACHE / "netbench"
    cc = os.environ.get("CC", "gcc")
    try:
        run([cc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(NETBENCH_SRC)])
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"[build_guest] cannot build {NETBENCH_SRC.name} with {cc} -static: {e}")
    return out.read_bytes()


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="rebuild the initramfs even if up to date")
    ap.add_argument("--offline", action="store_true", help="never call apt-get; use cached .debs only")
    ap.add_argument("--no-check", action="store_true", help="skip the chroot fio --version check")
    a = ap.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    gi = CACHE / ".gitignore"
    if not gi.exists():
        gi.write_text("*\n")

    # 1. top-level packages; the kernel metapackage points at the real image package.
    download(TOP_PACKAGES, a.offline)
    kdeps = parse_depends(deb_field(find_deb("linux-image-amd64"), "Depends"))
    kpkg = next(d for d in kdeps if d.startswith("linux-image-"))
    download([kpkg], a.offline)
    roots = {n: extract(n) for n in ["busybox-static", "fio", kpkg]}

    # 2. fio's shared libraries: walk DT_NEEDED, fetching the library packages
    #    that the package of an unresolved library depends on, until closed.
    pkg_of_root: dict[Path, str] = {v: k for k, v in roots.items()}
    lib_pkgs: list[str] = []

    def lib_roots() -> list[Path]:
        return [roots["fio"]] + [roots[p] for p in lib_pkgs]

    def expand(pkg: str) -> bool:
        new = [d for d in parse_depends(deb_field(find_deb(pkg), "Depends") + "," +
                                        deb_field(find_deb(pkg), "Pre-Depends"))
               if is_library_package(d) and d not in roots]
        if not new:
            return False
        download(new, a.offline)
        for d in new:
            roots[d] = extract(d)
            pkg_of_root[roots[d]] = d
            lib_pkgs.append(d)
        return True

    expand("fio")
    fio_bin = roots["fio"] / "usr/bin/fio"
    for _round in range(20):
        resolved: dict[str, Path] = {}   # soname -> real file
        origin: dict[str, str] = {}      # soname -> package
        missing: dict[str, str] = {}     # soname -> package of the ELF that needs it
        interp = elf_info(fio_bin)["interp"]
        todo = [(fio_bin, "fio")]
        seen = set()
        while todo:
            f, pkg = todo.pop()
            if f in seen:
                continue
            seen.add(f)
            info = elf_info(f)
            for so in info["needed"]:
                if so in resolved:
                    continue
                hit = None
                hitpkg = None
                dirs = [r.replace("$ORIGIN", "/" + str(f.parent.relative_to(roots[pkg]))) for r in info["runpath"]] + LIB_DIRS
                for d in dirs:
                    for p in [pkg] + lib_pkgs:
                        h = resolve_in_root([roots[p]], f"{d}/{so}")
                        if h:
                            hit, hitpkg = h, p
                            break
                    if hit:
                        break
                if hit:
                    resolved[so] = hit
                    origin[so] = hitpkg
                    todo.append((hit, hitpkg))
                else:
                    missing[so] = pkg
        if not missing:
            break
        progressed = False
        for so, pkg in sorted(missing.items()):
            progressed |= expand(pkg)
        if not progressed:
            sys.exit(f"[build_guest] cannot resolve {missing} from package dependencies")
    else:
        sys.exit("[build_guest] library resolution did not converge")
    interp_file = None
    for p in lib_pkgs:
        interp_file = resolve_in_root([roots[p]], interp)
        if interp_file:
            break
    if interp_file is None:
        sys.exit(f"[build_guest] ELF interpreter {interp} not found")
    # glibc dlopen()s libgcc_s for pthread_cancel/unwinding: ship it when available.
    if "libgcc_s.so.1" not in resolved:
        for p in lib_pkgs:
            h = resolve_in_root([roots[p]], "lib/x86_64-linux-gnu/libgcc_s.so.1")
            if h:
                resolved["libgcc_s.so.1"], origin["libgcc_s.so.1"] = h, p
                break

    # 3. kernel + modules
    kroot = roots[kpkg]
    vmlinuz = next((kroot / "boot").glob("vmlinuz-*"))
    kver = vmlinuz.name[len("vmlinuz-"):]
    moddir = kroot / "lib/modules" / kver
    ko_index = {p.name[:-3].replace("-", "_"): p for p in moddir.rglob("*.ko")}
    mod_orders: dict[str, list[str]] = {}
    mod_files: dict[str, Path] = {}
    for setname, rootmods in MODULE_SETS.items():
        order: list[str] = []

        def visit(m: str, stack: tuple = ()) -> None:
            m = m.replace("-", "_")
            if m in order:
                return
            if m in stack:
                sys.exit(f"[build_guest] module dependency cycle at {m}")
            ko = ko_index.get(m)
            if ko is None:
                sys.exit(f"[build_guest] module {m} not in {kpkg} (built in?)")
            deps = [d for v in modinfo(ko).get("depends", []) for d in v.split(",") if d]
            for d in deps:
                visit(d, stack + (m,))
            order.append(m)
            mod_files[m] = ko

        for r in rootmods:
            visit(r)
        mod_orders[setname] = order

    # 4. inputs hash -> skip if unchanged
    OUT.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    h.update(str(BUILD_FORMAT).encode())
    h.update(INIT_SCRIPT.encode())
    h.update(UDHCPC_SCRIPT.encode())
    h.update(NETBENCH_SRC.read_bytes())
    h.update(json.dumps(JOBS, sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    for n in sorted(roots):
        h.update(find_deb(n).name.encode())
    digest = h.hexdigest()
    stamp = OUT / ".inputs"
    bz = OUT / "bzImage"
    initrd = OUT / "initramfs.cpio.gz"
    if not a.force and stamp.exists() and stamp.read_text() == digest and bz.exists() and initrd.exists():
        log(f"up to date: {bz} {initrd}")
        return 0

    shutil.copyfile(vmlinuz, bz)
    netbench = build_netbench()

    c = Cpio()
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "etc", "jobs",
              "lib/x86_64-linux-gnu", "lib64", "lib/modules", "root", "mnt"]:
        c.dir(d)
    c.node("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    c.node("dev/null", stat.S_IFCHR | 0o666, 1, 3)
    c.file("bin/busybox", (roots["busybox-static"] / "bin/busybox").read_bytes(), 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("init", INIT_SCRIPT.encode(), 0o755)
    c.file("usr/bin/fio", fio_bin.read_bytes(), 0o755)
    c.file("lib64/" + os.path.basename(interp), interp_file.read_bytes(), 0o755)
    c.symlink("lib/x86_64-linux-gnu/" + os.path.basename(interp), "/lib64/" + os.path.basename(interp))
    for so, f in sorted(resolved.items()):
        if so == os.path.basename(interp):
            continue
        c.file(f"lib/x86_64-linux-gnu/{so}", f.read_bytes(), 0o755)
    c.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    c.file("etc/group", b"root:x:0:\n")
    c.file("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    c.file("usr/bin/netbench", netbench, 0o755)
    for m, ko in mod_files.items():
        c.file(f"lib/modules/{m}.ko", ko.read_bytes())
    for setname, (base, mod, newname) in DERIVED_SETS.items():
        patched = patch_nodbbuf(mod_files[mod].read_bytes())
        if patched is None:
            log(f"warning: cannot patch {mod}.ko for {setname}; set not built")
            continue
        c.file(f"lib/modules/{newname}.ko", patched)
        mod_orders[setname] = [newname if m == mod else m for m in mod_orders[base]]
    for setname, order in mod_orders.items():
        c.file(f"lib/modules/order.{setname}", ("\n".join(order) + "\n").encode())
    for j in JOBS:
        c.file(f"jobs/{j}.fio", job_file(j).encode())
    raw = c.finish()
    tmp = initrd.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(gzip.compress(raw, compresslevel=6, mtime=0))
    os.replace(tmp, initrd)

    versions = {n: find_deb(n).name for n in sorted(roots)}
    manifest = {
        "kernel_package": kpkg, "kernel_version": kver, "packages": versions,
        "interpreter": interp,
        "libraries": {so: {"package": origin.get(so), "size": resolved[so].stat().st_size}
                      for so in sorted(resolved)},
        "modules": mod_orders, "jobs": {k: list(v) for k, v in JOBS.items()},
        "initramfs_bytes": initrd.stat().st_size, "initramfs_uncompressed_bytes": len(raw),
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    # 5. ldd-equivalent check: run fio from a staging tree in a chroot, so that
    #    only the shipped libraries can satisfy it.
    if not a.no_check and os.geteuid() == 0:
        stage = CACHE / "stage"
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir()
        for d in ["lib/x86_64-linux-gnu", "lib64", "usr/bin", "bin", "tmp"]:
            (stage / d).mkdir(parents=True, exist_ok=True)
        shutil.copy2(fio_bin, stage / "usr/bin/fio")
        shutil.copy2(interp_file, stage / "lib64" / os.path.basename(interp))
        for so, f in resolved.items():
            shutil.copy2(f, stage / "lib/x86_64-linux-gnu" / so)
        r = subprocess.run(["chroot", str(stage), "/usr/bin/fio", "--version"], text=True, capture_output=True)
        if r.returncode != 0:
            sys.exit(f"[build_guest] fio does not run with the shipped libraries:\n{r.stderr}")
        r2 = subprocess.run(["chroot", str(stage), "/lib64/" + os.path.basename(interp), "--list", "/usr/bin/fio"],
                            text=True, capture_output=True)
        (OUT / "fio-ldd.txt").write_text(r2.stdout)
        log(f"check: chroot fio --version -> {r.stdout.strip()}")
        shutil.rmtree(stage)

    stamp.write_text(digest)
    log(f"kernel {kpkg} ({kver}); {len(resolved)} libraries; modules "
        + "; ".join(f"{k}: {' '.join(v)}" for k, v in mod_orders.items()))
    log(f"wrote {bz} ({bz.stat().st_size} B), {initrd} ({initrd.stat().st_size} B, "
        f"{len(raw)} B uncompressed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
