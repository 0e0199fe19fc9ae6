# SPDX-License-Identifier: GPL-2.0-only
#
# Install scx_gamer as a systemd service; docs/install.md has the details.
#
#   make                               build (as your user)
#   sudo make install NO_BUILD=1       install what `make` built
#   make install                       build and install, where root has cargo
#   sudo make uninstall                remove exactly what install added
#
# PREFIX (default /usr/local), DESTDIR and UNITDIR (default
# $(PREFIX)/lib/systemd/system) choose where files go. scripts/install.sh
# does the work, so it can also be run without make.

PREFIX ?= /usr/local
DESTDIR ?=
UNITDIR ?= $(PREFIX)/lib/systemd/system
NO_BUILD ?= 0
export PREFIX DESTDIR UNITDIR NO_BUILD

.PHONY: all build install uninstall

all: build

build:
	scripts/install.sh build

install:
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall
