/*
 * fuzz: the libFuzzer entry point every target in tests/fuzz defines. The same target source
 * builds twice: with -fsanitize=fuzzer (meson -Dfuzz=true, clang) for fuzzing, and with
 * replay.c into a normal test that runs the committed corpus (tests/fuzz/corpus/<target>/).
 */
#ifndef AEQUA_TESTS_FUZZ_H
#define AEQUA_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
