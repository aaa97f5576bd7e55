# Sluice: the entry points a person (or CI) types. The real build is CMake +
# Ninja in $(BUILD_DIR); this file only sequences deps -> configure -> build
# -> image -> QEMU, so every target works on a fresh Debian 12 checkout.
# See docs/testing.md.
#
#   make run      boot the ISO in QEMU, serial on this terminal (Ctrl-A X quits);
#                 curl http://127.0.0.1:8080/status reaches httpd (HTTP_PORT)
#   make test     build everything, then ctest (unit, fuzz smoke, QEMU scenarios)
#   make image    build/sluice.iso and build/sluice-uefi.img
#   make debug    boot paused with a gdb stub on :1234 (then: gdb -x .gdbinit)
#   make fuzz     run every fuzzer for FUZZ_SECONDS each
#   make soak     the long runs make test leaves out (tests/scenarios/soak), then every fuzzer for SOAK_FUZZ_SECONDS
#   make bench    kernel microbenchmarks in QEMU, printed (docs/benchmarks.md)
#   make bench-storage   storage benchmark (blkbench), ARGS="--linux --trace" (--driver virtio-blk)
#   make bench-net       network benchmark vs a Linux guest, ARGS="--trace --json FILE" (bench/run_net_bench.py)
#   make format   clang-format every C++ file (make test checks it: format.check)
#   make build | clean | deps | help     (plain `make` = make build)
#
# Knobs (make VAR=value): ACCEL=tcg|kvm  FIRMWARE=bios|uefi  CMDLINE="..."
#   BOOT_MODULES="name=path ..."  FUZZ_SECONDS=300  BUILD_DIR=build
#   QEMU_ARGS="extra qemu args"  CTEST_ARGS="-R scenario"  CTEST_JOBS=N
#   HTTP_PORT=8080 (host port forwarded to the guest's port 80; a free one when taken; 0: none)
#   BENCH_RUNS=2  ARGS="..." (bench-storage/bench-net: the runner's options)

BUILD_DIR    ?= build
BUILD_TYPE   ?= RelWithDebInfo
ACCEL        ?= tcg
FIRMWARE     ?= bios
CMDLINE      ?= console=com1 loglevel=info init=init
# Boot modules for `make image/run/debug`: space-separated NAME=PATH pairs
# (NAME is the multiboot2 module string). Paths are relative to the repo.
BOOT_MODULES ?= init=$(BUILD_DIR)/user/init shell=$(BUILD_DIR)/user/shell hello=$(BUILD_DIR)/user/hello \
                devmgr=$(BUILD_DIR)/user/devmgr nvme=$(BUILD_DIR)/user/nvme virtio-blk=$(BUILD_DIR)/user/virtio-blk \
                virtio-net=$(BUILD_DIR)/user/virtio-net netstack=$(BUILD_DIR)/user/netstack \
                blkbench=$(BUILD_DIR)/user/blkbench httpd=$(BUILD_DIR)/user/httpd \
                manifest=manifests/default.manifest
# CMake targets that produce the boot modules (built before the image).
BOOT_MODULE_TARGETS ?= init shell hello devmgr nvme virtio-blk virtio-net netstack blkbench httpd
FUZZ_SECONDS ?= 300
SOAK_FUZZ_SECONDS ?= 120
QEMU_ARGS    ?=
HTTP_PORT    ?= 8080
CTEST_ARGS   ?=
CTEST_JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON       ?= python3
# `make bench`: how many boots in a row (each one is reported).
BENCH_RUNS   ?= 2

KERNEL   := $(BUILD_DIR)/kernel/sluice-kernel
ISO      := $(BUILD_DIR)/sluice.iso
UEFI_IMG := $(BUILD_DIR)/sluice-uefi.img
RUN_IMAGE := $(if $(filter uefi,$(FIRMWARE)),$(UEFI_IMG),$(ISO))

CMAKE_FLAGS := -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
               -DSLUICE_SCENARIO_ACCEL=$(ACCEL)
MODULE_FLAGS := $(foreach m,$(BOOT_MODULES),--module $(m))

.DEFAULT_GOAL := build
.PHONY: help deps configure build kernel image run debug test soak fuzz bench bench-storage bench-net format clean

help:
	@awk 'NR >= 5 && !/^#/ { exit } NR >= 5 { sub(/^# ?/, ""); print }' Makefile

deps:
	@bash scripts/deps.sh

# Configure only when there is no build.ninja yet or ACCEL changed (the
# scenarios' accelerator is a CMake cache variable); otherwise ninja re-runs
# CMake itself when a CMakeLists.txt changes. lwIP's source is fetched
# (scripts/fetch-lwip.sh, a no-op once there) before either: CMake fetches
# it too, but does not run when build.ninja is current.
configure: deps
	@bash scripts/fetch-lwip.sh
	@if [ ! -f $(BUILD_DIR)/build.ninja ] || \
	    ! grep -qx 'SLUICE_SCENARIO_ACCEL:STRING=$(ACCEL)' $(BUILD_DIR)/CMakeCache.txt 2>/dev/null; then \
	  echo "cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)"; \
	  cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS); \
	fi

