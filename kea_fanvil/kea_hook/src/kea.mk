# KEA_CPPFLAGS and KEA_LIBS for the installed Kea, shared by the hook's Makefile and the C++
# unit tests' (tests/cpp/Makefile). Set KEA_INCLUDE first.
# Kea 3.0 (meson) ships kea.pc and renamed libkea-dhcp++ to libkea-dhcp; Kea 2.x has no .pc
# file. pkg-config's answer wins where it resolves; forky's kea.pc requires openssl, log4cplus,
# mariadb and libpq .pc files that kea-dev does not pull in, so without those the libraries the
# hook uses are named here, with the dhcp library's name taken from what is installed.
KEA_PC := $(shell pkg-config --exists kea 2>/dev/null && echo yes)
ifeq ($(KEA_PC),yes)
KEA_CPPFLAGS := $(shell pkg-config --cflags kea)
KEA_LIBS := $(shell pkg-config --libs kea)
else
KEA_CPPFLAGS := -I$(KEA_INCLUDE)
KEA_DHCP_LIB := $(if $(filter /%,$(shell $(CXX) -print-file-name=libkea-dhcp.so)),-lkea-dhcp,-lkea-dhcp++)
KEA_LIBS := $(KEA_DHCP_LIB) -lkea-hooks -lkea-process -lkea-stats -lkea-cc -lkea-log \
	-lkea-asiolink -lkea-util -lkea-exceptions
endif
