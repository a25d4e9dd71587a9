# hartbeat: two commands on a fresh Debian machine.
#   make demo   boot real OpenSBI + U-Boot on the in-repo emulator and check every milestone
#   make test   the project's test suite (what CI runs)
# Both install what is missing first: Debian packages (with sudo when not root) and a venv.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
# The peers for benchmarks/peers.py (labgrid, pytest-embedded) live in their own venv: pytest-embedded's
# pytest plugin must not load into the project's test sessions.
BENCH_VENV  := .venv-bench
DEMO_BOARD  ?= emulator-unmatched
DEMO_PLAN   ?= uboot-smoke
PYTEST_ARGS ?=

# The real components the tests boot and build with, all from Debian.
APT_PACKAGES := qemu-system-misc opensbi u-boot-qemu gcc-riscv64-unknown-elf device-tree-compiler \
                ser2net openssh-server git make chromium pypy3 gdb-multiarch \
                linux-source-6.1 gcc-riscv64-linux-gnu libc6-dev-riscv64-cross flex bison bc cpio libelf-dev libssl-dev \
                openocd e2fsprogs qemu-utils

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check deps venv bench-venv lint bench clean linux-image linux-distro sifive-firmware sdcard

demo: deps venv
	$(BIN)/hartbeat run $(DEMO_PLAN) --board $(DEMO_BOARD)

# The suite on every core (pytest-xdist), two workers per core: a third of its time is spent waiting
# for silences, boots, labgrid and sshd rather than computing (about 820 CPU s, measured with four
# workers, took 610 s with one worker per core on 2 cores; 455-477 s with two), so a second worker
# per core fills the waits (measured on 2 cores only). nproc without OpenMP's limits, which it
# obeys. `--dist loadgroup` keeps a module's shared boot on one worker (tests/workers.py); JOBS=0
# runs it in one process, JOBS=N on N workers.
JOBS        ?= $(shell n=$$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); echo $$(( 2 * n )))
XDIST       := -n $(JOBS) --dist loadgroup

test: deps venv
	$(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

# The fast tier for developers: no boots, no processes; seconds instead of minutes.
check: venv
	$(BIN)/python -m pytest -q -m "not slow" $(XDIST) $(PYTEST_ARGS)

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -c "import venv, ensurepip" 2>/dev/null; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	    if ! command -v apt-get >/dev/null; then \
	        echo "hartbeat: this machine has no apt-get; install these Debian packages (or your system's equivalents):$$missing" >&2; \
	        exit 1; \
	    fi; \
	    echo "hartbeat: installing Debian packages:$$missing"; \
	    $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,labgrid]'
	# pyserial and labgrid's fork pyserial-labgrid write the same `serial` files, and whichever pip
	# wrote last wins: the fork (pyserial 3.5 plus two RFC2217 fixes) is the one labgrid and the
	# serial tests run against, so it is written last.
	$(BIN)/pip install -q --no-deps --force-reinstall pyserial-labgrid
	touch $@

# The tiny Linux kernel and initramfs for the linux-boot and linux-stress plans (cached, see
# images/linux/README.md): 3-5 minutes the first time on 2 cores, instant after.
linux-image: deps
	$(PYTHON) images/linux/build.py

# Debian's own riscv64 kernel (trixie's linux-image-*-riscv64), fetched with a private apt state.
linux-distro: deps
	$(PYTHON) images/linux/distro.py

# Debian's SiFive firmware (trixie's u-boot-sifive: SPL and FIT for the Unleashed and the
# Unmatched), fetched with a private apt state and cached (images/sdcard/README.md).
sifive-firmware: deps
	$(PYTHON) images/sdcard/firmware.py

# SD card images for the HiFive Unleashed (QEMU's sifive_u) and Unmatched: Debian's SPL and FIT,
# the tiny Linux and Debian's device tree on an ext4 boot partition (images/sdcard/README.md).
sdcard: linux-image linux-distro sifive-firmware
	$(PYTHON) images/sdcard/build.py --board unleashed
	$(PYTHON) images/sdcard/build.py --board unmatched

# What CI checks besides the tests: lint, formatting, and strict typing of the library.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict harness

bench-venv: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_VENV)/bin/pip install -q -e '.[bench]'
	# As in .venv: labgrid's pyserial fork is written last, so labgrid runs against its own serial.
	$(BENCH_VENV)/bin/pip install -q --no-deps --force-reinstall pyserial-labgrid
	touch $@

# Every benchmark, then the peers; the figures go to benchmarks/results/<date>.json and the
# README's benchmark section is regenerated from the newest results file, also when a benchmark
# failed (its figures and error are kept); make fails after.
bench: deps venv bench-venv
	$(BIN)/python benchmarks/run_all.py --peers-python $(BENCH_VENV)/bin/python; status=$$?; \
	$(BIN)/python benchmarks/readme_table.py && exit $$status

clean:
	rm -rf $(VENV) $(BENCH_VENV) runs build *.egg-info
