"""Sluice's host-side harness: the one package that builds boot images,
starts QEMU, watches the guest and collects what the host saw.

Everything that boots Sluice (or the Linux baseline) in QEMU uses it:

    scripts/qemu.py                 make run / make debug (CLI over harness.qemu)
    scripts/mkimage.py              make image (CLI over harness.images)
    tests/scenarios/run_scenario.py one QEMU scenario (harness.runner)
    tests/scenarios/harness_selftest.py   the package's own tests, no QEMU
    bench/run_bench.py              make bench (harness.boot)
    bench/run_storage_bench.py      make bench-storage (harness.boot)
    bench/linux_guest/run_fio.py    the Linux + fio baseline (harness.boot)

Each entry point puts scripts/ on sys.path and imports harness.<module>;
nothing is installed. Modules, lowest first:

    images    boot images (GRUB ISO, GPT disk with an ESP), raw disk images,
              the bytes the harness writes into disks (fills, util::pattern)
    qemu      the QEMU command line (the one machine) and the QEMU process
    serial    COM1: the socket link, the cleaned log, ordered markers with
              captures, typed input, forbidden patterns and boot dead ends
    qmp       a QMP client
    trace     QEMU's trace log: -trace arguments, ordered markers, NVMe
              doorbell / MSI-X counts
    host      host facts (one set of keys for every result file) and the
              host-noise meter of one boot
    boot      boot once and watch until exit, a done line or a timeout
              (the benchmarks)
    checks    host-side scenario checks (PCI against QMP, boot modules)
    scenario  the scenario schema (.toml): validation, module sets, captures
    runner    one scenario: image, QEMU, the watch loop, its end, the report

Stdlib only; Python >= 3.11 (tomllib).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
