# slurm-kafka-stream: top-level build.
#
#   make                 build the plugin and the tools into build/
#   make test            unit + integration + end-to-end tests (brings the local cluster up and down)
#   make asan            the same build with ASan + UBSan, into build/asan/ (make test SANITIZE=1 tests it)
#   make deps            install everything the build, tests, benchmarks and demo need (idempotent)
#   make cluster-up / cluster-down   the local Slurm + Kafka harness (tests/cluster/)
#   make install PREFIX=/usr DESTDIR=...
#   make deb             Debian packages (debian/) into build/deb/, checked by lintian
#   make format          .clang-format applied to every C++ file (clang-format-16)
#
# Sources are discovered per component folder; one binary per tool, its entry point in main.cpp.

SHELL      := /bin/bash
CXX        ?= g++
PREFIX     ?= /usr/local
DESTDIR    ?=
SANITIZE   ?= 0

ifeq ($(SANITIZE),1)
BUILD      ?= build/asan
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT        := -O1 -g
else
BUILD      ?= build
SANFLAGS   :=
OPT        := -O2 -g
endif

# Slurm's plugin directory: where Debian's slurmd looks (override for other distributions).
SLURM_PLUGIN_DIR ?= $(shell d=/usr/lib/$$(gcc -print-multiarch 2>/dev/null)/slurm-wlm; [ -d $$d ] && echo $$d || echo $(PREFIX)/lib/slurm)
SLURM_INCLUDE    ?= /usr/include

# Flags from the environment (dpkg-buildflags when debian/rules builds) apply to the plugin too.
ENV_CXXFLAGS := $(CXXFLAGS)
ENV_LDFLAGS  := $(LDFLAGS)

WARN       := -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wformat=2
HARDEN     := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
CPPFLAGS   += -Icommon -MMD -MP -D_GNU_SOURCE
# Where the plugin finds kafka-stream-push when plugstack.conf gives no helper=: where `make install` puts it.
CPPFLAGS   += -DKS_DEFAULT_HELPER='"$(PREFIX)/bin/kafka-stream-push"'
CXXFLAGS   += -std=c++2b $(OPT) $(WARN) $(HARDEN) -fPIC $(SANFLAGS)
LDHARDEN   := -Wl,-z,relro,-z,now,-z,noexecstack
LDFLAGS    += $(LDHARDEN) $(SANFLAGS)
PIE        := -pie
KAFKA_LIBS := -lrdkafka -lcrypto -lpthread

