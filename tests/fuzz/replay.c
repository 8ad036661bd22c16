/*
 * replay.c - a main() for the fuzz harnesses without libFuzzer: runs
 * LLVMFuzzerTestOneInput once over every regular file in the directories
 * (or files) named on the command line, so any compiler can replay the
 * seed corpus and every past crash as an ordinary test.
 *
 *   fuzz_csv_replay tests/fuzz/corpus/csv [more dirs or files]
 *
 * Exits 0 when every input ran (a failing property aborts the process) and
 * 1 when an argument cannot be read or names no input at all.
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#define INPUT_MAX (16u << 20)

/*
 * Reads the file at path into a heap buffer of exactly its size (so ASan
 * sees any read past the input); NULL on error.
 */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	struct stat sb;

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &sb) == 0 && sb.st_size <= INPUT_MAX) {
		*len = (size_t)sb.st_size;
		buf = malloc(*len ? *len : 1);
		if (buf != NULL && fread(buf, 1, *len, f) != *len) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static bool run_file(const char *path)
{
	size_t len = 0;
	uint8_t *buf = slurp(path, &len);

	if (buf == NULL) {
		fprintf(stderr, "%s: cannot read\n", path);
		return false;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; *count gets how many. */
static bool run_dir(const char *dir, size_t *count)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	bool ok = true;
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(dir);

	if (d == NULL) {
		fprintf(stderr, "%s: cannot open: %s\n", dir, strerror(errno));
		return false;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		names[n] = strdup(de->d_name);
		if (names[n++] == NULL)
			abort();
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			ok = run_file(path) && ok;
			++*count;
		}
		free(names[i]);
	}
	free(names);
	return ok;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	bool ok = true;
	struct stat sb;

	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			ok = run_dir(argv[i], &count) && ok;
		} else {
			ok = run_file(argv[i]) && ok;
			count++;
		}
	}
	printf("%zu inputs replayed\n", count);
	return ok && count > 0 ? 0 : 1;
}