build: configure
	ninja -C $(BUILD_DIR)

kernel: configure
	ninja -C $(BUILD_DIR) sluice-kernel $(BOOT_MODULE_TARGETS)

# Both images, same kernel, command line and modules. Cheap (~1 s), so
# always rebuilt: a changed CMDLINE or module is never stale.
image: kernel
	$(PYTHON) scripts/mkimage.py --format iso --kernel $(KERNEL) --cmdline "$(CMDLINE)" \
	  $(MODULE_FLAGS) --out $(ISO) --cache-dir $(BUILD_DIR)/image-cache
	$(PYTHON) scripts/mkimage.py --format uefi --kernel $(KERNEL) --cmdline "$(CMDLINE)" \
	  $(MODULE_FLAGS) --out $(UEFI_IMG) --cache-dir $(BUILD_DIR)/image-cache

run: image
	@echo "run: booting $(RUN_IMAGE) ($(FIRMWARE)) with accelerator $(ACCEL); quit with Ctrl-A X"
	@$(PYTHON) scripts/qemu.py --image $(RUN_IMAGE) --accel $(ACCEL) --http-port $(HTTP_PORT) \
	  --disk-dir $(BUILD_DIR) --run-dir $(BUILD_DIR) -- $(QEMU_ARGS)

debug: image
	@echo "debug: booting $(RUN_IMAGE) paused, gdb stub on localhost:1234 (accelerator $(ACCEL))."
	@echo "debug: in another terminal, from the repo root:  gdb -x .gdbinit"
	@echo "debug: then 'hbreak kernel_main' (or any symbol) and 'continue'. Quit QEMU with Ctrl-A X."
	@$(PYTHON) scripts/qemu.py --image $(RUN_IMAGE) --accel $(ACCEL) --gdb --http-port $(HTTP_PORT) \
	  --disk-dir $(BUILD_DIR) --run-dir $(BUILD_DIR) -- $(QEMU_ARGS)

# Unit tests, fuzz smoke runs and QEMU scenarios; ends with ctest's summary.
test: build
	@echo "test: QEMU scenarios use accelerator $(ACCEL) (make test ACCEL=kvm to change)"
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(CTEST_JOBS) -LE soak $(CTEST_ARGS)

# Soaks: hundreds of provider kills, long floods (tests/scenarios/soak/,
# ctest label soak), then every fuzzer for SOAK_FUZZ_SECONDS. Run before an
# issue is called resolved; not part of make test (they take many minutes).
soak: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L soak $(CTEST_ARGS)
	FUZZ_SECONDS=$(SOAK_FUZZ_SECONDS) bash scripts/fuzz.sh $(BUILD_DIR) $(SOAK_FUZZ_SECONDS)

fuzz: build
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh $(BUILD_DIR) $(FUZZ_SECONDS)

# Microbenchmarks (null syscall, endpoint call/reply): never part of
# `make test`. Builds the kernel and the bench programs (the `kernel` target
# with only them as its module targets), then boots BENCH_RUNS times under ACCEL
# and prints every run, the accelerator and the exact QEMU command line.
bench: BOOT_MODULE_TARGETS = microbench microbench_echo
bench: kernel
	$(PYTHON) bench/run_bench.py --build-dir $(BUILD_DIR) --accel $(ACCEL) --runs $(BENCH_RUNS)

# Storage benchmark (separate from `make bench`: ~3.5 min, ~9 min with
# ARGS="--linux"): the NVMe provider + blkbench, 4 jobs x 20 s, one boot per
# job, on a null-co and a raw-file backend; always TCG, -smp 2, like the
# Linux baseline (bench/linux_guest/). ARGS="--linux --trace --json FILE".
bench-storage: BOOT_MODULE_TARGETS = init devmgr nvme virtio-blk blkbench
bench-storage: kernel
	$(PYTHON) bench/run_storage_bench.py --build-dir $(BUILD_DIR) $(ARGS)

# Network benchmark (separate from `make bench`: ~1 min a boot): UDP round
# trips, TCP both ways through hostfwd and small-datagram transmit, measured
# by the host, Sluice next to a Linux guest with its own virtio_net
# (bench/linux_guest/), --runs 2 each, ACCEL as given. ARGS="--trace --json FILE".
# Sluice's side is user/bench/netbench.
bench-net: BOOT_MODULE_TARGETS = init devmgr virtio-net netstack netbench
bench-net: kernel
	$(PYTHON) bench/run_net_bench.py --build-dir $(BUILD_DIR) --accel $(ACCEL) $(ARGS)

# clang-format-14 over every tracked .cc/.h (scripts/format.sh); the
# ctest entry format.check fails when a file differs.
format: deps
	bash scripts/format.sh

clean:
	rm -rf $(BUILD_DIR)
