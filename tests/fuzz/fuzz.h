/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Every fuzz target defines this, as libFuzzer wants it. Built with clang and -fsanitize=fuzzer
 * (meson -Dfuzz=true), libFuzzer drives it; otherwise fuzz-main.c runs it over the seed corpus,
 * so that every build checks the corpus as a regression test. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
