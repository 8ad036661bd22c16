/*
 * fuzz.h - what the libFuzzer harnesses share: the entry point they define
 * and a check that stops the run with a message when a property fails.
 *
 * A harness is built twice: with -fsanitize=fuzzer (clang), where libFuzzer
 * supplies main(), and with replay.c, a main() that feeds it every file of
 * the corpus directories it is given (the unit tests run it over the seeds).
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer records) when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                    \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

#endif