COMMON_SRC := $(wildcard common/*.cpp)
HELPER_SRC := $(filter-out helper/main.cpp,$(wildcard helper/*.cpp))
SINK_SRC   := $(filter-out sink/main.cpp,$(wildcard sink/*.cpp))
# The plugin: spank_entry.cpp holds the SPANK callbacks; everything else is pure and unit-tested.
PLUGIN_SRC := $(filter-out spank_plugin/spank_entry.cpp,$(wildcard spank_plugin/*.cpp))
UNIT_SRC   := $(wildcard tests/unit/*.cpp)

obj = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(1))
# The plugin is loaded into slurmd/slurmstepd, which are not sanitized: always build it plain.
pobj = $(patsubst %.cpp,$(BUILD)/pobj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC))
HELPER_OBJ := $(call obj,$(HELPER_SRC))
SINK_OBJ   := $(call obj,$(SINK_SRC))
PLUGIN_OBJ := $(call pobj,$(PLUGIN_SRC) spank_plugin/spank_entry.cpp)
PLUGIN_PURE_OBJ := $(call obj,$(PLUGIN_SRC))
UNIT_OBJ   := $(call obj,$(UNIT_SRC))

PLUGIN     := $(BUILD)/lib/kafka_stream.so
PUSH       := $(BUILD)/bin/kafka-stream-push
SINK       := $(BUILD)/bin/kafka-stream-sink
UNIT       := $(BUILD)/bin/unit-tests
TOOLS      := $(patsubst tests/tools/%.cpp,$(BUILD)/bin/%,$(wildcard tests/tools/*.cpp))
LIBCOMMON  := $(BUILD)/lib/libkscommon.a

.PHONY: all asan test test-unit test-long deps cluster-up cluster-down demo bench install deb clean check-plugin-symbols format
all: $(PLUGIN) $(PUSH) $(SINK) $(UNIT) $(TOOLS)

asan:
	$(MAKE) SANITIZE=1 all

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/pobj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) -I$(SLURM_INCLUDE) $(ENV_CXXFLAGS) -std=c++2b -O2 -g $(WARN) $(HARDEN) -fPIC -fvisibility=hidden -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The plugin links no Kafka library: it only execs the helper. The version script exports plugin_* and slurm_spank_*.
$(PLUGIN): $(PLUGIN_OBJ) spank_plugin/kafka_stream.map
	@mkdir -p $(@D)
	$(CXX) -shared -fPIC $(ENV_LDFLAGS) $(LDHARDEN) -Wl,--version-script=spank_plugin/kafka_stream.map -static-libstdc++ -static-libgcc \
	    -o $@ $(PLUGIN_OBJ)

$(BUILD)/bin/kafka-stream-push: $(call obj,helper/main.cpp) $(HELPER_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CXX) $(PIE) $(LDFLAGS) -o $@ $^ $(KAFKA_LIBS)

$(BUILD)/bin/kafka-stream-sink: $(call obj,sink/main.cpp) $(SINK_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CXX) $(PIE) $(LDFLAGS) -o $@ $^ $(KAFKA_LIBS)

# Small test programs (fault injection with the librdkafka mock cluster, hostile producers, ...).
$(BUILD)/bin/%: $(BUILD)/obj/tests/tools/%.o $(HELPER_OBJ) $(SINK_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CXX) $(PIE) $(LDFLAGS) -o $@ $^ $(KAFKA_LIBS)

$(BUILD)/bin/unit-tests: $(UNIT_OBJ) $(HELPER_OBJ) $(SINK_OBJ) $(PLUGIN_PURE_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CXX) $(PIE) $(LDFLAGS) -o $@ $^ -lgmock -lgtest_main -lgtest $(KAFKA_LIBS)

# ---- tests -------------------------------------------------------------------------------------------------------
# tests/run prints, as its very last line, "N passed, N failed[, N skipped]".
test: all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run all

test-unit: all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run unit

test-long: all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) TEST_LONG=1 tests/run all

# The project's C++ style (.clang-format), applied in place to every tracked C++ file.
CLANG_FORMAT ?= clang-format-16
format:
	git ls-files '*.cpp' '*.hpp' | xargs $(CLANG_FORMAT) -i

check-plugin-symbols: $(PLUGIN)
	tests/e2e/plugin_symbols.sh $(PLUGIN)

# ---- environment -------------------------------------------------------------------------------------------------
deps:
	scripts/deps.sh

cluster-up: all
	tests/cluster/cluster up

cluster-down:
	tests/cluster/cluster down

demo:
	scripts/demo.sh

bench: all
	bench/run

# ---- install -----------------------------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/doc/slurm-kafka-stream/examples
	install -m 0755 $(PUSH) $(SINK) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(SLURM_PLUGIN_DIR) && install -m 0755 $(PLUGIN) $(DESTDIR)$(SLURM_PLUGIN_DIR)/
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 etc/* $(DESTDIR)$(PREFIX)/share/doc/slurm-kafka-stream/examples/

# Binary packages built with debhelper in a copy of the tree (debhelper's clean step would remove build/), checked by
# lintian; see scripts/deb.sh.
deb:
	scripts/deb.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (libFuzzer, tests/fuzz/*.cpp; run by tests/reliability/fuzz.sh) ------------------------------------------
# clang 16 implements what libstdc++ 12's <expected> needs but announces __cpp_concepts 201907L, which hides it:
# announce 202002L. Each target links all of common/, helper/ and sink/ (built into $(FUZZ_DIR)/obj).
FUZZ_CXX   ?= $(firstword $(shell command -v clang++-16 clang++ 2>/dev/null))
FUZZ_DIR   := build/fuzz
FUZZ_FLAGS := -std=c++2b -O1 -g -Icommon -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-builtin-macro-redefined \
              -U__cpp_concepts -D__cpp_concepts=202002L -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(COMMON_SRC) $(HELPER_SRC) $(SINK_SRC))
FUZZ_BIN   := $(patsubst tests/fuzz/%.cpp,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/*.cpp))
.PHONY: fuzz
fuzz:
	@[ -n "$(FUZZ_CXX)" ] || { echo "make fuzz: no clang++ (make deps installs clang-16)"; exit 1; }
	$(MAKE) $(FUZZ_BIN)
$(FUZZ_DIR)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(FUZZ_DIR)/%: tests/fuzz/%.cpp $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB_OBJ) $(KAFKA_LIBS) -o $@
